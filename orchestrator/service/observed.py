"""What the sites write: session state, acknowledged routes, first acks, path health.

A session change alters what the planner decides for every site, so it bumps
the change counter (other agents wake up). Route acknowledgements do not
change any plan and are written without a bump, so they cause no re-plan.

The same for a return path's health (written by the site's return-path
loop): a transition bumps and is an audit event (``path.up``, ``path.down``,
``path.unknown`` with the cause, loss and RTT); the periodic figures (loss,
RTT, time of the last probe) are written without a bump, and so are the
samples of each path's history (with their pruning, in the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from orchestrator.domain import Health, Route
from orchestrator.service.common import record_event
from orchestrator.service.snapshot import active_diversions
from orchestrator.store.db import Database
from orchestrator.store.models import (
    AgentSyncRow,
    AnnouncedRow,
    DiversionAckRow,
    ReturnPathRow,
    ReturnPathSampleRow,
    SessionRow,
    SiteSyncRow,
)

CHUNK = 500  # prefixes per IN (...) clause: well under SQLite's variable limit

ACTOR = "agent"
PATH_ACTOR = "return-paths"


def _set_session(
    session: Session, site: str, peer: str, state: str, reason: str, now: datetime
) -> bool:
    row = session.get(SessionRow, (site, peer))
    established = state == "up"
    if row is not None and row.state == state and row.established == established:
        return False
    if row is None:
        row = SessionRow(site=site, peer=peer)
        session.add(row)
    row.state, row.established, row.reason, row.changed_at = state, established, reason, now
    return True


def record_session(
    db: Database, site: str, peer: str, state: str, reason: str, now: datetime
) -> None:
    with db.write() as session:
        if _set_session(session, site, peer, state, reason, now):
            record_event(session, at=now, actor=ACTOR, action=f"bgp.{state}",
                         target=f"{site}/{peer}", reason=reason)  # fmt: skip


def site_established(db: Database, site: str) -> bool:
    """Whether any BGP session of ``site`` is recorded as established."""
    query = select(SessionRow.peer).where(SessionRow.site == site, SessionRow.established)
    with db.read() as session:
        return session.scalars(query.limit(1)).first() is not None


def mark_site_down(
    db: Database, site: str, peers: Iterable[str], reason: str, now: datetime
) -> None:
    """ExaBGP (re)starting or stopped: none of the site's sessions is established."""
    with db.write() as session:
        changed = [p for p in peers if _set_session(session, site, p, "down", reason, now)]
        session.execute(delete(AnnouncedRow).where(AnnouncedRow.site == site))
        if changed:
            record_event(session, at=now, actor=ACTOR, action="bgp.down", target=site,
                         reason=reason, detail={"peers": changed})  # fmt: skip


def record_routes(
    db: Database,
    site: str,
    peer: str,
    announced: list[Route],
    withdrawn: list[str],
    now: datetime,
) -> None:
    if not announced and not withdrawn:
        return
    rows = [
        {"site": site, "peer": peer, "prefix": str(route.prefix), "attributes": text,
         "acked_at": now}
        for route, text in zip(announced, _attribute_texts(announced), strict=True)
    ]  # fmt: skip
    prefixes = [row["prefix"] for row in rows] + withdrawn
    with db.write(bump=False) as session:
        for start in range(0, len(prefixes), CHUNK):
            chunk = prefixes[start : start + CHUNK]
            session.execute(
                delete(AnnouncedRow).where(
                    AnnouncedRow.site == site,
                    AnnouncedRow.peer == peer,
                    AnnouncedRow.prefix.in_(chunk),
                )
            )
        if rows:  # a Core insert: the ORM's per-row bookkeeping doubles the cost at 50k
            session.execute(insert(cast(Table, AnnouncedRow.__table__)), rows)


def _attribute_texts(routes: list[Route]) -> Iterator[str]:
    """``attributes_text()`` per route, rendered once per run of routes with the same
    attributes (they come in such runs; rendering each costs ~0.5 s at 50,000)."""
    last: tuple[object, ...] | None = None
    text = ""
    for route in routes:
        key = route.wire_key()
        if key != last:
            last, text = key, route.attributes_text()
        yield text


def record_first_acks(db: Database, site: str, customers: set[str], now: datetime) -> None:
    """Time to mitigate: the first acknowledgement of each active diversion at ``site``."""
    if not customers:
        return
    with db.write(bump=False) as session:
        done = set(
            session.scalars(
                select(DiversionAckRow.diversion_id).where(DiversionAckRow.site == site)
            )
        )
        for row in active_diversions(session):
            if row.customer in customers and row.id not in done:
                session.add(DiversionAckRow(diversion_id=row.id, site=site, first_acked_at=now))


def record_agent_event(db: Database, site: str, action: str, reason: str, now: datetime) -> None:
    with db.write(bump=False) as session:
        record_event(session, at=now, actor=ACTOR, action=action, target=site, reason=reason)


def record_site_sync(db: Database, site: str, generation: int, now: datetime) -> None:
    """The agent of ``site`` brought ExaBGP up to the plan of change counter
    ``generation``, every route acknowledged (``--wait`` reads it). No bump: it
    changes no plan."""
    with db.write(bump=False) as session:
        _mark_synced(session, site, generation, now)


def _mark_synced(session: Session, site: str, generation: int, now: datetime) -> None:
    row = session.get(SiteSyncRow, site)
    if row is None:
        session.add(SiteSyncRow(site=site, generation=generation, synced_at=now))
    elif generation >= row.generation:
        row.generation, row.synced_at = generation, now


