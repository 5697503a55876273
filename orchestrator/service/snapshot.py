"""Read the database into the planner's typed inputs (and nothing else)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.domain import (
    AdminState,
    Diversion,
    Health,
    Intent,
    Observed,
    RtbhEntry,
    SiteAdmin,
)
from orchestrator.errors import NotFound, ScrubError
from orchestrator.inventory import Inventory
from orchestrator.store.models import (
    DiversionRow,
    InventoryObject,
    ReturnPathRow,
    RtbhRow,
    SessionRow,
    SiteAdminRow,
)


def load_inventory(session: Session) -> Inventory:
    rows = session.scalars(select(InventoryObject)).all()
    policy = [r.spec for r in rows if r.kind == "policy"]
    if not policy:
        raise NotFound("no inventory loaded", hint="run `scrubctl inventory apply FILE` first")
    data = {
        "policy": policy[0],
        "sites": {r.name: r.spec for r in rows if r.kind == "site"},
        "customers": {r.name: r.spec for r in rows if r.kind == "customer"},
    }
    try:
        return Inventory.model_validate(data)
    except ValidationError as exc:  # written by an older, incompatible version
        raise ScrubError(
            f"stored inventory no longer validates: {exc.errors()[0]['msg']}"
        ) from None


def diversion_from_row(row: DiversionRow) -> Diversion:
    return Diversion(
        id=row.id,
        customer=row.customer,
        prefixes=tuple(ipaddress.ip_network(p) for p in row.prefixes),
        sites=tuple(row.sites),
        targets=tuple(ipaddress.ip_address(t) for t in row.targets),
        more_specifics=row.more_specifics,
        requested_at=row.requested_at,
    )


def active_diversions(session: Session) -> list[DiversionRow]:
    query = select(DiversionRow).where(DiversionRow.stopped_at.is_(None)).order_by(DiversionRow.id)
    return list(session.scalars(query))


def active_rtbh(session: Session, now: datetime) -> list[RtbhRow]:
    query = (
        select(RtbhRow)
        .where(RtbhRow.removed_at.is_(None), RtbhRow.expires_at > now)
        .order_by(RtbhRow.id)
    )
    return list(session.scalars(query))


def load_intent(session: Session, now: datetime) -> Intent:
    rtbh = tuple(
        RtbhEntry(
            id=row.id,
            prefix=ipaddress.ip_network(row.prefix),
            reason=row.reason,
            expires_at=row.expires_at,
            forced=row.forced,
        )
        for row in active_rtbh(session, now)
    )
    admin = {
        row.site: SiteAdmin(AdminState(row.state), row.since)
        for row in session.scalars(select(SiteAdminRow))
    }
    diversions = tuple(diversion_from_row(r) for r in active_diversions(session))
    return Intent(diversions=diversions, rtbh=rtbh, site_admin=admin)


def load_observed(session: Session) -> Observed:
    sessions = {(r.site, r.peer): r.established for r in session.scalars(select(SessionRow))}
    paths = {(r.customer, r.site): Health(r.health) for r in session.scalars(select(ReturnPathRow))}
    return Observed(sessions=sessions, return_paths=paths)


def assume_all_up(inv: Inventory) -> Observed:
    """What-if: every BGP session established and every return path healthy."""
    return Observed(
        sessions={(name, p.name): True for name, site in inv.sites.items() for p in site.peers},
        return_paths={
            (cname, site): Health.UP
            for cname, customer in inv.customers.items()
            for site in customer.return_paths
        },
    )


@dataclass(frozen=True)
class Snapshot:
    inventory: Inventory
    intent: Intent
    observed: Observed
    now: datetime


def snapshot(session: Session, now: datetime, *, assume_up: bool = False) -> Snapshot:
    inv = load_inventory(session)
    observed = assume_all_up(inv) if assume_up else load_observed(session)
    return Snapshot(inv, load_intent(session, now), observed, now)
