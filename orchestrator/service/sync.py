"""``--wait``: after a command, block until every site it affects has brought ExaBGP
up to the change.

A command's *affected* sites are those whose planned routes differ between the
plan before and after it. The agent of a site records ``site_sync`` (the change
counter it synced, every route acknowledged); the wait ends when each affected
site's mark has reached the counter the command committed, or at the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select

from orchestrator.domain import Route
from orchestrator.errors import NotFound
from orchestrator.planner import plan
from orchestrator.service.snapshot import snapshot
from orchestrator.store.db import Database
from orchestrator.store.models import SiteSyncRow

T = TypeVar("T")
Routes = dict[str, frozenset[tuple[Route, tuple[str, ...]]]]


@dataclass(frozen=True)
class Change:
    generation: int  # the change counter once the command committed
    affected: tuple[str, ...]  # sites whose planned routes it changed


@dataclass(frozen=True)
class SiteSync:
    site: str
    generation: int
    synced_at: datetime


@dataclass(frozen=True)
class WaitResult:
    generation: int
    acknowledged: tuple[SiteSync, ...]  # affected sites synced to ``generation`` or later
    timed_out: tuple[str, ...]  # affected sites that did not within the timeout

    @property
    def ok(self) -> bool:
        return not self.timed_out


def planned_routes(db: Database, now: datetime) -> Routes:
    """Per site, the (route, peers) it must announce now; none without an inventory."""
    try:
        with db.read() as session:
            snap = snapshot(session, now)
    except NotFound:
        return {}
    result = plan(snap.inventory, snap.intent, snap.observed, now, check=False)
    return {site: frozenset((p.route, p.peers) for p in routes)
            for site, routes in result.routes.items()}  # fmt: skip


def tracked(db: Database, now: datetime, command: Callable[[], T]) -> tuple[T, Change]:
    """Run ``command`` and say which sites it changed, and at which change counter."""
    before = planned_routes(db, now)
    outcome = command()
    generation = db.generation()
    after = planned_routes(db, now)
    affected = sorted(
        site for site in set(before) | set(after) if before.get(site) != after.get(site)
    )
    return outcome, Change(generation, tuple(affected))


def wait_for_sites(
    db: Database,
    change: Change,
    *,
    timeout: float,
    poll: float = 0.1,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Block until every affected site has synced ``change.generation`` or later, or
    ``timeout`` seconds have passed. No affected site: returns at once."""
    deadline = monotonic() + timeout
    wanted = set(change.affected)
    while True:
        with db.read() as session:
            rows = session.scalars(select(SiteSyncRow).where(SiteSyncRow.site.in_(wanted)))
            done = {
                r.site: SiteSync(r.site, r.generation, r.synced_at)
                for r in rows
                if r.generation >= change.generation
            }
        missing = tuple(sorted(wanted - set(done)))
        if not missing or monotonic() >= deadline:
            acked = tuple(done[s] for s in sorted(done))
            return WaitResult(change.generation, acked, missing)
        sleep(min(poll, max(0.0, deadline - monotonic())))
