"""LISTEN/NOTIFY on a private PostgreSQL cluster: a committed bump of the change
counter makes the agent's waker readable at once; a write that changes nothing,
a rollback or an open transaction does not; a lost LISTEN connection comes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pg_support import private_cluster
from sqlalchemy import text
from waker_support import readable

from orchestrator.inventory import load_inventory
from orchestrator.service import diversions, observed
from orchestrator.service import inventory as inventory_service
from orchestrator.site.waker import ListenWaker, psycopg_connector, waker_for
from orchestrator.store.db import Database, unchanged

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
QUIET_S = 0.5  # how long a waker must stay silent to count as "not woken"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from private_cluster()


@pytest.fixture(scope="module")
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.ensure_schema()
    inv = load_inventory(ROOT / "examples" / "inventory.yml")
    inventory_service.apply(database, inv, actor="t", now=NOW, dry_run=False, source="t")
    yield database
    database.dispose()


@pytest.fixture
def waker(db: Database) -> Iterator[ListenWaker]:
    made = waker_for(db, fallback=30.0)
    assert isinstance(made, ListenWaker)
    yield made
    made.close()


def start_acme(db: Database) -> None:
    request = diversions.DivertRequest(customer="acme", reason="flood")
    diversions.start(db, request, actor="t", now=NOW)


def test_a_committed_change_makes_the_waker_readable_at_once(
    db: Database, waker: ListenWaker
) -> None:
    started = time.monotonic()
    start_acme(db)
    committed = time.monotonic()
    assert readable(waker, 2.0)
    woke = time.monotonic()
    assert waker.drain() == 1
    assert woke - committed < 0.5, f"woke {woke - committed:.3f} s after the commit"
    assert waker.timeout() == 30.0  # listening: the counter is read every 30 s besides
    assert committed > started


NO_CHANGE: dict[str, Callable[[Database], None]] = {
    "unbumped write": lambda db: observed.record_site_sync(db, "fra", 0, NOW),
    "same request again": start_acme,  # acme is diverted by then: unchanged()
    "declared unchanged": lambda db: _unchanged(db),
}


def _unchanged(db: Database) -> None:
    with db.write() as session:
        unchanged(session)


@pytest.mark.parametrize("write", NO_CHANGE.values(), ids=NO_CHANGE.keys())
def test_a_write_that_changes_nothing_sends_no_notification(
    db: Database, waker: ListenWaker, write: Callable[[Database], None]
) -> None:
    start_acme(db)  # acme diverted, by this call or an earlier test
    observed.wake_agents(db)  # a change for sure: the waker is live
    assert readable(waker, 2.0)
    waker.drain()
    before = db.generation()
    write(db)
    assert db.generation() == before
    assert not readable(waker, QUIET_S)
    assert waker.drain() == 0


def test_nothing_is_delivered_before_the_commit_nor_after_a_rollback(
    db: Database, waker: ListenWaker
) -> None:
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(text("SELECT 1"))
        raise RuntimeError("the use case failed")  # rolled back with its NOTIFY
    assert not readable(waker, QUIET_S)
    with db.write():
        assert not readable(waker, QUIET_S)  # the bump is queued, not sent
    assert readable(waker, 2.0)
    assert waker.drain() == 1


def drained_until_lost(waker: ListenWaker) -> int:
    """What the agent's loop does: wait on the socket, drain, until the waker noticed
    the loss (the server's goodbye and the end of the stream may come apart)."""
    deadline = time.monotonic() + 2.0
    while True:
        assert readable(waker, 2.0)  # the server's goodbye, then the closed socket
        count = waker.drain()
        if not waker.listening or time.monotonic() > deadline:
            return count


def test_a_lost_listen_connection_is_opened_again(db: Database) -> None:
    waker = ListenWaker(psycopg_connector(db), fallback=30.0, poll=0.02, retry=0.0)
    try:
        with db.engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query = 'LISTEN scrubctl_change'")).scalars().all()  # fmt: skip
            conn.commit()
        assert killed == [True]
        assert drained_until_lost(waker) == 1  # lost: a change may have been missed
        assert not waker.listening and waker.fileno() is None
        assert waker.timeout() == 0.02  # meanwhile the agent polls as on SQLite
        assert waker.drain() == 1  # listening again (retry=0): look once more
        assert waker.listening and waker.losses == 1
        observed.wake_agents(db)
        assert readable(waker, 2.0)
        assert waker.drain() == 1
    finally:
        waker.close()
