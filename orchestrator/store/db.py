"""Engine, sessions and schema upgrades.

Where the database is: ``--db URL`` > ``SCRUBCTL_DB`` > the per-user default
``$XDG_STATE_HOME/scrubctl/scrubctl.db`` (``~/.local/state/...``). A plain path
is taken as an SQLite file.

Writers serialise: on SQLite a write transaction starts with ``BEGIN
IMMEDIATE`` (waiting up to ``busy_timeout``), and on every backend its first
statement bumps ``meta.generation`` (a row lock on PostgreSQL). A database that
stays busy raises ``DatabaseBusy``, never a driver traceback. How long a writer
waits: ``SCRUBCTL_BUSY_TIMEOUT`` seconds, default ``BUSY_TIMEOUT_S``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from orchestrator.errors import DatabaseBusy, InvalidInput
from orchestrator.store.models import Meta, utcnow

SCHEMA_HEAD = "0001"
BUSY_TIMEOUT_S = 5.0
MIGRATIONS = Path(__file__).parent / "migrations"


def busy_timeout() -> float:
    """Seconds a writer waits for the lock: ``SCRUBCTL_BUSY_TIMEOUT`` > ``BUSY_TIMEOUT_S``."""
    text = os.environ.get("SCRUBCTL_BUSY_TIMEOUT", "").strip()
    if not text:
        return BUSY_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(
            f"{text!r} is not a number of seconds between 0 and 3600", where="SCRUBCTL_BUSY_TIMEOUT"
        )
    return value


def default_db_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "scrubctl" / "scrubctl.db"


def resolve_url(cli_value: str | None) -> str:
    value = cli_value or os.environ.get("SCRUBCTL_DB") or ""
    if not value:
        path = default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    return value


def _sqlite_setup(engine: Engine, timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("scrub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgres_setup(engine: Engine, timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"SET lock_timeout = {int(timeout * 1000)}")
        cur.close()
        dbapi_conn.commit()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.busy_timeout = busy_timeout()
        if self.is_sqlite and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = create_engine(url, future=True)
        except Exception as exc:  # unknown dialect, missing driver, malformed URL
            raise InvalidInput(f"cannot use database URL: {exc}", where="--db") from None
        if self.is_sqlite:
            _sqlite_setup(self.engine, self.busy_timeout)
        elif self.engine.dialect.name == "postgresql":
            _postgres_setup(self.engine, self.busy_timeout)
        self._writer = self.engine.execution_options(scrub_write=True)

    def ensure_schema(self) -> None:
        """Bring the schema to head with Alembic (fast path: already there)."""
        try:
            with self.engine.connect() as conn:
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                conn.rollback()
            if version == SCHEMA_HEAD:
                return
        except (OperationalError, ProgrammingError):
            pass  # no table yet
        self._upgrade()

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._writer.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._busy_guard(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self, *, bump: bool = True) -> Iterator[Session]:
        """One transaction; commits on success, rolls back on any exception.

        ``bump`` (the default for anything that changes intent or what the planner
        sees) increments the change counter first, which wakes the site agents."""
        with self._busy_guard(), Session(self._writer, expire_on_commit=False) as session:
            if bump:
                bump_generation(session)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def _busy_guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            text_ = str(exc.orig).lower()
            if "locked" in text_ or "busy" in text_ or "lock timeout" in text_:
                raise DatabaseBusy(
                    f"database is busy (another scrubctl is writing); gave up after "
                    f"{self.busy_timeout:g} s",
                    hint="try again",
                ) from None
            raise

    def generation(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(Meta.generation).where(Meta.id == 1)).scalar()
            conn.rollback()
        return int(value or 0)

    def dispose(self) -> None:
        self.engine.dispose()


def bump_generation(session: Session) -> None:
    session.execute(
        update(Meta).where(Meta.id == 1).values(generation=Meta.generation + 1, changed_at=utcnow())
    )
