"""How the agent learns that the change counter may have moved.

The agent's loop waits on ExaBGP's pipe; a ``Waker`` adds a second thing to
wait for, in the same ``select``:

- ``PollWaker`` (SQLite, or a PostgreSQL driver without LISTEN support): no
  descriptor, the wait ends every ``interval`` (20 ms) and the agent reads
  the counter (one indexed single-row read).
- ``ListenWaker`` (PostgreSQL through psycopg): a dedicated autocommit
  connection that ``LISTEN``s on ``scrubctl_change``; every bump of the
  counter sends a ``NOTIFY`` in its own transaction (``store/db.py``), which
  the server delivers on commit, so the connection's socket turns readable the
  moment a change is committed. The counter is still read every ``fallback``
  seconds (1 s), in case a notification was lost. A connection that breaks is
  closed and opened again every ``retry`` seconds; meanwhile the agent polls
  every ``poll`` seconds as on SQLite.

No thread, no busy loop: between changes an agent on PostgreSQL reads the
counter once a second.
"""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from orchestrator.errors import InvalidInput
from orchestrator.store.db import NOTIFY_CHANNEL, Database

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrubctl.agent")
POLL_S = 0.02  # SQLite, and PostgreSQL while the LISTEN connection is down
FALLBACK_S = 1.0  # PostgreSQL: read the counter at least this often anyway
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


def fallback_poll() -> float:
    """``SCRUBCTL_NOTIFY_FALLBACK`` seconds (0 < s <= 3600), default ``FALLBACK_S``."""
    text = os.environ.get("SCRUBCTL_NOTIFY_FALLBACK", "").strip()
    if not text:
        return FALLBACK_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(f"{text!r} is not a number of seconds between 0 and 3600",
                           where="SCRUBCTL_NOTIFY_FALLBACK")  # fmt: skip
    return value


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
    """LISTEN/NOTIFY on PostgreSQL through psycopg; the 20 ms poll otherwise."""
    engine = db.engine
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return PollWaker()
    return ListenWaker(psycopg_connector(db), fallback=fallback or fallback_poll())
