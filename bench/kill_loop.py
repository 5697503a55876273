"""Recovery after repeated crashes (issue 7): SIGKILL the site's ExaBGP again and
again at random intervals and time how long until the transit holds the planned
route again.

    .venv/bin/python bench/kill_loop.py [--kills 30] [--interval 3,15] [--seed N]
                                        [--lab bench]

Builds bench/containerlab.yml (lab ``bench`` unless ``--lab``), runs
``scrubctl site run site`` with customer ttd diverted (198.18.0.0/24, planned
path 64500 64496 from 192.0.2.2), then kills the site's ExaBGP ``--kills``
times, each kill a random time (uniform in ``--interval``) after the previous
one, whether or not the site is back by then: a kill that lands while ExaBGP is
still starting is the crash loop the restart back-off has to cope with.

Per kill the clock starts at the SIGKILL and stops when the transit's BGP RIB
(``show bgp ipv4 unicast 198.18.0.0/24 json`` and ``show bgp summary json``
through bgpd's vty socket, every 50 ms) holds the planned path over a session
established after the kill (``peerUptimeMsec`` shorter than the time since the
kill: not the old session, which the transit may not yet have seen go). A kill
followed by another before the site was back counts until the site is back
after both. Prints every kill, the median and maximum, how many were back
within 10 s, and the restart delays ``site run`` chose (its events). Removes
the lab again, also on failure or Ctrl-C. Needs root and FRR, like the lab.
"""

from __future__ import annotations

import argparse
import random
import shlex
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ modules
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the orchestrator package

import benchlab
from benchlab import (
    AGENT_ADDRESS,
    SITE,
    BenchError,
    Stats,
    Transit,
    bench_site,
    session_recorded,
    wait_until,
)
from sqlalchemy import select

from orchestrator.lab.handle import LabHandle
from orchestrator.service import diversions
from orchestrator.store.models import EventRow

PREFIX = "198.18.0.0/24"
CUSTOMER = "ttd"
PLANNED_PATH = "64500 64496"
TARGET = 10.0  # seconds: every kill back within this
POLL = 0.05
RECOVERY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Kill:
    at: float  # seconds since the first kill
    gap: float  # seconds since the previous kill (0 for the first)
    while_down: bool  # the site was not back from the previous kill yet
    back_after: float  # seconds from this kill until the planned route was back


def holds_planned_route(transit: Transit, since: float) -> bool:
    """The planned path from the site, over a session younger than ``since`` seconds."""
    peer = transit.peer(AGENT_ADDRESS)
    if peer.get("state") != "Established" or peer.get("peerUptimeMsec", 1e12) / 1000 >= since:
        return False
    data: dict[str, Any] = transit.vty.json(f"show bgp ipv4 unicast {PREFIX} json")
    return any(
        p.get("aspath", {}).get("string") == PLANNED_PATH
        and p.get("nexthops", [{}])[0].get("ip") == AGENT_ADDRESS
        and p.get("valid", False)
        for p in data.get("paths", [])
    )


def kill_exabgp(sites: Any) -> bool:
    """SIGKILL the site's ExaBGP (``exabgp server``); False if none runs (back-off)."""
    return bool(sites.kill_matching(SITE, "exabgp server", signal.SIGKILL))


def kill_loop(
    sites: Any, transit: Transit, kills: int, interval: tuple[float, float], rng: random.Random,
    say: Any,
) -> list[Kill]:  # fmt: skip
    pending: list[tuple[float, float, bool]] = []  # (killed at, gap, while down)
    done: list[Kill] = []
    first: float | None = None
    last_kill: float | None = None
    next_kill = time.monotonic()
    count = 0
    while count < kills or pending:
        now = time.monotonic()
        if pending and holds_planned_route(transit, now - pending[-1][0]):
            for killed, gap, while_down in pending:
                assert first is not None
                done.append(Kill(killed - first, gap, while_down, now - killed))
                say(f"  kill {len(done):2d} at +{killed - first:6.1f} s (gap {gap:4.1f} s"
                    f"{', site still down' if while_down else ''}): "
                    f"back in {now - killed:5.2f} s")  # fmt: skip
            pending = []
        if count < kills and now >= next_kill and kill_exabgp(sites):
            first = now if first is None else first
            gap = 0.0 if last_kill is None else now - last_kill
            pending.append((now, gap, bool(pending)))
            last_kill, count = now, count + 1
            next_kill = now + rng.uniform(*interval)
        if pending and now - pending[0][0] > RECOVERY_TIMEOUT:
            raise BenchError(f"the site was not back {RECOVERY_TIMEOUT:.0f} s after a kill")
        time.sleep(POLL)
    return done


