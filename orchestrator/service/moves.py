"""Use cases: move a customer away from a site that still works (``failover``), and
end that move (``failback``). One active move per customer.

The move itself is make-before-break (see the planner): the site it leaves keeps
each prefix, with GRACEFUL_SHUTDOWN, until another eligible site has it
acknowledged. A move that would leave a protected customer unprotected (no other
site eligible, or one that cannot carry all its prefixes) is refused unless
forced, as ``site drain`` refuses one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.domain import Protection
from orchestrator.errors import Conflict, InvalidInput, NotFound
from orchestrator.inventory import Customer, Inventory
from orchestrator.planner import plan
from orchestrator.service.common import check_text, record_event
from orchestrator.service.diversions import customer_or_fail
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import load_intent, load_inventory, load_observed
from orchestrator.store.db import Database, unchanged
from orchestrator.store.models import MoveRow


class MoveView(Result):
    id: int
    customer: str
    from_site: str
    to_site: str | None
    reason: str
    requested_by: str
    requested_at: Time
    ended_at: Time | None
    ended_by: str | None


class MoveResult(Result):
    move: MoveView
    changed: bool  # False: the same request again, nothing written
    note: str


def _view(row: MoveRow) -> MoveView:
    return MoveView(id=row.id, customer=row.customer, from_site=row.from_site,
                    to_site=row.to_site, reason=row.reason, requested_by=row.requested_by,
                    requested_at=row.requested_at, ended_at=row.ended_at,
                    ended_by=row.ended_by)  # fmt: skip


def _customer_site(inv: Inventory, cname: str, customer: Customer, site: str, where: str) -> None:
    if site not in inv.sites:
        known = ", ".join(sorted(inv.sites)) or "none"
        raise NotFound(f"unknown site {site!r} (known: {known})", where=where)
    if customer.role_at(site) is None:
        own = ", ".join(e.site for e in customer.sites)
        raise InvalidInput(f"{site} is not one of {cname}'s sites ({own})", where=where)


def _active(session: Session, customer: str) -> MoveRow | None:
    query = select(MoveRow).where(MoveRow.customer == customer, MoveRow.ended_at.is_(None))
    return session.scalars(query.order_by(MoveRow.id).limit(1)).first()


def _describe(row: MoveRow) -> str:
    to = f" to {row.to_site}" if row.to_site else ""
    return f"moved away from {row.from_site}{to} by failover #{row.id}"


def _unprotected_after(session: Session, inv: Inventory, cname: str, now: datetime) -> bool:
    """Inside the move's transaction (flushed), as ``site drain`` decides: the customer
    is protected without the move and not once the move is complete (every other site
    has acknowledged what it plans, so the site left has withdrawn)."""
    observed = load_observed(session)
    intent = load_intent(session, now)
    moving = plan(inv, intent, observed, now, check=False)
    planned = {(site, p.route.prefix) for site, routes in moving.routes.items() for p in routes}
    complete = replace(observed, acked=observed.acked | planned)
    after = plan(inv, intent, complete, now, check=False).customers[cname]
    without = replace(intent, moves=tuple(m for m in intent.moves if m.customer != cname))
    before = plan(inv, without, observed, now, check=False).customers[cname]
    return before.state is Protection.PROTECTED and after.state is not Protection.PROTECTED


def failover(
    db: Database,
    customer: str,
    from_site: str,
    to_site: str | None,
    *,
    reason: str,
    force: bool,
    actor: str,
    now: datetime,
) -> MoveResult:
    reason = check_text(reason, "reason")
    with db.write() as session:
        inv = load_inventory(session)
        owner = customer_or_fail(inv, customer)
        _customer_site(inv, customer, owner, from_site, "from_site")
        if to_site is not None:
            _customer_site(inv, customer, owner, to_site, "to_site")
            if to_site == from_site:
                raise InvalidInput(f"is {to_site}, the site being left", where="to_site",
                                   hint="{from_site}")  # fmt: skip
        current = _active(session, customer)
        if current is not None:
            if (current.from_site, current.to_site) == (from_site, to_site):
                result = MoveResult(move=_view(current), changed=False,
                                    note=f"{customer} already {_describe(current)}")  # fmt: skip
                unchanged(session)
                return result
            raise Conflict(
                f"{customer} is already {_describe(current)}",
                where="customer",
                hint=f"{{failback:{customer}}} first; nothing was changed",
            )
        row = MoveRow(customer=customer, from_site=from_site, to_site=to_site, reason=reason,
                      requested_by=actor, requested_at=now)  # fmt: skip
        session.add(row)
        session.flush()
        unprotected = _unprotected_after(session, inv, customer, now)
        if unprotected and not force:
            raise Conflict(
                f"moving {customer} away from {from_site} would leave it unprotected",
                where="from_site",
                hint="{force} moves it anyway; nothing was changed",
            )
        record_event(session, at=now, actor=actor, action="move.failover", target=customer,
                     reason=reason, detail={"move": row.id, "from": from_site, "to": to_site,
                                            "unprotected_after": unprotected})  # fmt: skip
        return MoveResult(move=_view(row), changed=True,
                          note=f"{customer} {_describe(row)} (make-before-break)")  # fmt: skip


def failback(db: Database, customer: str, *, reason: str, actor: str, now: datetime) -> MoveResult:
    reason = check_text(reason, "reason")
    with db.write() as session:
        customer_or_fail(load_inventory(session), customer)
        row = _active(session, customer)
        if row is None:
            raise NotFound(f"{customer} has no active failover", where="customer")
        row.ended_at, row.ended_by = now, actor
        record_event(session, at=now, actor=actor, action="move.failback", target=customer,
                     reason=reason, detail={"move": row.id, "from": row.from_site,
                                            "to": row.to_site})  # fmt: skip
        return MoveResult(
            move=_view(row),
            changed=True,
            note=f"{customer} back on {row.from_site} (failover #{row.id} ended)",
        )


def list_active(db: Database) -> list[MoveView]:
    with db.read() as session:
        query = select(MoveRow).where(MoveRow.ended_at.is_(None)).order_by(MoveRow.id)
        return [_view(row) for row in session.scalars(query)]
