"""The same code on PostgreSQL: schema, intent changes, plan, events, on a private
cluster (``pg_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg_support import private_cluster
from sqlalchemy import select, text

from orchestrator.domain import Health
from orchestrator.errors import DatabaseBusy, StaleState
from orchestrator.inventory import load_inventory
from orchestrator.planner import plan
from orchestrator.service import diversions, observed, rtbh
from orchestrator.service import inventory as inventory_service
from orchestrator.service.common import parse_duration
from orchestrator.service.snapshot import assume_all_up, load_intent
from orchestrator.service.snapshot import load_inventory as stored
from orchestrator.store.db import Database
from orchestrator.store.models import ReturnPathSampleRow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from private_cluster()


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


def test_path_history_is_written_and_pruned_on_postgresql(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    limits = observed.HistoryLimits(keep=timedelta(minutes=10), count=3)
    sample = observed.PathSample("acme", Health.UP, 0.05, 4.0)
    for minute in range(6):
        observed.record_path_health(db, "fra", [], start + timedelta(minutes=minute * 3),
                                    samples=[sample], limits=limits)  # fmt: skip
    with db.read() as session:
        query = select(ReturnPathSampleRow).order_by(ReturnPathSampleRow.id)
        kept = [(r.at - start, r.loss, r.rtt_ms) for r in session.scalars(query)]
    assert kept == [(timedelta(minutes=m), 0.05, 4.0) for m in (9, 12, 15)]
    db.dispose()


def test_a_pinned_write_refuses_a_moved_change_counter_on_postgresql(pg_url: str) -> None:
    db = Database(pg_url)
    db.ensure_schema()
    pinned = db.pinned(db.generation())
    with db.write():
        pass
    before = db.generation()
    stale = pytest.raises(StaleState, match=r"^generation: the state changed since it was read")
    with stale, pinned.write():
        pass
    assert db.generation() == before
    db.dispose()


def test_a_server_that_drops_the_command_midway_is_one_line_and_exit_1(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection works (schema checked), then the server ends the command's
    session (``pg_terminate_backend``, as a restart or an administrator would) before
    the command reads: one ``error:`` line naming --db, exit 1, no traceback."""
    from typer.testing import CliRunner

    from orchestrator.cli.main import app
    from orchestrator.service import status as status_service

    real_status = status_service.status

    def dropped_then_status(db: Database, **kwargs: Any) -> Any:
        with db.engine.connect() as conn:  # the command's pooled connection, checked in
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = Database(pg_url)
        with admin.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        return real_status(db, **kwargs)

    monkeypatch.setattr(status_service, "status", dropped_then_status)
    result = CliRunner().invoke(app, ["status", "--db", pg_url])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.splitlines()
    assert line.startswith("error: --db: the database failed during the command: ")
    assert "terminat" in line  # the server's own words
