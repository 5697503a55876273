"""The live pages' one pulse poller per service process: N open pages cost one read
of the store per interval, each still gets every change, and a page that goes away
leaves the hub (the last one stops the poller)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from browser_support import served
from web_support import Tokens, loaded_db, make_tokens

from orchestrator.api.web import live
from orchestrator.api.web.hub import Pulse, PulseHub
from orchestrator.service import dashboard
from orchestrator.store.db import Database

INTERVAL = 0.05


class Store:
    """A pulse a test moves, and how often it was read."""

    def __init__(self) -> None:
        self.value = 1
        self.reads = 0

    def read(self) -> Pulse:
        self.reads += 1
        return (self.value,)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(INTERVAL / 5)


def test_several_subscribers_cost_one_read_per_interval_and_each_gets_the_change() -> None:
    store = Store()
    hub = PulseHub(store.read, INTERVAL)

    async def scenario() -> tuple[int, list[Pulse]]:
        async with (hub.subscribe() as a, hub.subscribe() as b, hub.subscribe() as c,
                    hub.subscribe() as d, hub.subscribe() as e):  # fmt: skip
            await _until(lambda: store.reads >= 1)  # the baseline
            start = store.reads
            await asyncio.sleep(INTERVAL * 10)
            reads = store.reads - start
            store.value = 2
            got = [await asyncio.wait_for(q.get(), 2.0) for q in (a, b, c, d, e)]
        return reads, got

    reads, got = asyncio.run(scenario())
    assert 1 <= reads <= 11  # at most one per interval for all five, not five per interval
    assert got == [(2,)] * 5


def test_a_subscriber_that_leaves_is_removed_and_the_last_stops_the_poller() -> None:
    store = Store()
    hub = PulseHub(store.read, INTERVAL)

    async def scenario() -> None:
        async with hub.subscribe() as staying:
            async with hub.subscribe():
                assert len(hub.subscribers) == 2
            assert hub.subscribers == {staying}
            await _until(lambda: store.reads >= 1)
            store.value = 3
            assert await asyncio.wait_for(staying.get(), 2.0) == (3,)
        assert hub.subscribers == set()
        stopped = store.reads
        await asyncio.sleep(INTERVAL * 5)
        assert store.reads == stopped  # nobody listens: no reads

    asyncio.run(scenario())


def test_a_slow_subscriber_gets_the_newest_pulse_not_a_backlog() -> None:
    store = Store()
    hub = PulseHub(store.read, INTERVAL)

    async def scenario() -> list[Pulse]:
        async with hub.subscribe() as slow:
            await _until(lambda: store.reads >= 1)
            for value in (4, 5, 6):
                store.value = value
                await _until(lambda after=store.reads: store.reads >= after + 2)  # read, handed
            return [slow.get_nowait(), *([slow.get_nowait()] if not slow.empty() else [])]

    assert asyncio.run(scenario()) == [(6,)]


# --- through the real server: several open pages, one poller -------------------------


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Database, Tokens]]:
    db = loaded_db(tmp_path / "live.db")
    secrets = make_tokens(db)
    try:
        with served(db) as url:
            yield url, db, secrets
    finally:
        db.dispose()


def _cookie(url: str, secret: str) -> dict[str, str]:
    response = httpx.post(url + "/login", data={"token": secret})
    return {"scrubctl_session": response.cookies["scrubctl_session"]}


def _listen(
    url: str,
    cookies: dict[str, str],
    got: list[str],
    opened: threading.Event,
    stop: threading.Event,
) -> None:
    with httpx.stream("GET", url + "/live", cookies=cookies, timeout=30) as response:
        for line in response.iter_lines():
            opened.set()  # the stream's first line: the page is listening
            if line.startswith("event: changed"):
                got.append(line)
            if stop.is_set() or got:
                return


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_open_pages_share_one_poller_and_each_sees_a_change(
    site: tuple[str, Database, Tokens], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, db, secrets = site
    reads: list[float] = []
    real = dashboard.pulse

    def counted(database: Database) -> tuple[object, ...]:
        reads.append(time.monotonic())
        return real(database)

    monkeypatch.setattr(dashboard, "pulse", counted)
    cookies = _cookie(url, secrets.viewer)
    pages = 4
    got: list[list[str]] = [[] for _ in range(pages)]
    opened = [threading.Event() for _ in range(pages)]
    stop = threading.Event()
    threads = [threading.Thread(target=_listen, args=(url, cookies, g, o, stop), daemon=True)
               for g, o in zip(got, opened, strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    # Under load (CI runs a guest on the other core) the streams may open late:
    # count the poller's reads only once every page listens and the poller runs.
    _wait(lambda: all(o.is_set() for o in opened), 30, "the pages' streams")
    _wait(lambda: len(reads) >= 1, 10, "the poller's first read")
    start = time.monotonic()
    time.sleep(2.0)
    window = [t for t in reads if start <= t < start + 2.0]
    assert 2 <= len(window) <= 2.0 / live.POLL_S + 2  # one poller, not one per page (4x)
    with db.write():
        pass  # a change: the counter moves
    for thread in threads:
        thread.join(timeout=10)
    stop.set()
    assert [len(g) for g in got] == [1] * pages

    # The streams closed: the poller stops (each stream looks every WAKE_S).
    def idle() -> bool:
        before = len(reads)
        time.sleep(5 * live.POLL_S)
        return len(reads) == before

    _wait(idle, 10 * live.WAKE_S, "the poller to stop")
