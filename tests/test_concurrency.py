"""Several real scrubctl processes against one SQLite file: no lost update, no
'database is locked' traceback; a writer held too long gives exit code 5."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.store.db import Database
from orchestrator.store.models import DiversionRow, EventRow, RtbhRow

HERE = Path(__file__).parent
WORKERS = 6
SCRUBCTL = Path(sys.executable).parent / "scrubctl"


def inventory(customers: int) -> str:
    lines = [
        "policy: {asn: 64500, allow_reserved_prefixes: true}",
        "sites:",
        "  fra:",
        "    router_id: 192.0.2.1",
        "    peers: [{name: transit-a, address: 192.0.2.254, asn: 64501, rtbh: {}}]",
        "customers:",
    ]
    for i in range(customers):
        lines += [
            f"  c{i}:",
            f"    asn: {64600 + i}",
            "    rtbh_last_resort: true",
            f"    prefixes: [{{prefix: 198.18.{i}.0/24}}]",
            "    sites: [{site: fra}]",
            "    return_paths:",
            f"      fra: {{kind: dedicated, interface: eth{i}, next_hop: 192.0.2.9}}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def shared_db(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    path = tmp_path / "shared.db"
    env = {
        **os.environ,
        "SCRUBCTL_DB": str(path),
        "SCRUBCTL_ACTOR": "worker",
        "SCRUBCTL_BUSY_TIMEOUT": "30",
    }
    inv = tmp_path / "inventory.yml"
    inv.write_text(inventory(WORKERS), encoding="utf-8")
    applied = subprocess.run(
        [str(SCRUBCTL), "inventory", "apply", str(inv)], env=env, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    yield path, env


def test_parallel_writers_lose_nothing(
    shared_db: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = shared_db
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(WORKERS)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "concurrency_worker.py"), str(i), str(ready[i]), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WORKERS)
    ]
    deadline = time.monotonic() + 30
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # every worker starts writing at the same moment
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err, err
        codes = [line.split()[0] for line in out.splitlines() if line.startswith("rc=")]
        assert codes == ["rc=0"] * 4, out + err

    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            events = list(session.scalars(select(EventRow)))
            diversions = list(session.scalars(select(DiversionRow)))
            rtbh = list(session.scalars(select(RtbhRow)))
        writes = 1 + WORKERS * 4  # inventory apply + four writes per worker
        assert db.generation() == writes
        assert len(events) == writes
        owner_of_target = {f"c{i}": f"c{i}" for i in range(WORKERS)}
        for i in range(WORKERS):
            owner_of_target.update({f"198.18.{i}.7/32": f"c{i}", f"198.18.{i}.8/32": f"c{i}"})
        per_customer: dict[str, list[str]] = {f"c{i}": [] for i in range(WORKERS)}
        for event in events[1:]:
            per_customer[owner_of_target[event.target]].append(event.action)
        for actions in per_customer.values():
            assert actions == ["divert.start", "rtbh.add", "rtbh.add", "divert.stop"]
        assert sorted((d.customer, d.stopped_at is not None) for d in diversions) == [
            (f"c{i}", True) for i in range(WORKERS)
        ]
        assert sorted((r.customer, r.prefix, r.forced) for r in rtbh) == sorted(
            [(f"c{i}", f"198.18.{i}.7/32", True) for i in range(WORKERS)]
            + [(f"c{i}", f"198.18.{i}.8/32", False) for i in range(WORKERS)]
        )
    finally:
        db.dispose()


def test_writer_held_too_long_gives_exit_5(shared_db: tuple[Path, dict[str, str]]) -> None:
    path, env = shared_db
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        blocked = subprocess.run(
            [str(SCRUBCTL), "divert", "start", "c0", "-r", "flood"],
            env={**env, "SCRUBCTL_BUSY_TIMEOUT": "1"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        waited = time.monotonic() - started
        reader = subprocess.run(
            [str(SCRUBCTL), "divert", "list", "--json"], env=env, capture_output=True, text=True
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert blocked.returncode == 5
    assert blocked.stderr == (
        "error: database is busy (another scrubctl is writing); gave up after 1 s (try again)\n"
    )
    assert blocked.stdout == ""
    assert waited >= 1.0
    assert reader.returncode == 0 and reader.stdout == "[]\n"  # readers are not blocked
    db = Database(f"sqlite:///{path}")
    try:
        assert db.generation() == 1
        with db.read() as session:
            assert session.scalars(select(DiversionRow)).all() == []
    finally:
        db.dispose()
