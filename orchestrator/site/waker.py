"""How the agent learns that the change counter may have moved.

The agent's loop waits on ExaBGP's pipe; a ``Waker`` adds a second thing to
wait for, in the same ``select``:

- ``InotifyWaker`` (an SQLite file, on Linux): an inotify descriptor watching
  the database's directory (not the files: SQLite deletes the ``-wal`` file
  when its last connection closes and creates it again later). A writer that
  bumps the counter touches the database file once its commit is visible
  (``store/db.py``: the WAL frames are written before the commit is, so their
  own events may come too early), and every write of the database or its
  ``-wal`` counts too; the counter is still read every ``fallback`` seconds.
  An event without a change (the agent's own acks, another reader's checkpoint)
  costs one counter read and writes nothing, so it cannot feed itself.
- ``PollWaker`` (SQLite where inotify cannot be had, or a PostgreSQL driver
  without LISTEN support): no descriptor, the wait ends every ``interval``
  (20 ms) and the agent reads the counter (one indexed single-row read).
- ``ListenWaker`` (PostgreSQL through psycopg): a dedicated autocommit
  connection that ``LISTEN``s on ``scrubctl_change``; every bump of the
  counter sends a ``NOTIFY`` in its own transaction (``store/db.py``), which
  the server delivers on commit, so the connection's socket turns readable the
  moment a change is committed. The counter is still read every ``fallback``
  seconds (1 s), in case a notification was lost. A connection that breaks is
  closed and opened again every ``retry`` seconds; meanwhile the agent polls
  every ``poll`` seconds as on SQLite.

No thread, no busy loop: between changes an agent on PostgreSQL, or on an
SQLite file on Linux, reads the counter once a second.
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.store.db import NOTIFY_CHANNEL, Database, env_seconds

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrubctl.agent")
POLL_S = 0.02  # SQLite, and PostgreSQL while the LISTEN connection is down
FALLBACK_S = 1.0  # PostgreSQL, inotify: read the counter at least this often anyway
RETRY_S = 1.0  # PostgreSQL: a lost LISTEN connection is opened again this often
# libpq's TCP keepalives: a peer that vanished without closing is noticed in ~1 min
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}  # fmt: skip


class Waker(Protocol):
    def fileno(self) -> int | None:
        """A descriptor that turns readable when a change was committed, or None."""
        ...

    def timeout(self) -> float:
        """Seconds to wait at most before reading the change counter anyway."""
        ...

    def drain(self) -> int:
        """Consume what arrived without blocking: the number of notifications."""
        ...

    def close(self) -> None: ...


class PollWaker:
    def __init__(self, interval: float = POLL_S) -> None:
        self.interval = interval

    def fileno(self) -> int | None:
        return None

    def timeout(self) -> float:
        return self.interval

    def drain(self) -> int:
        return 0

    def close(self) -> None:
        pass


class ListenWaker:
    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[tuple[object, ...]]],
        *,
        fallback: float = FALLBACK_S,
        poll: float = POLL_S,
        retry: float = RETRY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self.fallback, self.poll, self.retry = fallback, poll, retry
        self._monotonic = monotonic
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._retry_at = 0.0
        self.losses = 0  # connections lost or refused since start
        self._listen()

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def _listen(self) -> bool:
        import psycopg

        try:
            conn = self._connect()
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except psycopg.Error as exc:
            self._lost(f"cannot LISTEN for changes: {exc}")
            return False
        self._conn = conn
        return True

    def _lost(self, why: str) -> None:
        self.losses += 1
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._retry_at = self._monotonic() + self.retry
        text = " ".join(why.split())
        log.warning("%s; polling every %g s, trying again in %g s", text, self.poll, self.retry)

    def fileno(self) -> int | None:
        return None if self._conn is None else self._conn.fileno()

    def timeout(self) -> float:
        return self.fallback if self._conn is not None else self.poll

    def drain(self) -> int:
        """Count the notifications waiting. A lost connection counts as one (a change
        may have been missed), and so does listening again after one."""
        import psycopg
        from psycopg import pq

        if self._conn is None:
            if self._monotonic() < self._retry_at or not self._listen():
                return 0
            log.info("listening for changes again")
            return 1
        pgconn = self._conn.pgconn
        try:
            pgconn.consume_input()
            if select.select([pgconn.socket], [], [], 0)[0]:
                # more to read: the rest of a burst, or the end of the stream after
                # the server's goodbye (pg_terminate_backend), which raises here
                pgconn.consume_input()
            count = 0
            while pgconn.notifies() is not None:
                count += 1
            if pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the connection is closed")
        except psycopg.Error as exc:
            self._lost(f"LISTEN connection lost: {exc}")
            return 1
        return count

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class InotifyWaker:
    """Wakes on what a commit does to an SQLite file: raises ``OSError`` when inotify
    cannot be had (no more instances or watches for this user), ``ImportError`` off
    Linux. See the module's docstring."""

    def __init__(self, path: Path, *, fallback: float = FALLBACK_S, poll: float = POLL_S) -> None:
        from inotify_simple import INotify, flags

        self._flags = flags
        real = path.resolve()  # SQLite resolves symlinks: its -wal is beside the target
        # The file: written (by a checkpoint, or without WAL), touched by a writer
        # after its commit, created or moved in (a restore). The -wal: written (the
        # frames of a commit); not its metadata, which a new connection changes.
        file_events = flags.MODIFY | flags.ATTRIB | flags.CREATE | flags.MOVED_TO
        self._relevant = {real.name: file_events, f"{real.name}-wal": flags.MODIFY}
        self.fallback, self.poll = fallback, poll
        self._inotify: Any = INotify(nonblocking=True)
        try:
            self._inotify.add_watch(real.parent, file_events | flags.ONLYDIR)
        except OSError:
            self._inotify.close()
            raise
        self.watching = True

    def fileno(self) -> int | None:
        return int(self._inotify.fileno()) if self.watching else None

    def timeout(self) -> float:
        return self.fallback if self.watching else self.poll

    def drain(self) -> int:
        """Count the events that may be a commit (the descriptor turns readable for
        others too: a new connection changes the -wal's owner). A full queue counts as one
        (a change may have been missed), and so does a watch the kernel removed (the
        directory is gone): from then on the agent polls every ``poll`` seconds."""
        if not self.watching:
            return 0
        count = 0
        for event in self._inotify.read(timeout=0):
            if event.mask & self._flags.IGNORED:
                self.watching = False
                log.warning("the database's directory is no longer watched; polling every %g s",
                            self.poll)  # fmt: skip
                count += 1
            elif event.mask & (self._flags.Q_OVERFLOW | self._relevant.get(event.name, 0)):
                count += 1
        return count

    def close(self) -> None:
        self._inotify.close()


