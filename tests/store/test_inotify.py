"""SQLite's wake-up by inotify: a committed bump makes the agent's waker readable
at once, from another process too, even after SQLite deleted and created again its
-wal file; a read does not; where inotify cannot be had, the agent polls every
20 ms. The agent's own writes are tested in tests/agent/test_inotify_agent.py."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import inotify_simple
import pytest
from sqlalchemy import select as sql_select
from waker_support import readable

from orchestrator.service import observed
from orchestrator.site.waker import InotifyWaker, PollWaker, waker_for
from orchestrator.store import db as db_module
from orchestrator.store.db import Database
from orchestrator.store.models import Meta

QUIET_S = 0.5  # how long a waker must stay silent to count as "not woken"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store' / 'scrubctl.db'}")
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def waker(db: Database) -> Iterator[InotifyWaker]:
    made = waker_for(db, fallback=30.0)
    assert isinstance(made, InotifyWaker)
    made.drain()  # what creating the schema did
    yield made
    made.close()


def bump_without_touching(path: Path) -> None:
    """A writer that is not scrubctl (the sqlite3 shell, an older version): it does not
    touch the file after its commit, only writes its WAL frames."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE meta SET generation = generation + 1")
        conn.commit()
    finally:
        conn.close()


def test_waker_for_an_sqlite_file_watches_it(db: Database) -> None:
    made = waker_for(db, fallback=30.0)
    try:
        assert isinstance(made, InotifyWaker)
        assert made.fileno() is not None and made.timeout() == 30.0
    finally:
        made.close()


def test_the_fallback_read_setting_applies_to_sqlite(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBCTL_NOTIFY_FALLBACK", "10")
    made = waker_for(db)
    try:
        assert made.timeout() == 10.0
    finally:
        made.close()


def test_a_commit_from_another_process_makes_the_waker_readable_at_once(
    db: Database, waker: InotifyWaker
) -> None:
    assert not readable(waker, 0)
    code = (
        "import sys; from orchestrator.service import observed; "
        "from orchestrator.store.db import Database; "
        "observed.wake_agents(Database(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, db.url], check=True, timeout=60)
    assert readable(waker, 2.0)
    assert waker.drain() >= 1
    assert waker.drain() == 0  # drained: nothing left
    assert not readable(waker, 0)


def test_a_commit_is_visible_when_the_file_is_touched(
    db: Database, waker: InotifyWaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The WAL frames are written before the commit is visible: the touch that wakes
    the agent for sure comes after it, when another connection reads the new value."""
    other = Database(db.url)
    seen: list[int] = []
    touch = db_module.touch_after_commit

    def touch_and_look(path: Path) -> None:
        seen.append(other.generation())
        touch(path)

    monkeypatch.setattr(db_module, "touch_after_commit", touch_and_look)
    try:
        before = db.generation()
        observed.wake_agents(db)
        assert seen == [before + 1]
        assert readable(waker, 2.0)
    finally:
        other.dispose()


def test_a_writer_that_does_not_touch_wakes_by_its_wal(db: Database, waker: InotifyWaker) -> None:
    assert db.path is not None
    bump_without_touching(db.path)
    assert readable(waker, 2.0)
    assert waker.drain() >= 1


def test_a_wal_deleted_and_created_again_still_wakes(db: Database, waker: InotifyWaker) -> None:
    assert db.path is not None
    wal = db.path.with_name(db.path.name + "-wal")
    db.dispose()  # the last connection: SQLite checkpoints and deletes the -wal
    assert not wal.exists()
    conn = sqlite3.connect(db.path)
    try:
        assert conn.execute("SELECT generation FROM meta").fetchone() is not None
        assert wal.exists()  # a new -wal, created by that read
        waker.drain()
        assert not readable(waker, QUIET_S)
        conn.execute("UPDATE meta SET generation = generation + 1")
        conn.commit()
    finally:
        conn.close()
    assert readable(waker, 2.0)
    assert waker.drain() >= 1


@pytest.fixture
def other(db: Database) -> Iterator[Database]:
    """A second process's view of the database (its own pool of connections)."""
    made = Database(db.url)
    yield made
    made.dispose()


def test_a_new_connection_counts_no_change(
    db: Database, waker: InotifyWaker, other: Database
) -> None:
    assert other.generation() == db.generation()  # opens a connection: -wal's owner set
    assert waker.drain() == 0


def test_a_read_does_not_wake(db: Database, waker: InotifyWaker, other: Database) -> None:
    other.generation()  # the connection is open
    waker.drain()
    with other.read() as session:
        assert session.scalars(sql_select(Meta)).all()
    assert other.generation() == db.generation()
    assert not readable(waker, QUIET_S)
    assert waker.drain() == 0


def test_a_removed_directory_falls_back_to_polling(db: Database, waker: InotifyWaker) -> None:
    assert db.path is not None
    db.dispose()  # its checkpoint writes the file
    waker.drain()
    shutil.rmtree(db.path.parent)
    assert readable(waker, 2.0)
    assert waker.drain() == 1  # the kernel dropped the watch: a change may be missed
    assert (waker.fileno(), waker.timeout(), waker.drain()) == (None, 0.02, 0)


def _no_instance(*_args: object, **_kw: object) -> object:
    raise OSError(24, "Too many open files")


def _no_watch(self: object, *_args: object) -> int:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("attribute", "broken", "why"),
    [("__init__", _no_instance, "[Errno 24] Too many open files"),
     ("add_watch", _no_watch, "[Errno 28] No space left on device")],
    ids=["no inotify instance left", "no inotify watch left"],
)  # fmt: skip
def test_no_inotify_falls_back_to_the_20_ms_poll(
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    attribute: str,
    broken: object,
    why: str,
) -> None:
    monkeypatch.setattr(inotify_simple.INotify, attribute, broken)
    with caplog.at_level(logging.WARNING, logger="scrubctl.agent"):
        made = waker_for(db)
    assert isinstance(made, PollWaker)
    assert (made.fileno(), made.timeout()) == (None, 0.02)
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot watch {db.path} for changes ({why}); polling every 0.02 s"
    ]


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:{tmp}/x.db?uri=true"]
)
def test_an_sqlite_database_that_is_not_a_file_polls(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = url.format(tmp=tmp_path)
    database = Database(url)
    try:
        with caplog.at_level(logging.WARNING, logger="scrubctl.agent"):
            made = waker_for(database)
        assert isinstance(made, PollWaker)
        assert made.timeout() == 0.02
        assert [r.getMessage() for r in caplog.records] == [
            f"cannot watch {url} for changes (not a file); polling every 0.02 s"
        ]
    finally:
        database.dispose()
