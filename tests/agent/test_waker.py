"""How the agent wakes: the waker's descriptor ends the wait on ExaBGP's pipe at
once, each sync says why it ran, and the wait is cut short for a planned change.
PostgreSQL's own LISTEN/NOTIFY is tested in tests/store/test_notify.py."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from agent_support import Clock, divert, make_agent, up

from orchestrator.drivers.exabgp.channel import StdioChannel
from orchestrator.errors import InvalidInput
from orchestrator.service import observed
from orchestrator.site.agent import Agent
from orchestrator.site.waker import fallback_poll
from orchestrator.store.db import Database
from orchestrator.testing.exabgp import FakeExaBgp
from orchestrator.testing.waker import FakeWaker


@pytest.fixture
def waker() -> Iterator[FakeWaker]:
    made = FakeWaker()
    yield made
    made.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    os.close(read)
    os.close(write)


def test_a_readable_waker_ends_the_wait_on_exabgp_at_once(
    waker: FakeWaker, pipe: tuple[int, int]
) -> None:
    channel = StdioChannel(infd=pipe[0], outfd=pipe[1])
    waker.notify()
    started = time.monotonic()
    assert channel.receive(5.0, waker.fileno()) is None
    assert time.monotonic() - started < 1.0
    assert waker.drain() == 1


def test_exabgp_lines_still_arrive_while_waiting_on_the_waker(
    waker: FakeWaker, pipe: tuple[int, int]
) -> None:
    channel = StdioChannel(infd=pipe[0], outfd=pipe[1])
    os.write(pipe[1], b"done\n")
    assert channel.receive(5.0, waker.fileno()) == "done"


def agent_with(db: Database, clock: Clock, waker: FakeWaker) -> tuple[Agent, FakeExaBgp]:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    agent.waker = waker
    agent.step()  # the first sync: catches up with the inventory
    return agent, fake


def test_a_notification_wakes_the_agent(db: Database, clock: Clock, waker: FakeWaker) -> None:
    agent, fake = agent_with(db, clock, waker)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    waker.notify()
    assert agent.step() is not None
    assert agent.wakes["notify"] == 1
    assert fake.prefixes("192.0.2.254") == {"203.0.112.0/23"}


def test_a_change_without_notification_is_caught_by_the_poll(
    db: Database, clock: Clock, waker: FakeWaker
) -> None:
    agent, _fake = agent_with(db, clock, waker)
    observed.wake_agents(db)  # committed, but the notification was lost
    assert agent.step() is not None
    assert agent.wakes == {"poll": 2}  # the first sync, and this one


def test_a_notification_without_a_change_does_not_sync(
    db: Database, clock: Clock, waker: FakeWaker
) -> None:
    agent, _fake = agent_with(db, clock, waker)
    waker.notify()  # e.g. after listening again: a change may have been missed
    assert agent.step() is None
    assert sum(agent.wakes.values()) == 1  # the first sync only


def test_the_wait_ends_when_a_planned_change_falls_due(
    db: Database, clock: Clock, waker: FakeWaker
) -> None:
    waker.interval = 30.0
    agent, _fake = agent_with(db, clock, waker)
    assert agent._wait() == 30.0
    agent.wake_at = clock.now + timedelta(seconds=2)
    assert agent._wait() == 2.0
    clock.now += timedelta(seconds=3)
    assert agent._wait() == 0.0
    assert agent.step() is not None
    assert agent.wakes["timer"] == 1


@pytest.mark.parametrize("value", ["0", "-1", "3601", "soon", "nan"])
def test_a_bad_fallback_poll_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SCRUBCTL_NOTIFY_FALLBACK", value)
    with pytest.raises(
        InvalidInput, match="is not a number of seconds between 0 and 3600"
    ) as error:
        fallback_poll()
    assert error.value.where == "SCRUBCTL_NOTIFY_FALLBACK"


@pytest.mark.parametrize(("value", "seconds"), [("", 1.0), ("10", 10.0), (" 0.5 ", 0.5)])
def test_the_fallback_poll_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("SCRUBCTL_NOTIFY_FALLBACK", value)
    assert fallback_poll() == seconds
