"""Mass diversion: N /24s (the first N of 10.0.0.0/8) until the transit's BGP RIB
holds them all, scrubctl against a raw ExaBGP fed the same commands.

scrubctl: ``scrubctl site run site`` runs in the site node with its session
Established (and recorded, so the planner sees the site as eligible); the clock
starts when ``orchestrator.service.diversions.start`` (a DivertRequest listing
the N prefixes) has returned, i.e. the diversion is committed, and stops when
the transit's ``show bgp summary json`` says ``pfxRcd == N`` for the site's
session. The service call itself is shown separately.

Raw ExaBGP: the same ExaBGP environment (``render_env``: reactor speed 0.1 etc.)
and neighbor settings, in the same node, towards the same FRR on its second
session; its API process (bench/raw_api.py) sends the very commands the agent
would send (``announce_commands``: batches of 500 NLRI with one set of
attributes), each after the previous one's ``done``. The clock starts when the
benchmark releases it, sessions Established.

Each measurement gets a fresh session (a new ExaBGP) and starts with the
transit's RIB and FIB empty; the two sides run one after the other, never at
the same time, in alternating order. pfxRcd is read through bgpd's vty socket
every 5 ms (~0.1 ms a query), not by spawning vtysh.
"""

from __future__ import annotations

import ipaddress
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchlab import (
    AGENT_ADDRESS,
    INVENTORY,
    RAW_ADDRESS,
    RAW_TRANSIT_ADDRESS,
    SITE,
    TRANSIT,
    BenchError,
    FibWatch,
    RawExaBgp,
    Transit,
    bench_site,
    session_recorded,
    table,
    wait_until,
)
from sqlalchemy import func, select

from orchestrator.domain import Diversion, Intent, Observed
from orchestrator.drivers.exabgp.api import announce_commands
from orchestrator.inventory import load_inventory
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.shell import namespace_pids
from orchestrator.lab.sites import LabSites, cmdline
from orchestrator.planner import plan
from orchestrator.service import diversions
from orchestrator.store.db import Database
from orchestrator.store.models import AnnouncedRow

CUSTOMER = "mass"
MAX_SIZE = 65536  # /24s in 10.0.0.0/8
POLL = 0.005
TIMEOUT = 600.0
Log = Callable[[str], None]


def prefixes(count: int) -> list[str]:
    return [f"10.{i >> 8}.{i & 255}.0/24" for i in range(count)]


def raw_commands(count: int) -> list[str]:
    """What the agent sends for this diversion, addressed to the raw session: the
    planner's routes for the site, through the agent's own command builder."""
    inv = load_inventory(INVENTORY)
    nets = tuple(ipaddress.ip_network(p) for p in prefixes(count))
    intent = Intent(diversions=(Diversion(id=1, customer=CUSTOMER, prefixes=nets),))
    observed = Observed(sessions={(SITE, "transit"): True})
    routes = [p.route for p in plan(inv, intent, observed, datetime.now(UTC)).routes[SITE]]
    if len(routes) != count:
        raise BenchError(f"the planner made {len(routes)} routes for {count} prefixes")
    peer = ipaddress.ip_address(RAW_TRANSIT_ADDRESS)
    return [line for line, _chunk in announce_commands(peer, routes).commands]


# --- CPU accounting -------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _role(pid: int) -> str | None:
    line = cmdline(pid)
    if "orchestrator.site.agent" in line:
        return "agent"
    if "raw_api.py" in line:
        return "raw-api"
    if "exabgp" in line and " server " in line:
        return "exabgp"
    for daemon in ("bgpd", "zebra"):
        if f"/{daemon} " in line:
            return daemon
    return None


def cpu_by_role(lab: LabHandle) -> dict[int, tuple[str, float]]:
    out = {}
    for node in (SITE, TRANSIT):
        for pid in namespace_pids(lab.ns(node)):
            role = _role(pid)
            if role is not None:
                out[pid] = (role, _cpu(pid))
    return out


