"""Read the database into the planner's typed inputs (and nothing else).

Every stored value is parsed again on the way out. A row that does not parse
(written behind the service's back, or by a buggy version) is skipped and
named in ``Snapshot.problems``, so one bad row never stops the plan for every
other customer; the agent reports each problem as an ``agent.error`` event.
"""

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
    IPNetwork,
    Move,
    Observed,
    RtbhEntry,
    SiteAdmin,
)
from orchestrator.errors import NotFound, ScrubError
from orchestrator.inventory import Inventory
from orchestrator.store.models import (
    AnnouncedRow,
    DiversionRow,
    InventoryObject,
    MoveRow,
    ReturnPathRow,
    RtbhRow,
    SessionRow,
    SiteAdminRow,
)


def load_inventory(session: Session) -> Inventory:
    rows = session.scalars(select(InventoryObject)).all()
    policy = [r.spec for r in rows if r.kind == "policy"]
    if not policy:
        raise NotFound("no inventory loaded", hint="{apply_inventory} first")
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


def diversion_from_row(row: DiversionRow, problems: list[str]) -> Diversion | None:
    """The typed diversion, or None if one of its prefixes does not parse (dropping
    the prefix could widen the diversion to every prefix of the customer). A target
    that does not parse is left out (a target only adds RTBH as the last resort; the
    diversion still protects the customer). Either way ``problems`` names it."""
    where = f"diversions[{row.id}]"
    targets = []
    for i, text in enumerate(row.targets):
        try:
            targets.append(ipaddress.ip_address(text))
        except ValueError as exc:
            problems.append(_problem(f"{where}.targets[{i}]", text, exc, "target ignored"))
    prefixes = []
    for i, text in enumerate(row.prefixes):
        try:
            prefixes.append(ipaddress.ip_network(text))
        except ValueError as exc:
            problems.append(_problem(f"{where}.prefixes[{i}]", text, exc,
                                     f"diversion #{row.id} ignored"))  # fmt: skip
            return None
    return Diversion(
        id=row.id,
        customer=row.customer,
        prefixes=tuple(prefixes),
        sites=tuple(row.sites),
        targets=tuple(targets),
        more_specifics=row.more_specifics,
        requested_at=row.requested_at,
    )


def _problem(where: str, value: object, exc: Exception, consequence: str) -> str:
    text = str(value).encode("unicode_escape").decode("ascii")
    return f"{where}: stored value {text!r} does not parse ({exc}); {consequence}"


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


def active_moves(session: Session) -> list[MoveRow]:
    query = select(MoveRow).where(MoveRow.ended_at.is_(None)).order_by(MoveRow.id)
    return list(session.scalars(query))


def move_from_row(row: MoveRow) -> Move:
    return Move(row.id, row.customer, row.from_site, row.to_site, row.requested_at)


def read_intent(session: Session, now: datetime) -> tuple[Intent, list[str]]:
    """The intent, and what had to be skipped to read it (see the module's doc)."""
    problems: list[str] = []
    rtbh = []
    for entry in active_rtbh(session, now):
        try:
            prefix = ipaddress.ip_network(entry.prefix)
        except ValueError as exc:
            problems.append(_problem(f"rtbh[{entry.id}].prefix", entry.prefix, exc,
                                     f"RTBH entry #{entry.id} ignored"))  # fmt: skip
            continue
        rtbh.append(RtbhEntry(id=entry.id, prefix=prefix, reason=entry.reason,
                              expires_at=entry.expires_at, forced=entry.forced))  # fmt: skip
    admin = {}
    for state in session.scalars(select(SiteAdminRow)):
        try:
            admin[state.site] = SiteAdmin(AdminState(state.state), state.since)
        except ValueError as exc:
            problems.append(_problem(f"site_admin[{state.site}].state", state.state, exc,
                                     "site taken as active"))  # fmt: skip
    read = (diversion_from_row(row, problems) for row in active_diversions(session))
    diversions = [d for d in read if d is not None]
    moves = tuple(move_from_row(row) for row in active_moves(session))
    intent = Intent(diversions=tuple(diversions), rtbh=tuple(rtbh), site_admin=admin, moves=moves)
    return intent, problems


def load_intent(session: Session, now: datetime) -> Intent:
    return read_intent(session, now)[0]


def leaving_by_plan(intent: Intent) -> bool:
    """Whether some site leaves a customer by plan (a move, a drain): only then does
    the planner look at ``Observed.acked`` (make-before-break)."""
    draining = any(a.state is AdminState.DRAINING for a in intent.site_admin.values())
    return draining or bool(intent.moves)


def read_acked(session: Session, problems: list[str]) -> frozenset[tuple[str, IPNetwork]]:
    """(site, prefix) for every prefix ExaBGP acknowledged at a site, to any peer."""
    acked: set[tuple[str, IPNetwork]] = set()
    query = select(AnnouncedRow.site, AnnouncedRow.prefix).distinct()
    for site, text in session.execute(query):
        try:
            acked.add((site, ipaddress.ip_network(text)))
        except ValueError as exc:
            problems.append(_problem(f"announced_routes[{site}].prefix", text, exc,
                                     "taken as not acknowledged"))  # fmt: skip
    return frozenset(acked)


def read_observed(session: Session, *, acked: bool = True) -> tuple[Observed, list[str]]:
    """Observed state; ``acked=False`` skips the acknowledged routes (tens of thousands
    of rows) when nothing leaves by plan and the planner would not look at them."""
    problems: list[str] = []
    sessions = {(r.site, r.peer): r.established for r in session.scalars(select(SessionRow))}
    paths = {}
    for row in session.scalars(select(ReturnPathRow)):
        try:
            paths[(row.customer, row.site)] = Health(row.health)
        except ValueError as exc:
            problems.append(_problem(f"return_paths[{row.customer}/{row.site}].health",
                                     row.health, exc, "health taken as unknown"))  # fmt: skip
    confirmed = read_acked(session, problems) if acked else frozenset()
    return Observed(sessions=sessions, return_paths=paths, acked=confirmed), problems


def load_observed(session: Session) -> Observed:
    return read_observed(session)[0]


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
    problems: tuple[str, ...] = ()  # stored values that did not parse: skipped


def snapshot(session: Session, now: datetime, *, assume_up: bool = False) -> Snapshot:
    inv = load_inventory(session)
    intent, problems = read_intent(session, now)
    if assume_up:
        observed = assume_all_up(inv)
    else:
        observed, more = read_observed(session, acked=leaving_by_plan(intent))
        problems += more
    return Snapshot(inv, intent, observed, now, tuple(problems))
