"""The store: the migration matches the models, upgrades keep data, URL resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from db_support import dump_db
from sqlalchemy import inspect, select

from orchestrator.errors import InvalidInput, StaleState
from orchestrator.inventory import load_inventory
from orchestrator.service import inventory as inventory_service
from orchestrator.store.db import SCHEMA_HEAD, Database, busy_timeout, resolve_url
from orchestrator.store.models import Base, EventRow, Meta

INVENTORY = Path(__file__).parent / "data" / "inventory.yml"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.ensure_schema()
    return database


def test_migration_creates_exactly_the_models_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migration_has_every_table_and_the_head_version(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert dump_db(db.url)["alembic_version"] == [(SCHEMA_HEAD,)]
    assert dump_db(db.url)["meta"] == [(1, 0, None)]


def test_ensure_schema_on_an_existing_database_keeps_data(db: Database) -> None:
    inventory_service.apply(
        db, load_inventory(INVENTORY), actor="t", now=NOW, dry_run=False, source="t"
    )
    before = dump_db(db.url)
    db.dispose()
    again = Database(db.url)
    again.ensure_schema()
    assert dump_db(again.url) == before
    with again.read() as session:
        assert [e.action for e in session.scalars(select(EventRow))] == ["inventory.apply"]
        meta = session.get(Meta, 1)
        assert meta is not None and meta.generation == 1
    again.dispose()


def test_ensure_schema_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'blank.db'}"
    Database(url).ensure_schema()
    first = dump_db(url)
    Database(url).ensure_schema()  # the fast path: already at head
    assert dump_db(url) == first


def test_timestamps_come_back_in_utc(db: Database) -> None:
    with db.write() as session:
        session.add(EventRow(at=NOW, actor="t", action="x", target="y", reason="", detail={}))
    with db.read() as session:
        [event] = session.scalars(select(EventRow)).all()
    assert event.at == NOW and event.at.tzinfo is not None


def test_url_cli_value_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCRUBCTL_DB", "sqlite:////env/db.sqlite")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert resolve_url("postgresql://scrub@db/scrub") == "postgresql://scrub@db/scrub"


def test_url_env_beats_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCRUBCTL_DB", "sqlite:////env/db.sqlite")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert resolve_url(None) == "sqlite:////env/db.sqlite"


def test_url_default_is_under_xdg_state_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SCRUBCTL_DB", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert resolve_url(None) == f"sqlite:///{tmp_path}/state/scrubctl/scrubctl.db"
    assert not (tmp_path / "state").exists()  # resolving creates nothing; Database does


def test_url_default_without_xdg_is_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SCRUBCTL_DB", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_url(None) == f"sqlite:///{tmp_path}/.local/state/scrubctl/scrubctl.db"


def test_url_plain_path_is_an_absolute_sqlite_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_url("lab.db") == f"sqlite:///{tmp_path}/lab.db"
    monkeypatch.setenv("SCRUBCTL_DB", "other.db")
    assert resolve_url(None) == f"sqlite:///{tmp_path}/other.db"


def test_bad_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"^--db: cannot use database URL"):
        Database("nosuchdialect://x/y")


def test_busy_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRUBCTL_BUSY_TIMEOUT", raising=False)
    assert busy_timeout() == 5.0
    monkeypatch.setenv("SCRUBCTL_BUSY_TIMEOUT", "0.5")
    assert busy_timeout() == 0.5
    monkeypatch.setenv("SCRUBCTL_BUSY_TIMEOUT", "0")
    with pytest.raises(InvalidInput, match=r"^SCRUBCTL_BUSY_TIMEOUT: '0' is not a number"):
        busy_timeout()


def test_upgrade_from_0001_keeps_return_path_health(tmp_path: Path) -> None:
    """A database made by the first release gains the new columns and tables and keeps
    its rows (SQLite has to copy the table for that: batch mode)."""
    db = database_at(
        tmp_path,
        "0001",
        "INSERT INTO return_path_health (customer, site, health, detail, changed_at) "
        "VALUES ('acme', 'fra', 'down', 'probe lost', '2026-03-01 12:00:00')",
    )
    db.ensure_schema()
    rows = dump_db(db.url)
    assert rows["alembic_version"] == [(SCHEMA_HEAD,)]
    [row] = rows["return_path_health"]
    assert row[:4] == ("acme", "fra", "down", "probe lost")
    assert row[5:] == (None, None, None)
    assert rows["customer_moves"] == [] and rows["site_sync"] == []
    db.dispose()


def test_upgrade_from_0005_adds_an_empty_path_history_and_keeps_path_health(
    tmp_path: Path,
) -> None:
    db = database_at(
        tmp_path,
        "0005",
        "INSERT INTO return_path_health (customer, site, health, detail, changed_at, loss, "
        "rtt_ms) VALUES ('acme', 'fra', 'up', 'answered', '2026-03-01 12:00:00', 0.0, 4.0)",
    )
    assert "return_path_samples" not in inspect(db.engine).get_table_names()
    db.ensure_schema()
    rows = dump_db(db.url)
    assert rows["alembic_version"] == [("0006",)]
    assert [r[:3] for r in rows["return_path_health"]] == [("acme", "fra", "up")]
    assert rows["return_path_samples"] == []
    indexes = inspect(db.engine).get_indexes("return_path_samples")
    assert [i["column_names"] for i in indexes] == [["customer", "site", "at"]]
    db.dispose()


def test_a_pinned_write_refuses_a_moved_change_counter_and_writes_nothing(db: Database) -> None:
    pinned = db.pinned(db.generation())
    with db.write():
        pass  # another change: the counter moves
    before = dump_db(db.url)
    stale = pytest.raises(StaleState, match=r"^generation: the state changed since it was read")
    with stale, pinned.write(bump=False) as session:
        session.add(EventRow(at=NOW, actor="t", action="x", target="y", reason="", detail={}))
    assert dump_db(db.url) == before


def test_a_pinned_write_at_the_current_counter_commits_once(db: Database) -> None:
    pinned = db.pinned(db.generation())
    with pinned.write() as session:
        session.add(EventRow(at=NOW, actor="t", action="x", target="y", reason="", detail={}))
    assert db.generation() == 1
    with pytest.raises(StaleState), pinned.write():  # its own commit moved the counter
        pass


def database_at(tmp_path: Path, revision: str, *statements: str) -> Database:
    """A database migrated only up to ``revision`` (as an older scrubctl left it),
    with ``statements`` run on it."""
    from alembic import command
    from alembic.config import Config

    from orchestrator.store.db import MIGRATIONS

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.commit()
    return db