def cpu_used(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    used: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        used[role] = used.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return used


# --- one measurement ------------------------------------------------------------


@dataclass
class Measurement:
    side: str  # scrubctl | raw
    size: int
    to_rib: float  # committed / released -> RIB holds N
    first: float  # committed / released -> first prefix in the RIB
    call: float = 0.0  # scrubctl: diversions.start() itself
    api_done: float = 0.0  # raw: last ack; scrubctl: all routes recorded in the DB
    withdraw: float = 0.0  # scrubctl: divert stop -> RIB empty
    cpu: dict[str, float] = field(default_factory=dict)


def _fill(transit: Transit, address: str, size: int, started: float) -> tuple[float, float]:
    """Poll pfxRcd until it reaches ``size``; (first prefix seen, all there) times."""
    first = 0.0
    deadline = started + TIMEOUT
    while True:
        count = transit.received(address)
        now = time.monotonic()
        if count and not first:
            first = now
        if count >= size:
            return first, now
        if now > deadline:
            raise BenchError(f"{address}: {count} of {size} prefixes after {TIMEOUT:.0f} s")
        time.sleep(POLL)


def quiesce(transit: Transit, fib: FibWatch) -> None:
    """The transit has no bench route in its RIB or FIB, and the machine a breath."""
    wait_until(lambda: transit.rib_count() == 0, "the transit's RIB to empty", 120, 0.05)
    wait_until(
        lambda: not any(p.startswith("10.") for p in fib.table()),
        "the transit's FIB to empty",
        120,
        0.2,
    )
    time.sleep(1.0)


def scrubctl_once(
    lab: LabHandle, transit: Transit, fib: FibWatch, db: Database, sites: LabSites, size: int
) -> Measurement:
    sites.start(SITE)
    try:
        wait_until(lambda: transit.established(AGENT_ADDRESS), "the site's session", 60, 0.05)
        wait_until(lambda: session_recorded(db), "the agent to record its session", 30, 0.05)
        quiesce(transit, fib)
        request = diversions.DivertRequest(
            CUSTOMER, "bench: mass diversion", prefixes=tuple(prefixes(size))
        )
        before = cpu_by_role(lab)
        called = time.monotonic()
        diversions.start(db, request, actor="bench", now=datetime.now(UTC))
        committed = time.monotonic()
        first, full = _fill(transit, AGENT_ADDRESS, size, committed)
        recorded = wait_until(lambda: _recorded(db) >= size, "the agent's DB writes", 120, 0.01)
        after = cpu_by_role(lab)
        stopping = time.monotonic()
        diversions.stop(
            db,
            CUSTOMER,
            diversion_id=None,
            reason="bench: over",
            actor="bench",
            now=datetime.now(UTC),
        )
        empty = wait_until(lambda: transit.received(AGENT_ADDRESS) == 0, "withdrawal", 300)
    finally:
        sites.stop(SITE)
    wait_until(lambda: not transit.established(AGENT_ADDRESS), "the session to close", 30, 0.05)
    return Measurement(
        "scrubctl",
        size,
        full - committed,
        first - committed,
        call=committed - called,
        api_done=recorded - committed,
        withdraw=empty - stopping,
        cpu=cpu_used(before, after),
    )


def _recorded(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(AnnouncedRow)) or 0)


def raw_once(
    lab: LabHandle, transit: Transit, fib: FibWatch, workdir: Path, size: int, commands: list[str]
) -> Measurement:
    raw = RawExaBgp(lab, workdir / f"raw-{size}", commands)
    raw.start()
    try:
        wait_until(lambda: transit.established(RAW_ADDRESS), "the raw session", 60, 0.05)
        quiesce(transit, fib)
        before = cpu_by_role(lab)
        released = raw.go()
        first, full = _fill(transit, RAW_ADDRESS, size, released)
        timings = raw.timings()
        after = cpu_by_role(lab)
        if timings["errors"]:
            raise BenchError(f"raw ExaBGP refused {timings['errors']} command(s)")
    finally:
        raw.stop()
    wait_until(lambda: not transit.established(RAW_ADDRESS), "the raw session to close", 30, 0.05)
    return Measurement(
        "raw",
        size,
        full - released,
        first - released,
        api_done=float(timings["last_ack"]) - released,
        cpu=cpu_used(before, after),
    )


