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

from orchestrator.defaults import SYNC_TIMEOUT_MAX_S, SYNC_TIMEOUT_S, sync_seconds
from orchestrator.domain import Route
from orchestrator.errors import InvalidInput, NotFound, SyncTimeout
from orchestrator.planner import plan
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import snapshot
from orchestrator.store.db import Database
from orchestrator.store.models import SiteSyncRow

T = TypeVar("T")
Routes = dict[str, frozenset[tuple[Route, tuple[str, ...]]]]


@dataclass(frozen=True)
class Change:
    generation: int  # the change counter once the command committed
    affected: tuple[str, ...]  # sites whose planned routes it changed


class SiteSync(Result):
    site: str
    generation: int
    synced_at: Time


class WaitResult(Result):
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
                r.site: SiteSync(site=r.site, generation=r.generation, synced_at=r.synced_at)
                for r in rows
                if r.generation >= change.generation
            }
        missing = tuple(sorted(wanted - set(done)))
        if not missing or monotonic() >= deadline:
            acked = tuple(done[s] for s in sorted(done))
            return WaitResult(generation=change.generation, acknowledged=acked, timed_out=missing)
        sleep(min(poll, max(0.0, deadline - monotonic())))


def wait_limit(wait: bool, timeout: float | None) -> float:
    """The timeout a change waits for, checked: ``timeout`` only with ``wait``."""
    if timeout is not None and not wait:
        raise InvalidInput("only goes with {wait}", where="timeout", message_terms=True)
    limit = sync_seconds(timeout)
    if limit is None:
        raise InvalidInput(f"{timeout:g} must be more than 0 and at most {SYNC_TIMEOUT_MAX_S:g}",
                           where="timeout")  # fmt: skip
    return limit


def run(
    db: Database, wait: bool, timeout: float | None, now: datetime, command: Callable[[], T]
) -> tuple[T, WaitResult | None]:
    """Run ``command`` (a use case that changes intent); with ``wait``, block until the
    sites it affects have synced it, at most ``timeout`` seconds."""
    limit = wait_limit(wait, timeout)
    if not wait:
        return command(), None
    outcome, change = tracked(db, now, command)
    return outcome, wait_for_sites(db, change, timeout=limit)


def timeout_error(result: WaitResult | None, timeout: float | None) -> SyncTimeout | None:
    """The error for a wait that ran out (the change is committed), or None."""
    if result is None or result.ok:
        return None
    limit = SYNC_TIMEOUT_S if timeout is None else timeout
    return SyncTimeout(
        f"{', '.join(result.timed_out)} did not acknowledge change {result.generation} "
        f"within {limit:g} s",
        where="wait",
        hint="the change is committed; the site agents apply it when they can",
    )