def inotify_or_poll(path: Path, fallback: float) -> Waker:
    """An ``InotifyWaker`` on ``path``, or the 20 ms poll if inotify cannot be had."""
    try:
        return InotifyWaker(path, fallback=fallback)
    except (ImportError, OSError) as exc:
        log.warning("cannot watch %s for changes (%s); polling every %g s",
                    path, exc, POLL_S)  # fmt: skip
        return PollWaker()


def fallback_poll() -> float:
    """``SCRUBCTL_NOTIFY_FALLBACK`` seconds (0 < s <= 3600), default ``FALLBACK_S``."""
    return env_seconds("SCRUBCTL_NOTIFY_FALLBACK", FALLBACK_S)


def psycopg_connector(db: Database) -> Callable[[], psycopg.Connection[tuple[object, ...]]]:
    """Open connections to ``db``'s server as its engine would (same URL, same
    arguments), in autocommit mode and with TCP keepalives unless the URL sets them."""
    import psycopg

    args, params = db.engine.dialect.create_connect_args(db.engine.url)
    params = {**KEEPALIVES, **params, "autocommit": True}

    def connect() -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(*args, **params)

    return connect


def waker_for(db: Database, *, fallback: float | None = None) -> Waker:
    """LISTEN/NOTIFY on PostgreSQL through psycopg; inotify on an SQLite file; the
    20 ms poll otherwise (in memory, a ``file:`` URI, inotify not available)."""
    engine = db.engine
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return ListenWaker(psycopg_connector(db), fallback=fallback or fallback_poll())
    if db.path is not None:
        return inotify_or_poll(db.path, fallback or fallback_poll())
    if db.is_sqlite:
        log.warning("cannot watch %s for changes (not a file); polling every %g s",
                    db.url, POLL_S)  # fmt: skip
    return PollWaker()
