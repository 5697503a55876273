"""Use cases: add, remove and list RTBH entries.

An entry is either *forced* (announced now, whatever the scrubbing sites can
do) or *standby* (announced only while no site can scrub the customer, and only
for customers whose policy allows RTBH as last resort). Both need a reason
and an expiry: RTBH completes the attacker's job for that host.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from orchestrator.domain import IPNetwork, host_route, parse_address, parse_network
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.inventory import Inventory
from orchestrator.planner import owner_of
from orchestrator.service.common import check_text, record_event, refuse_if_over_limits
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import active_rtbh, load_inventory
from orchestrator.store.db import Database
from orchestrator.store.models import RtbhRow


def parse_host(text: str, where: str = "host") -> IPNetwork:
    """An address (taken as a host route) or a prefix with no host bits set."""
    try:
        if isinstance(text, str) and "/" in text:
            return parse_network(text)
        return host_route(parse_address(text))
    except ValueError as exc:
        raise InvalidInput(str(exc), where=where) from None


def validate(inv: Inventory, prefix: IPNetwork, *, forced: bool) -> str:
    """Return the owning customer's name, or refuse."""
    shortest = inv.policy.rtbh.min_length(prefix.version)
    if prefix.prefixlen < shortest:
        raise InvalidInput(
            f"{prefix} is wider than /{shortest}: RTBH is for host routes",
            where="host",
            hint="policy.rtbh.min_length_v4/v6 widens it",
        )
    cname = owner_of(inv, prefix)
    if cname is None:
        raise InvalidInput(f"{prefix} is not inside any customer's prefixes", where="host")
    if not forced and not inv.customers[cname].rtbh_last_resort:
        raise InvalidInput(
            f"{cname} does not allow RTBH as last resort (rtbh_last_resort: false)",
            where="host",
            hint="{force} with a reason overrides it",
        )
    return cname


class RtbhView(Result):
    id: int
    prefix: str
    customer: str
    forced: bool
    reason: str
    requested_by: str
    created_at: Time
    expires_at: Time
    removed_at: Time | None


class AddResult(Result):
    entry: RtbhView
    created: bool  # False: the same entry was active; its expiry was extended (if later)
    note: str


def view(row: RtbhRow) -> RtbhView:
    return RtbhView(id=row.id, prefix=row.prefix, customer=row.customer, forced=row.forced,
                    reason=row.reason, requested_by=row.requested_by, created_at=row.created_at,
                    expires_at=row.expires_at, removed_at=row.removed_at)  # fmt: skip


def add(
    db: Database,
    host: str,
    *,
    reason: str,
    expires: timedelta,
    forced: bool,
    actor: str,
    now: datetime,
) -> AddResult:
    prefix = parse_host(host)
    reason = check_text(reason, "reason")
    with db.write() as session:
        inv = load_inventory(session)
        cname = validate(inv, prefix, forced=forced)
        expires_at = now + expires
        for row in active_rtbh(session, now):
            if row.prefix == str(prefix) and row.forced == forced:
                row.expires_at = max(row.expires_at, expires_at)
                record_event(
                    session,
                    at=now,
                    actor=actor,
                    action="rtbh.extend",
                    target=str(prefix),
                    reason=reason,
                    detail={"rtbh": row.id, "expires_at": row.expires_at.isoformat()},
                )
                note = f"RTBH #{row.id} already active; expires {row.expires_at:%F %T}Z"
                return AddResult(entry=view(row), created=False, note=note)
        row = RtbhRow(
            prefix=str(prefix),
            customer=cname,
            forced=forced,
            reason=reason,
            requested_by=actor,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(row)
        refuse_if_over_limits(session, inv, now)
        record_event(
            session,
            at=now,
            actor=actor,
            action="rtbh.add",
            target=str(prefix),
            reason=reason,
            detail={"rtbh": row.id, "forced": forced, "expires_at": expires_at.isoformat()},
        )
        kind = "forced" if forced else "standby (used only while no site can scrub)"
        note = f"RTBH #{row.id} added, {kind}, expires {expires_at:%F %T}Z"
        return AddResult(entry=view(row), created=True, note=note)


def remove(db: Database, host: str, *, reason: str, actor: str, now: datetime) -> list[RtbhView]:
    prefix = parse_host(host)
    reason = check_text(reason, "reason")
    with db.write() as session:
        rows = [r for r in active_rtbh(session, now) if r.prefix == str(prefix)]
        if not rows:
            raise NotFound(f"no active RTBH entry for {prefix}", where="host")
        for row in rows:
            row.removed_at, row.removed_by = now, actor
            record_event(
                session,
                at=now,
                actor=actor,
                action="rtbh.remove",
                target=row.prefix,
                reason=reason,
                detail={"rtbh": row.id},
            )
        return [view(r) for r in rows]


def list_(db: Database, *, now: datetime, include_ended: bool) -> list[RtbhView]:
    with db.read() as session:
        if include_ended:
            rows = list(session.scalars(select(RtbhRow).order_by(RtbhRow.id)))
        else:
            rows = active_rtbh(session, now)
        return [view(r) for r in rows]
