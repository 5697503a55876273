"""Time to divert: ``scrubctl divert start ttd --reason ...`` launched as a fresh CLI
process until 198.18.0.0/24 is in the transit's kernel FIB.

Per run: launch the CLI (its start-up counts), watch the transit's netlink route
events and the CLI's pidfd in one ``select`` loop, record when the CLI exits and
when the kernel installs the route. Then ``divert stop`` (service layer, not timed
into the figure) and wait until the route is gone again before the next run.

Breakdown (wall clock, from the database's own timestamps):
  launch -> request   CLI start-up until the command takes ``now`` (imports, typer)
  launch -> commit    ... until its transaction committed (only with ``probe``:
                      the CLI run through ``bench/commit_probe.py``)
  request -> ack      commit, the agent waking (20 ms poll), plan, ExaBGP's ack,
                      the agent's DB writes (first_acked_at is written after them)
  ack -> FIB          ExaBGP to the wire, FRR's queues, zebra into the kernel
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchlab import (
    AGENT_ADDRESS,
    SITE,
    BenchError,
    BenchSite,
    FibWatch,
    Stats,
    as_utc,
    bench_site,
    ms,
    scrubctl_argv,
    session_recorded,
    table,
    wait_until,
)
from sqlalchemy import select

from orchestrator.lab.handle import LabHandle
from orchestrator.service import diversions
from orchestrator.store.db import Database
from orchestrator.store.models import DiversionAckRow, DiversionRow

PREFIX = "198.18.0.0/24"
CUSTOMER = "ttd"


@dataclass(frozen=True)
class Run:
    total: float  # launch -> FIB
    cli: float  # launch -> CLI exited
    to_request: float  # launch -> requested_at
    to_commit: float  # launch -> its commit (nan unless measured with the probe)
    answered: float  # launch -> the CLI's first output (with --api: the service's answer)
    to_ack: float  # requested_at -> first_acked_at
    ack_to_fib: float  # first_acked_at -> FIB
    stop_to_gone: float  # divert stop (service) -> route out of the FIB

    @property
    def exit_to_fib(self) -> float:
        return self.total - self.cli


def _latest(db: Database) -> tuple[datetime, datetime | None]:
    with db.read() as session:
        row = session.scalars(select(DiversionRow).order_by(DiversionRow.id.desc())).first()
        if row is None:
            raise BenchError("the CLI recorded no diversion")
        ack = session.scalars(
            select(DiversionAckRow).where(DiversionAckRow.diversion_id == row.id)
        ).first()
        return as_utc(row.requested_at), as_utc(ack.first_acked_at) if ack else None


def last_commit(times: Path) -> float:
    """The wall-clock time of the last commit ``bench/commit_probe.py`` recorded."""
    lines = times.read_text().split() if times.exists() else []
    if not lines:
        raise BenchError("the CLI committed nothing")
    return float(lines[-1])


def one_run(
    db: Database,
    fib: FibWatch,
    cli: str,
    probe: Path | None = None,
    api: tuple[str, str] | None = None,
) -> Run:
    """One ``divert start``; with ``probe`` (a file for the commit times) the CLI runs
    through ``bench/commit_probe.py`` so launch -> commit is measured too; with ``api``
    (URL, token) it sends the request to that ``scrubctl serve`` (``--api``), whose
    answer comes after its commit: launch -> answer bounds launch -> commit."""
    args = ["divert", "start", CUSTOMER, "--reason", "bench: time to divert",
            *(["--api", api[0]] if api else ["--db", db.url])]  # fmt: skip
    env = {**os.environ, "SCRUBCTL_TOKEN": api[1]} if api else None
    argv = scrubctl_argv(cli, *args)
    if probe is not None:
        probe.unlink(missing_ok=True)
        argv = [sys.executable, str(Path(__file__).with_name("commit_probe.py")), str(probe),
                *args]  # fmt: skip
    fib.drain()
    seen: dict[str, float] = {}
    launch_wall = time.time()
    launched = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    pidfd = os.pidfd_open(process.pid)
    try:
        in_fib = fib.wait(
            PREFIX,
            True,
            timeout=30,
            also=[pidfd, process.stdout],
            on_ready=lambda fd: seen.setdefault("exited" if fd == pidfd else "output",
                                                time.monotonic()),
        )  # fmt: skip
    finally:
        os.close(pidfd)
    _out, err = process.communicate(timeout=30)
    exited = seen.get("exited", time.monotonic())
    if process.returncode != 0:
        raise BenchError(f"divert start failed ({process.returncode}): {err.decode().strip()}")
    requested, acked = _latest(db)
    commit = last_commit(probe) if probe is not None else float("nan")
    fib_wall = launch_wall + (in_fib - launched)
    ack_wall = acked.timestamp() if acked else float("nan")
    stop_at = time.monotonic()
    diversions.stop(
        db,
        CUSTOMER,
        diversion_id=None,
        reason="bench: run over",
        actor="bench",
        now=datetime.now(UTC),
    )
    gone = fib.wait(PREFIX, False, timeout=30)
    return Run(
        total=in_fib - launched,
        cli=exited - launched,
        answered=seen.get("output", exited) - launched,
        to_request=requested.timestamp() - launch_wall,
        to_commit=commit - launch_wall,
        to_ack=ack_wall - requested.timestamp(),
        ack_to_fib=fib_wall - ack_wall,
        stop_to_gone=gone - stop_at,
    )


def cli_startup(cli: str, runs: int = 5) -> Stats:
    """``scrubctl divert --help`` wall time: the CLI's start-up alone, for reference."""
    values = []
    for _ in range(runs):
        began = time.monotonic()
        subprocess.run(
            scrubctl_argv(cli, "divert", "--help"), stdout=subprocess.DEVNULL, check=True
        )
        values.append(time.monotonic() - began)
    return Stats(tuple(values))


