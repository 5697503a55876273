"""An agent on an SQLite file woken by inotify (``InotifyWaker``): a change wakes
it, and its own writes (acks, sync figures) wake it once more at most, since
reading the counter writes nothing: it does not spin. The waker itself is tested
in tests/store/test_inotify.py."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest
from agent_support import T1, Clock, divert, make_agent, up

from orchestrator.site.agent import Agent
from orchestrator.site.waker import InotifyWaker
from orchestrator.store.db import Database
from orchestrator.testing.exabgp import FakeExaBgp

FALLBACK_S = 0.2
QUIET_S = 1.5


class WaitingExaBgp(FakeExaBgp):
    """A fake ExaBGP whose pipe waits as the real one does: until ``timeout``, or
    until the waker's descriptor turns readable."""

    def receive(self, timeout: float, wake: int | None = None) -> str | None:
        line = super().receive(0, wake)
        if line is None:
            select.select([] if wake is None else [wake], [], [], timeout)
        return line


@pytest.fixture
def agent(db: Database, clock: Clock) -> Iterator[tuple[Agent, WaitingExaBgp]]:
    assert db.path is not None
    fake = WaitingExaBgp()
    made = make_agent(db, fake, clock)
    waker = InotifyWaker(db.path, fallback=FALLBACK_S)
    waker.drain()  # what setting up the database did
    made.waker = waker
    try:
        yield made, fake
    finally:
        waker.close()


def test_a_change_wakes_the_agent_by_inotify(
    db: Database, clock: Clock, agent: tuple[Agent, WaitingExaBgp]
) -> None:
    made, fake = agent
    up(db, clock, "fra", "t1")
    divert(db, clock)
    started = time.monotonic()
    assert made.step() is not None
    assert time.monotonic() - started < FALLBACK_S  # not the fallback read
    assert made.wakes == {"notify": 1}
    assert fake.prefixes(T1) == {"203.0.112.0/23"}


def test_the_agents_own_writes_do_not_keep_it_awake(
    db: Database,
    clock: Clock,
    agent: tuple[Agent, WaitingExaBgp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, _fake = agent
    drain = made.waker.drain
    counted: list[int] = []  # what each drain of the waker counted

    def counting() -> int:
        counted.append(drain())
        return counted[-1]

    monkeypatch.setattr(made.waker, "drain", counting)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    assert made.step() is not None  # routes sent, acks and figures recorded
    counted.clear()
    turns = 0
    deadline = time.monotonic() + QUIET_S
    while time.monotonic() < deadline:
        assert made.step() is None
        turns += 1
    woken = [n for n in counted if n]
    assert 1 <= len(woken) <= 2, counted  # its own writes: once, then quiet
    assert turns <= QUIET_S / FALLBACK_S + 3, counted  # the rest: fallback reads
    assert made.wakes == {"notify": 1}
