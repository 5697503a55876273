"""The same code on PostgreSQL: schema, intent changes, plan, events.

A private PostgreSQL cluster is created in a temporary directory (unix socket
only, no TCP) and removed afterwards. Needs Debian's postgresql package, which
scripts/bootstrap.sh installs.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from orchestrator.errors import DatabaseBusy
from orchestrator.inventory import load_inventory
from orchestrator.planner import plan
from orchestrator.service import diversions, rtbh
from orchestrator.service import inventory as inventory_service
from orchestrator.service.common import parse_duration
from orchestrator.service.snapshot import assume_all_up, load_intent
from orchestrator.service.snapshot import load_inventory as stored
from orchestrator.store.db import Database

ROOT = Path(__file__).resolve().parents[2]
BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not BINDIRS:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    bindir = Path(BINDIRS[-1])
    base = Path(tempfile.mkdtemp(prefix="scrubctl-pg-"))  # pytest's tmp is root-only
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    run = lambda args: subprocess.run(  # noqa: E731
        _as_postgres(args), check=True, capture_output=True, timeout=60, cwd=base
    )
    run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"])
    options = f"-k {sock} -c listen_addresses='' -c fsync=off"
    run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start", "-l",
         str(base / "log")])  # fmt: skip
    try:
        run([str(bindir / "createdb"), "-h", str(sock), "-U", "postgres", "scrubctl"])
        yield f"postgresql+psycopg://postgres@/scrubctl?host={sock}"
    finally:
        run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def test_full_intent_cycle_on_postgresql(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    db.ensure_schema()  # idempotent: already at head
    now = datetime.now(UTC)
    inv = load_inventory(ROOT / "examples" / "inventory.yml")
    changes = inventory_service.apply(db, inv, actor="t", now=now, dry_run=False, source="x")
    assert len(changes) == 5
    started = diversions.start(
        db, diversions.DivertRequest("acme", "attack", targets=("203.0.113.7",)), actor="t", now=now
    )
    assert started.created
    rtbh.add(db, "203.0.113.9", reason="flood", expires=parse_duration("1h", "x"), forced=True,
             actor="t", now=now)  # fmt: skip
    with db.read() as session:
        inventory = stored(session)
        intent = load_intent(session, now)
        count = session.execute(text("SELECT count(*) FROM events")).scalar_one()
    result = plan(inventory, intent, assume_all_up(inventory), now)
    prefixes = {str(p.route.prefix) for p in result.routes["fra"]}
    assert prefixes == {"198.51.100.0/24", "203.0.113.0/24", "2001:db8:100::/48", "203.0.113.9/32"}
    assert count == 3
    assert db.generation() == 3
    diversions.stop(db, "acme", diversion_id=None, reason="over", actor="t", now=now)
    assert diversions.list_(db, include_stopped=False) == []
    db.dispose()


def test_a_held_lock_gives_database_busy_on_postgresql(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBCTL_BUSY_TIMEOUT", "0.5")
    holder = Database(pg_url)
    holder.ensure_schema()
    db = Database(pg_url)
    with holder.engine.connect() as conn:
        conn.execute(text("UPDATE meta SET generation = generation WHERE id = 1"))
        before = holder.generation()
        busy = pytest.raises(DatabaseBusy, match=r"database is busy .* gave up after 0.5 s")
        with busy, db.write():
            pass
        conn.rollback()
    assert holder.generation() == before
    db.dispose()
    holder.dispose()