def start_site(bench: BenchSite) -> None:
    """The bench site running, its session up and recorded, PREFIX not in the FIB."""
    bench.sites.start(SITE)
    wait_until(lambda: bench.transit.established(AGENT_ADDRESS), "the site's session", 60, 0.05)
    wait_until(lambda: session_recorded(bench.db), "the agent to record its session", 30, 0.05)
    if PREFIX in bench.fib.table():
        raise BenchError(f"{PREFIX} is in the transit's FIB before the first run")


def run(lab: LabHandle, runs: int, cli: str, say: Callable[[str], None] = print) -> str:
    with bench_site(lab, "ttd", cli, say) as bench:
        db, fib = bench.db, bench.fib
        start_site(bench)
        say(f"time to divert: {runs} run(s), CLI = {' '.join(scrubctl_argv(cli))}")
        results = []
        for i in range(runs):
            result = one_run(db, fib, cli)
            results.append(result)
            say(f"  run {i + 1:2d}: {ms(result.total)} ms (CLI {ms(result.cli)} ms)")
            time.sleep(0.2)
        startup = cli_startup(cli)
        return report(results, startup, runs)


def report(results: list[Run], startup: Stats, runs: int) -> str:
    columns = [
        ("launch -> FIB (total)", [r.total for r in results]),
        ("  launch -> CLI exit", [r.cli for r in results]),
        ("  CLI exit -> FIB", [r.exit_to_fib for r in results]),
        ("  launch -> request (CLI start-up)", [r.to_request for r in results]),
        ("  request -> agent ack recorded", [r.to_ack for r in results]),
        ("  agent ack recorded -> FIB", [r.ack_to_fib for r in results]),
        ("divert stop (service) -> out of FIB", [r.stop_to_gone for r in results]),
        ("CLI alone (`divert --help`, 5 runs)", list(startup.values)),
    ]
    rows = []
    for name, values in columns:
        s = Stats(tuple(values))
        rows.append((name, ms(s.median), ms(s.min), ms(s.max)))
    totals = Stats(tuple(r.total for r in results))
    verdict = "met" if totals.median < 0.5 else "NOT met"
    return "\n".join(
        [
            f"Time to divert, {runs} runs (ms)",
            table(("figure", "median", "min", "max"), rows),
            f"target: median under 500 ms including CLI start-up: {verdict} "
            f"(median {ms(totals.median)} ms, max {ms(totals.max)} ms)",
        ]
    )
