"""Use cases: start, stop and list diversions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import domain
from orchestrator.domain import MAX_SCRUB_LEN, IPAddress, IPNetwork, Mode
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.inventory import Customer, Inventory
from orchestrator.service.common import check_text, record_event, refuse_if_over_limits
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import active_diversions, load_inventory
from orchestrator.store.db import Database, unchanged
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
        raise NotFound(f"unknown customer {name!r} (known: {known})", where="customer")
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
    prefixes = tuple(parse_prefix(p, f"prefixes[{i}]") for i, p in enumerate(req.prefixes))
    for i, prefix in enumerate(prefixes):
        _check_prefix(customer, req.customer, prefix, f"prefixes[{i}]", req.more_specifics)
    if not prefixes:
        for i, entry in enumerate(customer.prefixes):
            where = f"customers.{req.customer}.prefixes[{i}]"
            _check_prefix(customer, req.customer, entry.prefix, where, req.more_specifics)
    for i, site in enumerate(req.sites):
        if site not in inv.sites:
            raise NotFound(f"unknown site {site!r}", where=f"sites[{i}]")
        if customer.role_at(site) is None:
            raise InvalidInput(f"{req.customer} is not allowed at site {site}", where=f"sites[{i}]")
    scope = prefixes or tuple(e.prefix for e in customer.prefixes)
    targets = tuple(parse_address(t, f"targets[{i}]") for i, t in enumerate(req.targets))
    for i, target in enumerate(targets):
        if not any(target in p for p in scope):
            raise InvalidInput(
                f"{target} is not inside the diverted prefixes", where=f"targets[{i}]"
            )
    return _Valid(
        tuple(sorted(set(prefixes), key=str)),
        tuple(sorted(set(req.sites))),
        tuple(sorted(set(targets), key=str)),
    )


class DiversionView(Result):
    id: int
    customer: str
    prefixes: tuple[str, ...]  # empty: all of the customer's prefixes
    sites: tuple[str, ...]  # empty: the customer's sites by policy
    targets: tuple[str, ...]
    more_specifics: bool
    reason: str
    requested_by: str
    requested_at: Time
    stopped_at: Time | None
    stopped_by: str | None
    state: Literal["active", "stopped"]
    acks: dict[str, Time]  # site -> its first acknowledgement of this diversion


def view(row: DiversionRow, acks: dict[str, datetime] | None = None) -> DiversionView:
    return DiversionView(
        id=row.id,
        customer=row.customer,
        prefixes=tuple(row.prefixes),
        sites=tuple(row.sites),
        targets=tuple(row.targets),
        more_specifics=row.more_specifics,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        stopped_at=row.stopped_at,
        stopped_by=row.stopped_by,
        state="active" if row.stopped_at is None else "stopped",
        acks=dict(sorted((acks or {}).items())),
    )


def _same(row: DiversionRow, valid: _Valid, more: bool) -> bool:
    return (
        row.prefixes == [str(p) for p in valid.prefixes]
        and row.sites == list(valid.sites)
        and row.targets == [str(t) for t in valid.targets]
        and row.more_specifics == more
    )


class StartResult(Result):
    diversion: DiversionView
    created: bool  # False: the same request was active already; nothing changed
    note: str


@dataclass(frozen=True)
class Started:
    """``start_in``'s outcome inside the caller's transaction: the row (new, or the
    identical one already active) and whether it was created."""

    row: DiversionRow
    created: bool


def start_in(
    session: Session,
    inv: Inventory,
    req: DivertRequest,
    *,
    reason: str,
    actor: str,
    now: datetime,
    action: str = "divert.start",
    detail: dict[str, Any] | None = None,
) -> Started:
    """Start a diversion inside the caller's write transaction (one event, ``action``),
    or find the identical active one (nothing written)."""
    valid = validate(inv, req)
    for row in active_diversions(session):
        if row.customer == req.customer and _same(row, valid, req.more_specifics):
            return Started(row, False)
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
        action=action,
        target=req.customer,
        reason=reason,
        detail={
            "diversion": row.id,
            "prefixes": row.prefixes,
            "sites": row.sites,
            "targets": row.targets,
            "more_specifics": row.more_specifics,
            **(detail or {}),
        },
    )
    return Started(row, True)


def start(db: Database, req: DivertRequest, *, actor: str, now: datetime) -> StartResult:
    reason = check_text(req.reason, "reason")
    with db.write() as session:
        inv = load_inventory(session)
        started = start_in(session, inv, req, reason=reason, actor=actor, now=now)
        row = started.row
        if not started.created:
            note = f"already active as diversion #{row.id}"
            result = StartResult(diversion=view(row), created=False, note=note)
            unchanged(session)
            return result
        note = f"diversion #{row.id} started"
        if inv.customers[req.customer].mode is Mode.ALWAYS_ON:
            note += " (the customer is always-on: its prefixes were already diverted)"
        return StartResult(diversion=view(row), created=True, note=note)


def stop_rows(
    session: Session,
    rows: list[DiversionRow],
    *,
    reason: str,
    actor: str,
    now: datetime,
    action: str = "divert.stop",
    detail: dict[str, Any] | None = None,
) -> None:
    """Stop ``rows`` inside the caller's transaction, one ``action`` event each."""
    for row in rows:
        row.stopped_at, row.stopped_by, row.stop_reason = now, actor, reason
        record_event(session, at=now, actor=actor, action=action, target=row.customer,
                     reason=reason, detail={"diversion": row.id, **(detail or {})})  # fmt: skip


def stop(
    db: Database,
    customer: str,
    *,
    diversion_id: int | None,
    reason: str,
    actor: str,
    now: datetime,
) -> list[DiversionView]:
    reason = check_text(reason, "reason")
    with db.write() as session:
        customer_or_fail(load_inventory(session), customer)
        rows = [r for r in active_diversions(session) if r.customer == customer]
        if diversion_id is not None:
            rows = [r for r in rows if r.id == diversion_id]
        if not rows:
            which = f"#{diversion_id}" if diversion_id is not None else "diversion"
            raise NotFound(f"no active {which} for {customer}", where="customer")
        stop_rows(session, rows, reason=reason, actor=actor, now=now)
        return [view(r) for r in rows]


def acks_by_diversion(session: Session) -> dict[int, dict[str, datetime]]:
    acks: dict[int, dict[str, datetime]] = {}
    for ack in session.scalars(select(DiversionAckRow)):
        acks.setdefault(ack.diversion_id, {})[ack.site] = ack.first_acked_at
    return acks


def list_(db: Database, *, include_stopped: bool) -> list[DiversionView]:
    with db.read() as session:
        query = select(DiversionRow).order_by(DiversionRow.id)
        if not include_stopped:
            query = query.where(DiversionRow.stopped_at.is_(None))
        acks = acks_by_diversion(session)
        return [view(r, acks.get(r.id)) for r in session.scalars(query)]