def restart_delays(db: Any, since: datetime) -> Counter[str]:
    """The delays ``site run`` chose after each death (its ``site.exabgp_died`` events)."""
    with db.read() as session:
        query = select(EventRow.reason).where(
            EventRow.action == "site.exabgp_died", EventRow.at >= since
        )
        reasons = list(session.scalars(query))
    return Counter(r.rsplit("restarting in ", 1)[-1] for r in reasons if "restarting in" in r)


def run(lab: LabHandle, kills: int, interval: tuple[float, float], seed: int,
        say: Any = print) -> str:  # fmt: skip
    with bench_site(lab, "kill", "script", say) as bench:
        db, sites, transit = bench.db, bench.sites, bench.transit
        sites.start(SITE)
        wait_until(lambda: transit.established(AGENT_ADDRESS), "the site's session", 60, 0.05)
        wait_until(lambda: session_recorded(db), "the agent to record its session", 30, 0.05)
        request = diversions.DivertRequest(CUSTOMER, "bench: kill loop")
        diversions.start(db, request, actor="bench", now=datetime.now(UTC))
        wait_until(lambda: holds_planned_route(transit, 1e9), "the planned route", 30, 0.05)
        began = datetime.now(UTC)
        say(f"kill loop: {kills} SIGKILLs of the site's ExaBGP, "
            f"{interval[0]:g}-{interval[1]:g} s apart, seed {seed}")  # fmt: skip
        results = kill_loop(sites, transit, kills, interval, random.Random(seed), say)
        return report(results, restart_delays(db, began), kills, interval, seed)


def report(
    results: list[Kill], delays: Counter[str], kills: int, interval: tuple[float, float],
    seed: int,
) -> str:  # fmt: skip
    stats = Stats(tuple(k.back_after for k in results))
    within = sum(1 for k in results if k.back_after <= TARGET)
    overlapping = sum(1 for k in results if k.while_down)
    # a kill the next one interrupted (the site not back yet) counts until after both
    alone = Stats(tuple(k.back_after for k, after in zip(results, [*results[1:], None],
                                                          strict=True)
                        if after is None or not after.while_down))  # fmt: skip
    verdict = "met" if within == len(results) else "NOT met"
    chosen = ", ".join(f"{d} x{n}" for d, n in sorted(delays.items(), key=lambda i: float(
        i[0].split()[0])))  # fmt: skip
    return "\n".join([
        f"Recovery after repeated crashes: {kills} kills, {interval[0]:g}-{interval[1]:g} s "
        f"apart (seed {seed})",
        f"kill -> planned route back at the transit: median {stats.median:.2f} s, "
        f"min {stats.min:.2f} s, max {stats.max:.2f} s",
        f"  not interrupted by the next kill ({len(alone.values)}): median "
        f"{alone.median:.2f} s, max {alone.max:.2f} s",
        f"back within {TARGET:.0f} s: {within} of {len(results)}; "
        f"kills that landed before the site was back: {overlapping}",
        f"restart delays chosen by site run: {chosen or 'none recorded'}",
        f"target: every kill back within {TARGET:.0f} s: {verdict}",
    ])  # fmt: skip


def _interval(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN,MAX in seconds") from None
    if not 0 < low <= high:
        raise argparse.ArgumentTypeError("need 0 < MIN <= MAX")
    return low, high


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/kill_loop.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=30, help="SIGKILLs of ExaBGP (default 30)")
    p.add_argument("--interval", type=_interval, default=(3.0, 15.0),
                   help="MIN,MAX seconds between kills, uniform (default 3,15)")  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--lab", default=benchlab.LAB_NAME, help="lab name (namespaces clab-LAB-*)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    command = shlex.join([sys.executable, *sys.argv] if argv is None
                         else ["bench/kill_loop.py", *argv])  # fmt: skip
    began = time.monotonic()
    print(f"command: {command}")
    print(f"machine: {benchlab.machine_note()}")
    try:
        with benchlab.bench_lab(args.lab) as lab:
            text = run(lab, args.kills, args.interval, seed)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print("=" * 72)
    print(f"command: {command}")
    print(f"machine after: {benchlab.machine_note()}; {time.monotonic() - began:.0f} s in all")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