# --- the benchmark --------------------------------------------------------------


def run(lab: LabHandle, sizes: list[int], repeats: int, log: Log = print) -> str:
    results: list[Measurement] = []
    with bench_site(lab, "mass", "module", log) as bench:
        for size in sizes:
            commands = raw_commands(size)
            log(
                f"mass diversion: {size} prefixes ({len(commands)} commands), "
                f"{repeats} measurement(s) per side"
            )
            for rep in range(repeats):
                order = ("scrubctl", "raw") if rep % 2 == 0 else ("raw", "scrubctl")
                for side in order:
                    if side == "scrubctl":
                        m = scrubctl_once(
                            lab, bench.transit, bench.fib, bench.db, bench.sites, size
                        )
                    else:
                        m = raw_once(lab, bench.transit, bench.fib, bench.workdir, size, commands)
                    results.append(m)
                    log(
                        f"  {side:8s} {size:6d}: {m.to_rib:7.3f} s to the RIB "
                        f"(first prefix {m.first * 1000:.0f} ms; "
                        f"CPU {_cpu_text(m.cpu)})"
                    )
    return report(results, sizes, repeats)


def _cpu_text(cpu: dict[str, float]) -> str:
    order = ("agent", "raw-api", "exabgp", "bgpd", "zebra")
    return ", ".join(f"{k} {cpu[k]:.2f}" for k in order if k in cpu)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: list[Measurement], sizes: list[int], repeats: int) -> str:
    rows = []
    ratios = {}
    for size in sizes:
        ours = [m for m in results if m.size == size and m.side == "scrubctl"]
        raw = [m for m in results if m.size == size and m.side == "raw"]
        o, r = _median([m.to_rib for m in ours]), _median([m.to_rib for m in raw])
        ratios[size] = o / r
        rows.append(
            (
                f"{size:,}",
                f"{o:.3f}",
                f"{r:.3f}",
                f"{o / r:.2f}x",
                f"{_median([m.call + m.to_rib for m in ours]):.3f}",
                f"{_median([m.first for m in ours]) * 1000:.0f} / "
                f"{_median([m.first for m in raw]) * 1000:.0f}",
                f"{_median([m.api_done for m in ours]):.3f}",
                f"{_median([m.withdraw for m in ours]):.3f}",
            )
        )
    cpu_rows = []
    for size in sizes:
        for side in ("scrubctl", "raw"):
            picked = [m for m in results if m.size == size and m.side == side]
            roles = sorted({k for m in picked for k in m.cpu})
            cells = {k: _median([m.cpu.get(k, 0.0) for m in picked]) for k in roles}
            cpu_rows.append((f"{size:,}", side, _cpu_text(cells)))
    lines = [
        f"Mass diversion, median of {repeats} measurement(s) per side (seconds)",
        table(
            (
                "prefixes",
                "scrubctl",
                "raw ExaBGP",
                "ratio",
                "scrubctl incl. call",
                "first prefix ms (ours/raw)",
                "scrubctl DB done",
                "scrubctl withdraw",
            ),
            rows,
        ),
        "  scrubctl: diversion committed -> transit pfxRcd == N; raw: released -> pfxRcd == N",
        "  incl. call: + diversions.start() (validation, worst-case plan, commit)",
        "  DB done: committed -> all N routes recorded in announced_routes",
        "",
        "CPU seconds during the measurement (median): site agent or raw API script, ExaBGP, FRR",
        table(("prefixes", "side", "CPU s"), cpu_rows),
        "",
        "all measurements (s to the RIB): "
        + "; ".join(f"{m.side} {m.size}: {m.to_rib:.3f}" for m in results),
    ]
    if 10000 in ratios:
        verdict = "met" if ratios[10000] <= 1.2 else "NOT met"
        lines.append(
            f"target: scrubctl within 1.2x of raw ExaBGP at 10,000: {verdict} "
            f"({ratios[10000]:.2f}x)"
        )
    return "\n".join(lines)
