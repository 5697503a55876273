"""The agent loop against a fake ExaBGP: diff, acks, errors, restarts, limits, TTM."""

from __future__ import annotations

import ipaddress
import sqlite3
from datetime import timedelta

import pytest
from agent_support import T1, T1V6, T2, Clock, divert, make_agent, routes_at, up
from sqlalchemy import select

from orchestrator.service import diversions
from orchestrator.site.agent import RETRY_AFTER
from orchestrator.store.db import Database
from orchestrator.store.models import (
    AnnouncedRow,
    DiversionAckRow,
    EventRow,
    RtbhRow,
    SessionRow,
)
from orchestrator.testing.exabgp import FakeExaBgp


def test_nothing_is_announced_while_no_session_is_established(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    divert(db, clock)
    agent.step()
    assert fake.prefixes(T1) == set()


def test_a_session_event_is_recorded_and_makes_the_site_announce(
    db: Database, clock: Clock
) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    divert(db, clock)
    fake.state(T1, "up")
    agent.step()  # records the session: the change counter moves
    agent.step()  # and the next step announces
    with db.read() as session:
        row = session.get(SessionRow, ("fra", "t1"))
    assert row is not None and row.established
    assert fake.prefixes(T1) == {"203.0.112.0/23"}
    assert fake.prefixes(T1V6) == {"2001:db8:100::/48"}
    [route] = routes_at(fake, T1)
    assert route.as_path == (64500, 64496)


def test_only_the_difference_is_sent(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock, prefixes=("203.0.112.0/24",))
    agent.step()
    sent = len(fake.commands)
    assert agent.step() is None  # nothing changed: no sync at all
    divert(db, clock, prefixes=("203.0.113.0/24",))
    result = agent.step()
    assert result is not None and result.announced == 1 and result.withdrawn == 0
    assert fake.commands[sent:] == [
        "neighbor 192.0.2.254 announce attributes next-hop self as-path [64500 64496] "
        "nlri 203.0.113.0/24"
    ]


def test_stop_withdraws(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    agent.step()
    diversions.stop(db, "acme", diversion_id=None, reason="over", actor="t", now=clock())
    agent.step()
    assert fake.prefixes(T1) == set() and fake.prefixes(T1V6) == set()
    with db.read() as session:
        assert session.scalars(select(AnnouncedRow)).all() == []


def test_an_error_ack_is_recorded_and_retried(db: Database, clock: Clock) -> None:
    refuse = {"on": True}
    fake = FakeExaBgp(error_if=lambda line: refuse["on"] and "announce" in line)
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    result = agent.step()
    assert result is not None and result.errors and fake.prefixes(T1) == set()
    with db.read() as session:
        actions = [e.action for e in session.scalars(select(EventRow))]
    assert "agent.error" in actions
    refuse["on"] = False
    assert agent.step() is None  # not yet due
    clock.now += RETRY_AFTER + timedelta(seconds=1)
    agent.step()
    assert fake.prefixes(T1) == {"203.0.112.0/23"}


def test_lines_from_exabgp_not_understood_leave_the_agent_running(
    db: Database, clock: Clock
) -> None:
    """One during start-up (between the adj-rib-out lines) and one in the loop: the
    agent goes on, and a session event after them is still recorded."""
    fake = FakeExaBgp()
    fake.rib[ipaddress.ip_address(T1)] = {}
    fake.pending.append('{"type": "state", "neighbor": "not an object"}')
    agent = make_agent(db, fake, clock)
    fake.pending.append('{"peer": {"address": "192.0.2.300"}, "route": {"nlri": {}}}')
    fake.state(T1, "up")
    divert(db, clock)
    agent.step()
    assert fake.prefixes(T1) == {"203.0.112.0/23"}
    with db.read() as session:
        actions = [e.action for e in session.scalars(select(EventRow))]
    assert "bgp.up" in actions


def test_respawned_agent_learns_and_sends_nothing_twice(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    first = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    first.step()
    before = len(fake.commands)
    second = make_agent(db, fake, clock)  # ExaBGP kept its routes
    result = second.sync()
    assert result.announced == 0 and result.withdrawn == 0
    assert fake.commands[before:] == ["show adj-rib out json"]


def test_respawned_agent_fixes_what_changed_while_it_was_dead(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    first = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock, prefixes=("203.0.112.0/24",))
    first.step()
    diversions.stop(db, "acme", diversion_id=None, reason="x", actor="t", now=clock())
    divert(db, clock, prefixes=("203.0.113.0/24",))
    second = make_agent(db, fake, clock)
    result = second.sync()
    assert (result.announced, result.withdrawn) == (1, 1)
    assert fake.prefixes(T1) == {"203.0.113.0/24"}


def test_exabgp_restart_gets_the_full_plan_again(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    make_agent(db, fake, clock).sync()
    fake.restart()
    result = make_agent(db, fake, clock).sync()
    assert result.announced == 2
    assert fake.prefixes(T1) == {"203.0.112.0/23"}


def test_stop_while_the_peer_is_down_leaves_nothing_behind(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    fra = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    fra.step()
    fake.state(T1, "down", "peer reset")
    fra.step()
    diversions.stop(db, "acme", diversion_id=None, reason="x", actor="t", now=clock())
    fra.step()
    fake.state(T1, "up")
    fra.step()
    fra.step()
    assert fake.prefixes(T1) == set()


def test_over_max_prefix_holds_new_announcements(db: Database, clock: Clock) -> None:
    """The service refuses such intent; the agent still never exceeds a peer's limit."""
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    agent.step()
    assert fake.prefixes(T1) == {"203.0.112.0/23"}
    with db.write() as session:  # written behind the service's back: 1 + 4 > max_prefix 4
        for host in ("203.0.112.1", "203.0.112.2", "203.0.112.3", "203.0.112.4"):
            session.add(RtbhRow(prefix=f"{host}/32", customer="acme", forced=True, reason="x",
                                requested_by="t", created_at=clock(),
                                expires_at=clock() + timedelta(hours=1)))  # fmt: skip
    result = agent.step()
    assert result is not None and any("max_prefix 4" in e for e in result.errors)
    assert fake.prefixes(T1) == {"203.0.112.0/23"}


def test_first_ack_is_recorded_for_time_to_mitigate(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    requested = clock()
    ident = divert(db, clock)
    clock.now += timedelta(milliseconds=250)
    agent.step()
    with db.read() as session:
        ack = session.get(DiversionAckRow, (ident, "fra"))
    assert ack is not None
    assert ack.first_acked_at - requested == timedelta(milliseconds=250)


def test_backup_site_prepends(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    ams = make_agent(db, fake, clock, site="ams")
    up(db, clock, "ams", "t2")
    divert(db, clock)
    ams.step()
    [route] = routes_at(fake, T2)
    assert route.as_path == (64500, 64500, 64500, 64496)


def test_a_busy_database_delays_but_never_loses_a_session_event(
    db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBCTL_BUSY_TIMEOUT", "0.2")
    agent_db = Database(db.url)
    fake = FakeExaBgp()
    agent = make_agent(agent_db, fake, clock)
    holder = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
    fake.state(T1, "up")
    agent.step()  # busy: nothing recorded, and no exception ends the agent
    with db.read() as session:
        assert session.get(SessionRow, ("fra", "t1")) is None
    holder.execute("ROLLBACK")
    holder.close()
    agent.step()
    with db.read() as session:
        row = session.get(SessionRow, ("fra", "t1"))
    assert row is not None and row.established
    agent_db.dispose()
