"""What an operator's change would do, before it is made: the planner run on the
current intent and on the intent as the change would leave it (same observed
state, same moment), and the difference per site — what would be announced,
withdrawn or announced differently, to which peers — and which customers would
change state. Nothing is written: the change itself is the use case's own
(``diversions.start``, ``sites.drain``, ...), run only after confirmation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from orchestrator.domain import AdminState, Diversion, Intent, Move, RtbhEntry, SiteAdmin
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.inventory import Inventory
from orchestrator.planner import Plan, PlannedRoute, plan
from orchestrator.service import diversions, rtbh
from orchestrator.service.common import check_text, parse_duration
from orchestrator.service.results import Result
from orchestrator.service.snapshot import load_inventory, read_intent, read_observed
from orchestrator.service.status import RouteView, route_view
from orchestrator.store.db import Database

Kind = Literal[
    "divert-start", "divert-stop", "rtbh-add", "rtbh-remove", "drain", "undrain",
    "failover", "failback",
]  # fmt: skip
KINDS: tuple[str, ...] = (
    "divert-start", "divert-stop", "rtbh-add", "rtbh-remove", "drain", "undrain",
    "failover", "failback",
)  # fmt: skip
HYPOTHETICAL_ID = -1  # the id a change not yet made has in the hypothetical intent


@dataclass(frozen=True)
class Change:
    """One operator change as the dashboard's form gives it (text, checked later)."""

    kind: str
    reason: str
    customer: str = ""  # divert-*, failover, failback
    site: str = ""  # drain, undrain; failover: the site left
    to_site: str = ""  # failover (optional)
    host: str = ""  # rtbh-*
    expires: str = ""  # rtbh-add
    prefixes: tuple[str, ...] = ()  # divert-start
    targets: tuple[str, ...] = ()  # divert-start
    force: bool = False  # rtbh-add, drain, failover

    def fields(self) -> dict[str, str]:
        """The change as form fields (what the confirmation carries and signs)."""
        return {
            "kind": self.kind, "reason": self.reason, "customer": self.customer,
            "site": self.site, "to_site": self.to_site, "host": self.host,
            "expires": self.expires, "prefixes": " ".join(self.prefixes),
            "targets": " ".join(self.targets), "force": "1" if self.force else "",
        }  # fmt: skip


class RouteChange(Result):
    site: str
    prefix: str
    change: Literal["announce", "withdraw", "change"]
    before: RouteView | None
    after: RouteView | None


class StateChange(Result):
    customer: str
    before: str
    after: str
    when: str = "now"  # or "after the drain time" (a drain's second step)


class Preview(Result):
    routes: tuple[RouteChange, ...]
    states: tuple[StateChange, ...]
    notes: tuple[str, ...]


def _site(inv: Inventory, name: str, where: str = "site") -> str:
    if name not in inv.sites:
        known = ", ".join(sorted(inv.sites)) or "none"
        raise NotFound(f"unknown site {name!r} (known: {known})", where=where)
    return name