@dataclass(frozen=True)
class SyncRun:
    """One sync of a site's agent: how long it took, how many errors it had, and the
    change counter it brought ExaBGP up to (None: not every route acknowledged)."""

    duration_s: float
    errors: int
    generation: int | None


def record_sync(db: Database, site: str, run: SyncRun, now: datetime) -> None:
    """The figures of one sync, and (if it completed) the site's sync mark, in one
    transaction without a bump."""
    with db.write(bump=False) as session:
        if run.generation is not None:
            _mark_synced(session, site, run.generation, now)
        row = session.get(AgentSyncRow, site)
        if row is None:
            row = AgentSyncRow(site=site, syncs=0, failed=0)
            session.add(row)
        row.finished_at, row.duration_s, row.errors = now, run.duration_s, run.errors
        row.syncs += 1
        row.failed += 1 if run.errors else 0


def wake_agents(db: Database) -> None:
    """Bump the change counter alone: a site's new acknowledgement lets a site that is
    leaving a customer by plan withdraw (make-before-break), so its agent must re-plan."""
    with db.write():
        pass


@dataclass(frozen=True)
class PathReading:
    """One path's health as the loop sees it; ``transition``: the health just changed."""

    customer: str
    health: Health
    cause: str
    loss: float | None
    rtt_ms: float | None
    checked_at: datetime | None
    transition: bool = False


@dataclass(frozen=True)
class StoredHealth:
    health: Health | None  # None: a value the store holds that is not a health
    cause: str


@dataclass(frozen=True)
class PathSample:
    """One path's health and figures at one moment, for its history."""

    customer: str
    health: Health
    loss: float | None
    rtt_ms: float | None


@dataclass(frozen=True)
class HistoryLimits:
    """How much history a site keeps per path: nothing older than ``keep``, at most
    ``count`` samples (a flapping path's transitions add samples)."""

    keep: timedelta
    count: int


def record_path_health(
    db: Database,
    site: str,
    readings: Sequence[PathReading],
    now: datetime,
    *,
    samples: Sequence[PathSample] = (),
    limits: HistoryLimits | None = None,
) -> None:
    """Write ``readings`` and ``samples`` in one transaction (then prune the site's
    history to ``limits``); bump only if a reading is a transition."""
    if not readings and not samples:
        return
    with db.write(bump=any(r.transition for r in readings)) as session:
        if samples:
            session.execute(insert(cast(Table, ReturnPathSampleRow.__table__)), [
                {"customer": s.customer, "site": site, "at": now, "health": s.health.value,
                 "loss": s.loss, "rtt_ms": s.rtt_ms} for s in samples
            ])  # fmt: skip
        if limits is not None:
            _prune_history(session, site, [s.customer for s in samples], now, limits)
        for reading in readings:
            row = session.get(ReturnPathRow, (reading.customer, site))
            if row is None:
                row = ReturnPathRow(customer=reading.customer, site=site)
                session.add(row)
                row.health, row.detail, row.changed_at = reading.health.value, reading.cause, now
            if reading.transition:
                row.health, row.detail, row.changed_at = reading.health.value, reading.cause, now
                record_event(session, at=now, actor=PATH_ACTOR,
                             action=f"path.{reading.health.value}",
                             target=f"{site}/{reading.customer}", reason=reading.cause,
                             detail={"loss": reading.loss, "rtt_ms": reading.rtt_ms})  # fmt: skip
            row.loss, row.rtt_ms, row.checked_at = reading.loss, reading.rtt_ms, reading.checked_at


def _prune_history(
    session: Session, site: str, customers: Sequence[str], now: datetime, limits: HistoryLimits
) -> None:
    """Delete the site's samples older than ``limits.keep`` (every path's, a removed one's
    too) and, per path of ``customers``, all but the newest ``limits.count``."""
    table = ReturnPathSampleRow
    session.execute(delete(table).where(table.site == site, table.at < now - limits.keep))
    for customer in customers:
        oldest_kept = session.scalars(
            select(table.id)
            .where(table.site == site, table.customer == customer)
            .order_by(table.id.desc())
            .offset(limits.count - 1)
            .limit(1)
        ).first()
        if oldest_kept is not None:
            older = (table.site == site, table.customer == customer, table.id < oldest_kept)
            session.execute(delete(table).where(*older))


def stored_health(db: Database, site: str) -> dict[str, StoredHealth]:
    """The health each path of ``site`` had when the loop last wrote it."""
    with db.read() as session:
        rows = session.scalars(select(ReturnPathRow).where(ReturnPathRow.site == site))
        result = {}
        for row in rows:
            try:
                health: Health | None = Health(row.health)
            except ValueError:
                health = None
            result[row.customer] = StoredHealth(health, row.detail)
        return result


def forget_paths(db: Database, site: str, keep: Sequence[str]) -> int:
    """Remove the rows of paths the inventory no longer has at ``site``."""
    query = select(ReturnPathRow.customer).where(
        ReturnPathRow.site == site, ReturnPathRow.customer.not_in(list(keep))
    )
    with db.read() as session:
        gone = list(session.scalars(query))
    if not gone:
        return 0
    with db.write() as session:
        health, history = ReturnPathRow, ReturnPathSampleRow
        session.execute(delete(health).where(health.site == site, health.customer.in_(gone)))
        session.execute(delete(history).where(history.site == site, history.customer.in_(gone)))
    return len(gone)
