"""Issue 7: a route the driver or ExaBGP refuses costs only that route, never the agent.

Rows are written straight into the store here, as a buggy or older writer could,
bypassing the service's validation.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from agent_support import T1, T1V6, Clock, divert, make_agent, up
from sqlalchemy import select

from orchestrator.service import diversions
from orchestrator.site import agent as agent_module
from orchestrator.site.agent import RETRY_AFTER
from orchestrator.site.delivery import SPLIT_BUDGET
from orchestrator.store.db import Database
from orchestrator.store.models import DiversionRow, EventRow, ReturnPathRow
from orchestrator.testing.exabgp import FakeExaBgp

# Python's ipaddress takes anything after "%" as an IPv6 zone id.
ZONED_PREFIXES = [
    "2001:db8:100::%0/48",
    "2001:db8:100::%eth0/48",
    "2001:db8:100::%0\nshutdown/48",  # the second line would stop ExaBGP
]
BETA = [f"2001:db8:20{i:x}::/48" for i in range(8)]  # one batch of 8 to t1v6


def insert_diversion(
    db: Database,
    clock: Clock,
    customer: str = "acme",
    *,
    prefixes: tuple[str, ...] = (),
    targets: tuple[str, ...] = (),
) -> int:
    with db.write() as session:
        row = DiversionRow(customer=customer, prefixes=list(prefixes), sites=[],
                           targets=list(targets), more_specifics=False, reason="unvalidated",
                           requested_by="t", requested_at=clock())  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def agent_errors(db: Database) -> list[str]:
    with db.read() as session:
        query = select(EventRow).where(EventRow.action == "agent.error").order_by(EventRow.id)
        return [e.reason for e in session.scalars(query)]


def escaped(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")


@pytest.mark.parametrize("bad", ZONED_PREFIXES)
def test_a_stored_route_the_driver_refuses_costs_only_that_route(
    db: Database, clock: Clock, bad: str
) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    up(db, clock, "fra", "t1v6")
    insert_diversion(db, clock, prefixes=(bad,))
    divert(db, clock)  # the valid one: its /48 shares the bad route's batch
    result = agent.step()
    assert result is not None
    assert fake.prefixes(T1) == {"203.0.112.0/23"}
    assert fake.prefixes(T1V6) == {"2001:db8:100::/48"}
    assert [(str(r.peer), str(r.prefix)) for r in result.refused] == [(T1V6, bad)]
    assert all("\n" not in c and "%" not in c for c in fake.commands)
    assert agent_errors(db) == [
        f"t1v6 (2001:db8:ffff::1): announce {escaped(bad)} refused: not a plain prefix"
    ]


def test_the_agent_goes_on_after_a_refusal_and_reports_it_once(db: Database, clock: Clock) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    insert_diversion(db, clock, prefixes=(ZONED_PREFIXES[0],))
    agent.step()
    divert(db, clock, "beta", prefixes=tuple(BETA[:2]))  # a later change is still carried out
    result = agent.step()
    assert result is not None and result.refused == []  # not rendered again: unchanged
    assert agent.delivery.waiting() == 1
    assert fake.prefixes(T1V6) == set(BETA[:2])
    assert len(agent_errors(db)) == 1


def test_a_zone_id_target_costs_only_that_rtbh_route(db: Database, clock: Clock) -> None:
    """No site can scrub (fra's return path is down): RTBH of the named hosts."""
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    with db.write() as session:
        session.add(ReturnPathRow(customer="acme", site="fra", health="down", changed_at=clock()))
    bad = "2001:db8:100::7%eth0"
    insert_diversion(db, clock, targets=("2001:db8:100::8", bad))
    result = agent.step()
    assert result is not None
    assert fake.prefixes(T1V6) == {"2001:db8:100::8/128"}
    assert [str(r.prefix) for r in result.refused] == [f"{bad}/128"]


def test_an_error_for_one_route_costs_only_that_route(db: Database, clock: Clock) -> None:
    bad = BETA[5]
    fake = FakeExaBgp(error_if=lambda line: "announce" in line and bad in line)
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    divert(db, clock, "beta", prefixes=tuple(BETA))
    result = agent.step()
    assert result is not None
    assert fake.prefixes(T1V6) == set(BETA) - {bad}
    assert [str(r.prefix) for r in result.refused] == [bad]
    assert agent_errors(db) == [
        f"t1v6 (2001:db8:ffff::1): announce {bad} refused: ExaBGP answered error"
    ]


def test_a_route_exabgp_refused_waits_and_is_retried_alone(db: Database, clock: Clock) -> None:
    bad = BETA[5]
    refuse = {"on": True}
    fake = FakeExaBgp(error_if=lambda line: refuse["on"] and "announce" in line and bad in line)
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    divert(db, clock, "beta", prefixes=tuple(BETA[:6]))
    agent.step()
    sent = len(fake.commands)
    divert(db, clock, "beta", prefixes=tuple(BETA[6:]))  # a change before the retry is due
    agent.step()
    assert fake.prefixes(T1V6) == set(BETA) - {bad}
    assert not any(bad in c for c in fake.commands[sent:])  # not sent again meanwhile
    refuse["on"] = False
    clock.now += RETRY_AFTER
    sent = len(fake.commands)
    agent.step()
    assert fake.commands[sent:] == [
        "neighbor 2001:db8:ffff::1 announce attributes next-hop self as-path [64500 64497] "
        f"nlri {bad}"
    ]
    assert fake.prefixes(T1V6) == set(BETA)
    assert agent.wake_at is None


def test_an_error_for_one_withdrawal_costs_only_that_one(db: Database, clock: Clock) -> None:
    bad = BETA[2]
    fake = FakeExaBgp(error_if=lambda line: "withdraw" in line and bad in line)
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    divert(db, clock, "beta", prefixes=tuple(BETA))
    agent.step()
    diversions.stop(db, "beta", diversion_id=None, reason="over", actor="t", now=clock())
    result = agent.step()
    assert result is not None and result.withdrawn == len(BETA) - 1
    assert fake.prefixes(T1V6) == {bad}
    assert [(r.action, str(r.prefix)) for r in result.refused] == [("withdraw", bad)]


def test_a_peer_refusing_everything_costs_a_bounded_number_of_commands(
    db: Database, clock: Clock
) -> None:
    fake = FakeExaBgp(error_if=lambda line: "announce" in line)
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    divert(db, clock, "beta", prefixes=tuple(BETA))
    sent = len(fake.commands)
    result = agent.step()
    assert result is not None and len(result.refused) == len(BETA)
    assert len(fake.commands) - sent <= 1 + SPLIT_BUDGET
    assert fake.prefixes(T1V6) == set()


@pytest.mark.parametrize("bad", ["not-a-prefix", "2001:db8:100::1/48", "203.0.112.0/33"])
def test_a_stored_prefix_that_does_not_parse_skips_only_its_diversion(
    db: Database, clock: Clock, bad: str
) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1v6")
    ident = insert_diversion(db, clock, "beta", prefixes=(BETA[0], bad))
    divert(db, clock, "beta", prefixes=(BETA[1],))
    result = agent.step()
    assert result is not None
    assert fake.prefixes(T1V6) == {BETA[1]}  # not BETA[0]: its diversion is unreadable
    [error] = agent_errors(db)
    assert error.startswith(f"diversions[{ident}].prefixes[1]: stored value {bad!r} does not parse")
    assert error.endswith(f"diversion #{ident} ignored")
    clock.now += timedelta(seconds=1)
    divert(db, clock, "beta", prefixes=(BETA[2],))
    agent.step()
    assert fake.prefixes(T1V6) == {BETA[1], BETA[2]}
    assert len(agent_errors(db)) == 1  # reported once, not on every sync


def test_a_stored_target_that_does_not_parse_leaves_the_diversion_in_force(
    db: Database, clock: Clock
) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    ident = insert_diversion(db, clock, targets=("203.0.112.7", "not-an-address"))
    result = agent.step()
    assert result is not None and fake.prefixes(T1) == {"203.0.112.0/23"}
    assert agent_errors(db) == [
        f"diversions[{ident}].targets[1]: stored value 'not-an-address' does not parse "
        "('not-an-address' does not appear to be an IPv4 or IPv6 address); target ignored"
    ]


def test_an_unexpected_failure_keeps_the_agent_and_waits_before_trying_again(
    db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeExaBgp()
    agent = make_agent(db, fake, clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    real_plan = agent_module.plan

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("planner bug")

    monkeypatch.setattr(agent_module, "plan", broken)
    assert agent.step() is None  # no exception: the agent lives on
    assert agent_errors(db) == ["sync failed: RuntimeError: planner bug"]
    assert not agent.due()  # no spin: nothing changed and the retry is not due
    monkeypatch.setattr(agent_module, "plan", real_plan)
    clock.now += RETRY_AFTER
    agent.step()
    assert fake.prefixes(T1) == {"203.0.112.0/23"}