def hypothetical(inv: Inventory, intent: Intent, change: Change, now: datetime) -> Intent:
    """``intent`` as ``change`` would leave it (checked as the use case checks it)."""
    check_text(change.reason, "reason")
    if change.kind not in KINDS:
        raise InvalidInput(f"{change.kind!r} is not a change ({', '.join(KINDS)})", where="kind")
    if change.kind == "divert-start":
        req = diversions.DivertRequest(
            customer=change.customer, reason=change.reason, prefixes=change.prefixes,
            targets=change.targets,
        )  # fmt: skip
        valid = diversions.validate(inv, req)
        new = Diversion(HYPOTHETICAL_ID, change.customer, valid.prefixes, valid.sites,
                        valid.targets, requested_at=now)  # fmt: skip
        return dataclasses.replace(intent, diversions=(*intent.diversions, new))
    if change.kind == "divert-stop":
        diversions.customer_or_fail(inv, change.customer)
        kept = tuple(d for d in intent.diversions if d.customer != change.customer)
        if len(kept) == len(intent.diversions):
            raise NotFound(f"no active diversion for {change.customer}", where="customer")
        return dataclasses.replace(intent, diversions=kept)
    if change.kind == "rtbh-add":
        prefix = rtbh.parse_host(change.host)
        rtbh.validate(inv, prefix, forced=change.force)
        lifetime = parse_duration(change.expires, "expires")
        entry = RtbhEntry(HYPOTHETICAL_ID, prefix, change.reason, now + lifetime, change.force)
        return dataclasses.replace(intent, rtbh=(*intent.rtbh, entry))
    if change.kind == "rtbh-remove":
        prefix = rtbh.parse_host(change.host)
        kept_rtbh = tuple(e for e in intent.rtbh if e.prefix != prefix)
        if len(kept_rtbh) == len(intent.rtbh):
            raise NotFound(f"no active RTBH entry for {prefix}", where="host")
        return dataclasses.replace(intent, rtbh=kept_rtbh)
    if change.kind in ("drain", "undrain"):
        site = _site(inv, change.site)
        admin = dict(intent.site_admin)
        if change.kind == "drain":
            admin[site] = SiteAdmin(AdminState.DRAINING, now)
        else:
            admin.pop(site, None)
        return dataclasses.replace(intent, site_admin=admin)
    customer = diversions.customer_or_fail(inv, change.customer)
    if change.kind == "failover":
        _site(inv, change.site, "from_site")
        if customer.role_at(change.site) is None:
            raise InvalidInput(f"{change.customer} does not use site {change.site}",
                               where="from_site")  # fmt: skip
        to_site = change.to_site or None
        if to_site is not None and customer.role_at(_site(inv, to_site, "to_site")) is None:
            raise InvalidInput(f"{change.customer} does not use site {to_site}", where="to_site")
        move = Move(HYPOTHETICAL_ID, change.customer, change.site, to_site, now)
        return dataclasses.replace(intent, moves=(*intent.moves, move))
    kept_moves = tuple(m for m in intent.moves if m.customer != change.customer)
    if len(kept_moves) == len(intent.moves):
        raise NotFound(f"{change.customer} has no active move", where="customer")
    return dataclasses.replace(intent, moves=kept_moves)


def _by_prefix(result: Plan) -> dict[tuple[str, str], PlannedRoute]:
    """(site, prefix) -> its planned route (the first, if several per peer group)."""
    out: dict[tuple[str, str], PlannedRoute] = {}
    for site, routes in result.routes.items():
        for planned in routes:
            out.setdefault((site, str(planned.route.prefix)), planned)
    return out


def state_changes(before: Plan, after: Plan, when: str = "now") -> tuple[StateChange, ...]:
    return tuple(
        StateChange(customer=name, before=verdict.state.value,
                    after=after.customers[name].state.value, when=when)
        for name, verdict in sorted(before.customers.items())
        if name in after.customers and after.customers[name].state != verdict.state
    )  # fmt: skip


def diff(before: Plan, after: Plan) -> tuple[tuple[RouteChange, ...], tuple[StateChange, ...]]:
    old, new = _by_prefix(before), _by_prefix(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and (a.route, a.peers) == (b.route, b.peers):
            continue
        kind: Literal["announce", "withdraw", "change"] = (
            "announce" if a is None else "withdraw" if b is None else "change"
        )
        changes.append(RouteChange(
            site=key[0], prefix=key[1], change=kind,
            before=route_view(key[0], a) if a else None,
            after=route_view(key[0], b) if b else None,
        ))  # fmt: skip
    return tuple(changes), state_changes(before, after)


def preview(db: Database, change: Change, *, now: datetime) -> Preview:
    with db.read() as session:
        inv = load_inventory(session)
        intent, _problems = read_intent(session, now)
        observed, _more = read_observed(session, acked=True)
    after_intent = hypothetical(inv, intent, change, now)
    before = plan(inv, intent, observed, now, check=False)
    after = plan(inv, after_intent, observed, now)
    routes, states = diff(before, after)
    notes = list(after.violations)
    if change.kind == "drain":
        drain = timedelta(seconds=inv.policy.drain_time)
        # The second step, as the drain's own check sees it (acknowledgements as now).
        later = plan(inv, after_intent, observed, now + drain + timedelta(seconds=1), check=False)
        states += state_changes(before, later, "after the drain time")
        notes.append(f"{change.site} keeps announcing with GRACEFUL_SHUTDOWN (65535:0) for "
                     f"{int(drain.total_seconds())} s, then withdraws each prefix once another "
                     "site has it acknowledged")  # fmt: skip
    if change.kind == "failover":
        notes.append(f"{change.site} keeps each prefix with GRACEFUL_SHUTDOWN until another "
                     "site has it acknowledged, then withdraws it (make-before-break)")  # fmt: skip
    if not routes:
        notes.append("no site's announcements change")
    return Preview(routes=routes, states=states, notes=tuple(notes))
