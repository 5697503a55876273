"""Engine, sessions and schema upgrades.

Where the database is: ``--db URL`` > ``SCRUBCTL_DB`` > the per-user default
``$XDG_STATE_HOME/scrubctl/scrubctl.db`` (``~/.local/state/...``). A plain path
is taken as an SQLite file. A new SQLite file is created 0600 and the
directories created for it 0700 (SQLite gives its -wal and -shm files the
database's mode); an existing directory is never chmod-ed.

A location that cannot hold a database (a directory, a device, a file that is
not SQLite, a parent that cannot be created, a name too long) is
``InvalidInput`` naming where the location came from; a database server that
cannot be reached is ``DatabaseUnavailable``. Neither is a traceback.

Writers serialise: on SQLite a write transaction starts with ``BEGIN
IMMEDIATE`` (waiting up to ``busy_timeout``), and on every backend its first
statement locks the ``meta`` row (``SELECT ... FOR UPDATE`` on PostgreSQL).
A change confirmed against a state read earlier (the dashboard's preview) runs
on ``db.pinned(generation)``: each of its write transactions reads the change
counter right after taking that lock and refuses (``StaleState``, nothing
written) if it moved, so no change can slip in between the check and the commit.
The change counter ``meta.generation`` is bumped when the transaction commits,
unless the use case declared it changed nothing (``unchanged(session)``: the
same request again), so no agent wakes up for a no-op. On PostgreSQL the same
transaction sends ``NOTIFY scrubctl_change`` with the new counter as payload:
delivered on commit only, it wakes the agents listening (``site/waker.py``). On
SQLite the writer touches the database file once the bump is committed and
visible (its modification time: SQLite itself never looks at it), which wakes
the agents watching its directory with inotify. A database that
stays busy raises ``DatabaseBusy``, never a driver traceback. How long a writer
waits: ``SCRUBCTL_BUSY_TIMEOUT`` seconds, default ``BUSY_TIMEOUT_S``.
"""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, make_url, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from orchestrator.errors import (
    DatabaseBusy,
    DatabaseUnavailable,
    InvalidInput,
    ScrubError,
    StaleState,
)
from orchestrator.private_files import create_private_file, make_private_dirs
from orchestrator.store.models import Meta, utcnow

SCHEMA_HEAD = "0006"
NOTIFY_CHANNEL = "scrubctl_change"  # PostgreSQL: every bump of the change counter
BUSY_TIMEOUT_S = 5.0
MIGRATIONS = Path(__file__).parent / "migrations"


