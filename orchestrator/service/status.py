"""Read use cases: the plan, the overall status, the event log."""

from __future__ import annotations

from datetime import datetime

from pydantic import JsonValue
from sqlalchemy import select

from orchestrator.domain import Protection
from orchestrator.errors import NotFound
from orchestrator.planner import Plan, PlannedRoute, plan
from orchestrator.service.paths import list_paths
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import snapshot
from orchestrator.store.db import Database
from orchestrator.store.models import EventRow


def current_plan(db: Database, *, now: datetime, assume_up: bool = False) -> Plan:
    with db.read() as session:
        snap = snapshot(session, now, assume_up=assume_up)
    return plan(snap.inventory, snap.intent, snap.observed, snap.now)


class RouteView(Result):
    site: str
    prefix: str
    kind: str  # scrub | rtbh
    next_hop: str
    as_path: tuple[int, ...]
    communities: tuple[str, ...]
    large_communities: tuple[str, ...]
    med: int | None
    peers: tuple[str, ...]
    customer: str
    reason: str


class SiteVerdictView(Result):
    eligible: bool
    draining: bool
    reason: str


class CustomerView(Result):
    state: Protection
    reason: str
    wanted: tuple[str, ...]
    sites: dict[str, SiteVerdictView]


class PlanView(Result):
    routes: tuple[RouteView, ...]
    customers: dict[str, CustomerView]
    violations: tuple[str, ...]
    next_change_at: Time | None


def route_view(site: str, planned: PlannedRoute) -> RouteView:
    route = planned.route
    return RouteView(
        site=site,
        prefix=str(route.prefix),
        kind=route.kind.value,
        next_hop="self",
        as_path=tuple(route.as_path),
        communities=tuple(str(c) for c in route.communities),
        large_communities=tuple(str(c) for c in route.large_communities),
        med=route.med,
        peers=tuple(planned.peers),
        customer=planned.customer,
        reason=planned.reason,
    )


def plan_view(result: Plan, site: str | None = None) -> PlanView:
    if (
        site is not None
        and site not in result.routes
        and not any(site in v.sites for v in result.customers.values())
    ):
        raise NotFound(f"no site {site!r} in the plan", where="site")
    return PlanView(
        routes=tuple(
            route_view(name, planned)
            for name, routes in result.routes.items()
            if site is None or name == site
            for planned in routes
        ),
        customers={
            name: CustomerView(
                state=verdict.state,
                reason=verdict.reason,
                wanted=tuple(str(p) for p in verdict.wanted),
                sites={
                    s: SiteVerdictView(eligible=st.eligible, draining=st.draining, reason=st.reason)
                    for s, st in verdict.sites.items()
                },
            )
            for name, verdict in result.customers.items()
        },
        violations=tuple(result.violations),
        next_change_at=result.next_change_at,
    )


def customer_plan(view: PlanView, customer: str) -> PlanView:
    """``customer``'s part of a plan: its routes and verdict; no violations (they may
    name any customer's peers and prefixes), no next change (another's RTBH expiry)."""
    return PlanView(
        routes=tuple(r for r in view.routes if r.customer == customer),
        customers={n: c for n, c in view.customers.items() if n == customer},
        violations=(),
        next_change_at=None,
    )


class CustomerStatus(CustomerView):
    paths: dict[str, str]  # site -> its return path's health as the site's probes see it


class StatusView(Result):
    customers: dict[str, CustomerStatus]
    routes: int  # routes planned across all sites
    violations: tuple[str, ...]

    @property
    def unprotected(self) -> list[str]:
        """Customers that want protection and have none, or only RTBH."""
        bad = (Protection.UNPROTECTED, Protection.LAST_RESORT)
        return [name for name, c in self.customers.items() if c.state in bad]


def status(db: Database, *, now: datetime, customer: str | None = None) -> StatusView:
    """Every customer's state; ``customer``: that customer's only (routes: its own,
    no violations: they may name any customer's peers and prefixes)."""
    view = plan_view(current_plan(db, now=now))
    if customer is not None:
        view = customer_plan(view, customer)
    health: dict[str, dict[str, str]] = {name: {} for name in view.customers}
    for path in list_paths(db):
        if path.customer in health:
            health[path.customer][path.site] = path.health
    customers = {
        name: CustomerStatus(**c.model_dump(), paths=health[name])
        for name, c in view.customers.items()
    }
    return StatusView(customers=customers, routes=len(view.routes), violations=view.violations)


class EventView(Result):
    id: int
    at: Time
    actor: str
    action: str
    target: str
    reason: str
    detail: dict[str, JsonValue]


def events(db: Database, *, since: datetime | None, limit: int) -> list[EventView]:
    with db.read() as session:
        query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        if since is not None:
            query = query.where(EventRow.at >= since)
        rows = list(session.scalars(query))
    return [
        EventView(id=r.id, at=r.at, actor=r.actor, action=r.action, target=r.target,
                  reason=r.reason, detail=r.detail)
        for r in reversed(rows)
    ]  # fmt: skip
