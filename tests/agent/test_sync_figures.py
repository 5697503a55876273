"""Each sync's figures in the store (``agent_syncs``, for ``/metrics``): how long
it took and its errors; a sync with errors does not mark the site synced."""

from __future__ import annotations

import pytest
from agent_support import Clock, divert, make_agent, up

from orchestrator.site import agent as agent_module
from orchestrator.store.db import Database
from orchestrator.store.models import AgentSyncRow, SiteSyncRow
from orchestrator.testing.exabgp import FakeExaBgp


def figures(db: Database) -> tuple[AgentSyncRow | None, SiteSyncRow | None]:
    with db.read() as session:
        return session.get(AgentSyncRow, "fra"), session.get(SiteSyncRow, "fra")


def test_a_clean_sync_records_its_duration(db: Database, clock: Clock) -> None:
    agent = make_agent(db, FakeExaBgp(), clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    agent.step()
    row, synced = figures(db)
    assert row is not None and synced is not None
    assert (row.errors, row.syncs, row.failed) == (0, 1, 0)
    assert 0 < row.duration_s < 5
    assert row.finished_at == clock.now
    assert synced.generation == db.generation()


def test_a_sync_with_refused_routes_records_its_errors(db: Database, clock: Clock) -> None:
    agent = make_agent(db, FakeExaBgp(error_if=lambda line: "announce" in line), clock)
    up(db, clock, "fra", "t1")
    divert(db, clock)
    agent.step()
    row, synced = figures(db)
    assert row is not None
    assert row.errors == 2  # acme's /23 to t1 and its /48 to t1v6, each refused
    assert (row.syncs, row.failed) == (1, 1)
    assert synced is None  # not every route acknowledged: --wait goes on waiting


def test_a_failed_sync_counts_as_failed(
    db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = make_agent(db, FakeExaBgp(), clock)
    agent.step()  # a clean first sync

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("planner bug")

    monkeypatch.setattr(agent_module, "plan", broken)
    divert(db, clock)
    assert agent.step() is None
    row, _synced = figures(db)
    assert row is not None
    assert (row.errors, row.syncs, row.failed) == (1, 2, 1)
