"""Sync marks for ``--wait`` and make-before-break between two agents on fake ExaBGPs."""

from __future__ import annotations

from agent_support import T1, T2, Clock, divert, make_agent, routes_at, up

from orchestrator.domain import GRACEFUL_SHUTDOWN
from orchestrator.service import moves, observed
from orchestrator.site.agent import Agent
from orchestrator.store.db import Database
from orchestrator.store.models import ReturnPathRow, SiteSyncRow
from orchestrator.testing.exabgp import FakeExaBgp


def _mark(db: Database, site: str) -> int | None:
    with db.read() as session:
        row = session.get(SiteSyncRow, site)
    return None if row is None else row.generation


def test_a_clean_sync_marks_the_generation(db: Database, clock: Clock) -> None:
    agent = make_agent(db, FakeExaBgp(), clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    generation = db.generation()
    result = agent.step()
    assert result is not None and not result.errors
    assert _mark(db, "fra") == generation


def test_a_sync_with_a_refused_route_marks_nothing(db: Database, clock: Clock) -> None:
    agent = make_agent(db, FakeExaBgp(error_if=lambda line: "announce" in line), clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    result = agent.step()
    assert result is not None and result.errors
    assert _mark(db, "fra") is None


def _two_sites(
    db: Database, clock: Clock, *, ams_synced: bool = True
) -> tuple[FakeExaBgp, FakeExaBgp, list[Agent]]:
    fra_bgp, ams_bgp = FakeExaBgp(), FakeExaBgp()
    fra = make_agent(db, fra_bgp, clock, "fra")
    ams = make_agent(db, ams_bgp, clock, "ams")
    up(db, clock, "fra", "t1")
    up(db, clock, "ams", "t2")
    divert(db, clock, prefixes=("203.0.112.0/23",))
    fra.step()
    if ams_synced:
        ams.step()
    return fra_bgp, ams_bgp, [fra, ams]


def test_move_withdraws_from_the_old_site_only_after_the_new_one_acked(
    db: Database, clock: Clock
) -> None:
    # ams has not announced acme yet (had it, even as a prepended backup, fra could
    # withdraw at once: a route through ams would already be there)
    fra_bgp, ams_bgp, (fra, ams) = _two_sites(db, clock, ams_synced=False)
    assert ams_bgp.prefixes(T2) == set()
    moves.failover(db, "acme", "fra", "ams", reason="t", force=False, actor="t", now=clock())
    fra.step()
    # ams has not acknowledged its new route yet: fra keeps the prefix, GRACEFUL_SHUTDOWN
    [held] = routes_at(fra_bgp, T1)
    assert GRACEFUL_SHUTDOWN in held.communities
    ams.step()
    [moved] = routes_at(ams_bgp, T2)
    assert moved.as_path == (64500, 64496)  # primary while moved: no prepend
    fra.step()  # ams's acknowledgement woke it
    assert fra_bgp.prefixes(T1) == set()


def test_failback_announces_from_the_old_site_again(db: Database, clock: Clock) -> None:
    fra_bgp, ams_bgp, (fra, ams) = _two_sites(db, clock)
    moves.failover(db, "acme", "fra", None, reason="t", force=False, actor="t", now=clock())
    for agent in (fra, ams, fra):
        agent.step()
    assert fra_bgp.prefixes(T1) == set()
    moves.failback(db, "acme", reason="t", actor="t", now=clock())
    fra.step()
    [route] = routes_at(fra_bgp, T1)
    assert route.as_path == (64500, 64496) and GRACEFUL_SHUTDOWN not in route.communities
    assert ams_bgp.prefixes(T2) == {"203.0.112.0/23"}


def test_unplanned_path_failure_withdraws_at_once(db: Database, clock: Clock) -> None:
    fra_bgp, _ams_bgp, (fra, _ams) = _two_sites(db, clock)
    with db.write() as session:
        session.add(ReturnPathRow(customer="acme", site="fra", health="down", changed_at=clock()))
    fra.step()
    assert fra_bgp.prefixes(T1) == set()
    assert observed.site_established(db, "fra")
