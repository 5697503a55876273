"""Use cases: start, stop and list diversions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import domain
from orchestrator.domain import MAX_SCRUB_LEN, IPAddress, IPNetwork, Mode
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.inventory import Customer, Inventory
from orchestrator.service.common import check_text, record_event, refuse_if_over_limits
from orchestrator.service.snapshot import active_diversions, load_inventory
from orchestrator.store.db import Database
from orchestrator.store.models import DiversionAckRow, DiversionRow


@dataclass(frozen=True)
class DivertRequest:
    customer: str
    reason: str
    prefixes: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    more_specifics: bool = False


@dataclass(frozen=True)
class _Valid:
    prefixes: tuple[IPNetwork, ...]
    sites: tuple[str, ...]
    targets: tuple[IPAddress, ...]


def parse_prefix(text: str, where: str) -> IPNetwork:
    try:
        return domain.parse_network(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), where=where) from None


def parse_address(text: str, where: str) -> IPAddress:
    try:
        return domain.parse_address(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), where=where) from None


def customer_or_fail(inv: Inventory, name: str) -> Customer:
    customer = inv.customers.get(name)
    if customer is None:
        known = ", ".join(sorted(inv.customers)) or "none"
        raise NotFound(f"unknown customer {name!r} (known: {known})", where="CUSTOMER")
    return customer


def _check_prefix(
    customer: Customer, cname: str, prefix: IPNetwork, where: str, more: bool
) -> None:
    entry = customer.authorising(prefix)
    if entry is None:
        allowed = ", ".join(str(e.prefix) for e in customer.prefixes)
        raise InvalidInput(f"{prefix} is not inside {cname}'s prefixes ({allowed})", where=where)
    limit = MAX_SCRUB_LEN[prefix.version]
    length = prefix.prefixlen + (1 if more else 0)
    what = f"{prefix} split into /{length}s" if more else str(prefix)
    if length > limit:
        raise InvalidInput(f"{what} is longer than /{limit}, which does not propagate", where=where)
    if length > entry.longest:
        raise InvalidInput(
            f"{what} is longer than max_length {entry.longest} of {entry.prefix}", where=where
        )


def validate(inv: Inventory, req: DivertRequest) -> _Valid:
    customer = customer_or_fail(inv, req.customer)
    prefixes = tuple(parse_prefix(p, f"--prefix[{i}]") for i, p in enumerate(req.prefixes))
    for i, prefix in enumerate(prefixes):
        _check_prefix(customer, req.customer, prefix, f"--prefix[{i}]", req.more_specifics)
    if not prefixes:
        for i, entry in enumerate(customer.prefixes):
            where = f"customers.{req.customer}.prefixes[{i}]"
            _check_prefix(customer, req.customer, entry.prefix, where, req.more_specifics)
    for i, site in enumerate(req.sites):
        if site not in inv.sites:
            raise NotFound(f"unknown site {site!r}", where=f"--site[{i}]")
        if customer.role_at(site) is None:
            raise InvalidInput(
                f"{req.customer} is not allowed at site {site}", where=f"--site[{i}]"
            )
    scope = prefixes or tuple(e.prefix for e in customer.prefixes)
    targets = tuple(parse_address(t, f"--target[{i}]") for i, t in enumerate(req.targets))
    for i, target in enumerate(targets):
        if not any(target in p for p in scope):
            raise InvalidInput(
                f"{target} is not inside the diverted prefixes", where=f"--target[{i}]"
            )
    return _Valid(
        tuple(sorted(set(prefixes), key=str)),
        tuple(sorted(set(req.sites))),
        tuple(sorted(set(targets), key=str)),
    )


def view(row: DiversionRow, acks: dict[str, datetime] | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer": row.customer,
        "prefixes": list(row.prefixes),
        "sites": list(row.sites),
        "targets": list(row.targets),
        "more_specifics": row.more_specifics,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat(),
        "stopped_at": row.stopped_at.isoformat() if row.stopped_at else None,
        "stopped_by": row.stopped_by,
        "state": "active" if row.stopped_at is None else "stopped",
        "acks": {site: at.isoformat() for site, at in sorted((acks or {}).items())},
    }


def _same(row: DiversionRow, valid: _Valid, more: bool) -> bool:
    return (
        row.prefixes == [str(p) for p in valid.prefixes]
        and row.sites == list(valid.sites)
        and row.targets == [str(t) for t in valid.targets]
        and row.more_specifics == more
    )


@dataclass(frozen=True)
class StartResult:
    diversion: dict[str, Any]
    created: bool
    note: str


def start(db: Database, req: DivertRequest, *, actor: str, now: datetime) -> StartResult:
    reason = check_text(req.reason, "--reason")
    with db.write() as session:
        inv = load_inventory(session)
        valid = validate(inv, req)
        for row in active_diversions(session):
            if row.customer == req.customer and _same(row, valid, req.more_specifics):
                result = StartResult(view(row), False, f"already active as diversion #{row.id}")
                session.rollback()  # nothing changed: no generation bump, no agent wakes up
                return result
        row = DiversionRow(
            customer=req.customer,
            prefixes=[str(p) for p in valid.prefixes],
            sites=list(valid.sites),
            targets=[str(t) for t in valid.targets],
            more_specifics=req.more_specifics,
            reason=reason,
            requested_by=actor,
            requested_at=now,
        )
        session.add(row)
        refuse_if_over_limits(session, inv, now)
        record_event(
            session,
            at=now,
            actor=actor,
            action="divert.start",
            target=req.customer,
            reason=reason,
            detail={
                "diversion": row.id,
                "prefixes": row.prefixes,
                "sites": row.sites,
                "targets": row.targets,
                "more_specifics": row.more_specifics,
            },
        )
        note = f"diversion #{row.id} started"
        if inv.customers[req.customer].mode is Mode.ALWAYS_ON:
            note += " (the customer is always-on: its prefixes were already diverted)"
        return StartResult(view(row), True, note)


def stop(
    db: Database,
    customer: str,
    *,
    diversion_id: int | None,
    reason: str,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    reason = check_text(reason, "--reason")
    with db.write() as session:
        customer_or_fail(load_inventory(session), customer)
        rows = [r for r in active_diversions(session) if r.customer == customer]
        if diversion_id is not None:
            rows = [r for r in rows if r.id == diversion_id]
        if not rows:
            which = f"#{diversion_id}" if diversion_id is not None else "diversion"
            raise NotFound(f"no active {which} for {customer}", where="CUSTOMER")
        for row in rows:
            row.stopped_at, row.stopped_by, row.stop_reason = now, actor, reason
            record_event(
                session,
                at=now,
                actor=actor,
                action="divert.stop",
                target=customer,
                reason=reason,
                detail={"diversion": row.id},
            )
        return [view(r) for r in rows]


def acks_by_diversion(session: Session) -> dict[int, dict[str, datetime]]:
    acks: dict[int, dict[str, datetime]] = {}
    for ack in session.scalars(select(DiversionAckRow)):
        acks.setdefault(ack.diversion_id, {})[ack.site] = ack.first_acked_at
    return acks


def list_(db: Database, *, include_stopped: bool) -> list[dict[str, Any]]:
    with db.read() as session:
        query = select(DiversionRow).order_by(DiversionRow.id)
        if not include_stopped:
            query = query.where(DiversionRow.stopped_at.is_(None))
        acks = acks_by_diversion(session)
        return [view(r, acks.get(r.id)) for r in session.scalars(query)]