def env_seconds(name: str, default: float) -> float:
    """Seconds from the environment variable ``name`` (0 < s <= 3600), else ``default``."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(f"{text!r} is not a number of seconds between 0 and 3600", where=name)
    return value


def busy_timeout() -> float:
    """Seconds a writer waits for the lock: ``SCRUBCTL_BUSY_TIMEOUT`` > ``BUSY_TIMEOUT_S``."""
    return env_seconds("SCRUBCTL_BUSY_TIMEOUT", BUSY_TIMEOUT_S)


def default_db_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "scrubctl" / "scrubctl.db"


@dataclass(frozen=True)
class DbLocation:
    url: str
    where: str  # where it came from, for errors: --db, SCRUBCTL_DB or the default


DEFAULT_WHERE = "database"  # the per-user default path: no flag or variable to name


def resolve_location(cli_value: str | None) -> DbLocation:
    """``--db`` > ``SCRUBCTL_DB`` > the per-user default; creates nothing."""
    if cli_value:
        value, where = cli_value, "--db"
    elif os.environ.get("SCRUBCTL_DB"):
        value, where = os.environ["SCRUBCTL_DB"], "SCRUBCTL_DB"
    else:
        return DbLocation(f"sqlite:///{default_db_path()}", DEFAULT_WHERE)
    if "://" in value:
        return DbLocation(value, where)
    try:
        path = Path(value).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop, no home
        raise InvalidInput(f"cannot use {value!r} as a database path: {exc}", where=where) from None
    return DbLocation(f"sqlite:///{path}", where)


def resolve_url(cli_value: str | None) -> str:
    return resolve_location(cli_value).url


def sqlite_path(url: str, where: str) -> Path | None:
    """The file an SQLite URL names, or None (not SQLite, in memory, a ``file:`` URI)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends: a malformed URL
        raise InvalidInput(f"cannot use database URL: {exc}", where=where) from None
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def prepare_sqlite_file(path: Path, where: str) -> None:
    """Make sure ``path`` can be an SQLite database before SQLite touches it: refuse a
    directory or a device (SQLite would block on a FIFO), create missing directories
    0700 and a new file 0600."""
    try:
        make_private_dirs(path.parent)
        if create_private_file(path):
            return
        mode = path.stat().st_mode
    except OSError as exc:
        failed = exc.filename or path
        raise InvalidInput(f"cannot use {failed}: {exc.strerror}", where=where) from None
    if stat.S_ISDIR(mode):
        raise InvalidInput(f"{path} is a directory, not a database file", where=where)
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{path} is not a regular file", where=where)


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
    def __init__(self, url: str, *, where: str = "--db") -> None:
        self.url = url
        self.where = where
        self.is_sqlite = url.startswith("sqlite")
        self.busy_timeout = busy_timeout()
        self.path = sqlite_path(url, where)
        if self.path is not None:
            prepare_sqlite_file(self.path, where)
        try:
            self.engine = create_engine(url, future=True)
        except Exception as exc:  # unknown dialect, missing driver, malformed URL
            raise InvalidInput(f"cannot use database URL: {exc}", where=where) from None
        if self.is_sqlite:
            _sqlite_setup(self.engine, self.busy_timeout)
        elif self.engine.dialect.name == "postgresql":
            _postgres_setup(self.engine, self.busy_timeout)
        self._writer = self.engine.execution_options(scrub_write=True)
        self.expected_generation: int | None = None  # set on a ``pinned`` copy only

    def pinned(self, generation: int) -> Database:
        """This database (the same engine) for a change confirmed at change counter
        ``generation``: every write transaction on it checks, under the write lock,
        that the counter is still there, and raises ``StaleState`` otherwise."""
        view = copy.copy(self)
        view.expected_generation = generation
        return view

    def ensure_schema(self) -> None:
        """Bring the schema to head with Alembic (fast path: already there). This is
        the first connection: a database that cannot be used is reported here."""
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise self._unusable(exc) from None
        with conn:
            try:
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except (OperationalError, ProgrammingError):
                version = None  # no table yet
            conn.rollback()
        if version == SCHEMA_HEAD:
            return
        try:
            with self._busy_guard():
                self._upgrade()
        except DBAPIError as exc:  # e.g. a read-only file, a disk that is full
            raise self._unusable(exc) from None

    def _unusable(self, exc: DBAPIError) -> ScrubError:
        reason = " ".join(str(exc.orig).split())  # drivers' messages span lines
        if self.path is not None:
            if "not a database" in reason:
                return InvalidInput(f"{self.path} is not an SQLite database", where=self.where)
            return InvalidInput(f"cannot use {self.path}: {reason}", where=self.where)
        return DatabaseUnavailable(f"cannot connect to the database: {reason}", where=self.where)

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
        sees) locks the change counter first and increments it on commit, which
        wakes the site agents, unless ``unchanged(session)`` said there was no
        change."""
        with self._busy_guard(), Session(self._writer, expire_on_commit=False) as session:
            try:
                if bump or self.expected_generation is not None:
                    self._check_pinned(lock_generation(session))
                yield session
                bumped = bump and not session.info.get(_UNCHANGED, False)
                if bumped:
                    bump_generation(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
        if bumped and self.path is not None:
            touch_after_commit(self.path)

    def _check_pinned(self, current: int) -> None:
        """Inside the write transaction, the lock held: refuse if the change counter
        moved away from the one this copy was pinned to."""
        expected = self.expected_generation
        if expected is not None and current != expected:
            raise StaleState(
                f"the state changed since it was read (change counter {expected}, now "
                f"{current}); nothing was written",
                where="generation",
                hint="look at the state again",
            )

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


_UNCHANGED = "scrubctl.unchanged"


def unchanged(session: Session) -> None:
    """Inside ``Database.write()``: this use case changes nothing (the same request
    again). Its transaction ends without a write, so the change counter is not
    bumped and no agent wakes up. Raises if something was written already: that
    would be a change after all."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("unchanged() after a write in the same transaction")
    session.info[_UNCHANGED] = True
    session.rollback()  # ends the transaction (and the lock) without writing


def touch_after_commit(path: Path) -> None:
    """SQLite's NOTIFY: set the file's modification time after a bump committed. The
    change is made already; if the touch fails, the agents' fallback read finds it."""
    with suppress(OSError):
        os.utime(path)


def lock_generation(session: Session) -> int:
    """Serialise writers: the ``meta`` row locked for the rest of the transaction (on
    SQLite the transaction's ``BEGIN IMMEDIATE`` holds the write lock already). The
    change counter as of the lock: no other writer can move it until this commits."""
    value = session.execute(select(Meta.generation).where(Meta.id == 1).with_for_update())
    return int(value.scalar() or 0)


def bump_generation(session: Session) -> None:
    """Increment the change counter; on PostgreSQL also queue a NOTIFY carrying the new
    value, which the server delivers when (and only if) the transaction commits."""
    bumped = session.execute(
        update(Meta)
        .where(Meta.id == 1)
        .values(generation=Meta.generation + 1, changed_at=utcnow())
        .returning(Meta.generation)
    ).scalar()
    if bumped is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(bumped))))
