"""Where the site agent's time goes for a mass diversion, without a lab.

    .venv/bin/python bench/profile_agent.py [--sizes 10000,50000] [--cprofile]

A temporary SQLite database gets bench/inventory.yml, the site's session
recorded as up and a diversion of N /24s (the service layer, as in the mass
benchmark); then ``Agent.sync()`` runs against the in-memory fake ExaBGP
(instant acks), phase by phase with the agent's own methods, so the figures are
the agent's CPU cost alone: what the real ExaBGP has to wait for before the
first command (read + plan + diff), and what runs after the last ack (DB
writes). ``--cprofile`` adds the top functions of one whole ``sync()``.
"""

from __future__ import annotations

import argparse
import cProfile
import ipaddress
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from benchlab import INVENTORY, SITE, TRANSIT_ADDRESS, table
from mass import CUSTOMER, prefixes

from orchestrator.drivers.exabgp.api import announce_commands
from orchestrator.inventory import load_inventory
from orchestrator.planner import plan
from orchestrator.service import diversions, observed
from orchestrator.service import inventory as inventory_service
from orchestrator.service.snapshot import snapshot
from orchestrator.site.agent import Agent, SyncResult
from orchestrator.store.db import Database
from orchestrator.testing.exabgp import FakeExaBgp

T = TypeVar("T")


def timed(out: list[tuple[str, float]], name: str, func: Callable[[], T]) -> T:
    began = time.perf_counter()
    value = func()
    out.append((name, time.perf_counter() - began))
    return value


def prepare(size: int, workdir: Path) -> tuple[Database, float]:
    db = Database(f"sqlite:///{workdir / f'profile-{size}.db'}")
    db.ensure_schema()
    now = datetime.now(UTC)
    inventory_service.apply(db, load_inventory(INVENTORY), actor="bench", now=now,
                            dry_run=False, source=str(INVENTORY))  # fmt: skip
    observed.record_session(db, SITE, "transit", "up", "", now)
    request = diversions.DivertRequest(CUSTOMER, "profile", prefixes=tuple(prefixes(size)))
    began = time.perf_counter()
    diversions.start(db, request, actor="bench", now=now)
    return db, time.perf_counter() - began


def phases(size: int, workdir: Path) -> list[tuple[str, float]]:
    """(phase, seconds); a negative value is a count, not a time."""
    db, call = prepare(size, workdir)
    out: list[tuple[str, float]] = [("service: diversions.start()", call)]
    agent = Agent(db, SITE, FakeExaBgp())
    agent.load_peers()
    agent.learn()
    now = datetime.now(UTC)

    def read() -> object:
        with db.read() as session:
            return snapshot(session, now)

    snap = timed(out, "agent: read snapshot", read)
    assert hasattr(snap, "inventory")
    result = timed(out, "agent: plan()", lambda: plan(snap.inventory, snap.intent,
                                                     snap.observed, now))  # fmt: skip
    wanted = timed(out, "agent: desired()", lambda: agent.desired(snap.inventory, result))
    peer = ipaddress.ip_address(TRANSIT_ADDRESS)
    routes = list(wanted[peer].values())
    commands = timed(out, "agent: announce_commands()",
                     lambda: announce_commands(peer, routes).commands)  # fmt: skip
    out.append(("  commands to send", -len(commands)))
    timed(out, "agent: record_routes() (after the last ack)",
          lambda: observed.record_routes(db, SITE, "transit", routes, [], now))  # fmt: skip
    db.dispose()
    # the whole sync, as the agent runs it (fake acks: no ExaBGP time in it)
    db, _call = prepare(size, workdir)
    agent = Agent(db, SITE, FakeExaBgp())
    agent.load_peers()
    agent.learn()
    synced: SyncResult = timed(out, "agent: whole sync() (fake ExaBGP)", agent.sync)
    assert synced.announced == size, synced
    db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/profile_agent.py")
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--cprofile", action="store_true", help="top functions of one sync()")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="scrubctl-bench-profile-"))
    try:
        rows: dict[str, list[str]] = {}
        for size in sizes:
            for name, seconds in phases(size, workdir):
                cell = f"{-seconds:.0f}" if seconds < 0 else f"{seconds * 1000:.0f}"
                rows.setdefault(name, []).append(cell)
        print(f"command: {' '.join([sys.executable, *sys.argv])}")
        print("Agent CPU per phase (ms), fake ExaBGP")
        print(table(("phase", *(f"{s:,}" for s in sizes)), [(k, *v) for k, v in rows.items()]))
        if args.cprofile:
            db, _call = prepare(sizes[-1], workdir)
            agent = Agent(db, SITE, FakeExaBgp())
            agent.load_peers()
            agent.learn()
            profiler = cProfile.Profile()
            profiler.runcall(agent.sync)
            print(f"\ncProfile of one sync() with {sizes[-1]:,} prefixes (top 25, cumulative)")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    finally:
        for path in workdir.glob("*"):
            path.unlink()
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
