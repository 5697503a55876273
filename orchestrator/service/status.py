"""Read use cases: the plan, the overall status, the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from orchestrator.errors import NotFound
from orchestrator.planner import Plan, PlannedRoute, plan
from orchestrator.service.snapshot import snapshot
from orchestrator.store.db import Database
from orchestrator.store.models import EventRow


def current_plan(db: Database, *, now: datetime, assume_up: bool = False) -> Plan:
    with db.read() as session:
        snap = snapshot(session, now, assume_up=assume_up)
    return plan(snap.inventory, snap.intent, snap.observed, snap.now)


def route_view(site: str, planned: PlannedRoute) -> dict[str, Any]:
    route = planned.route
    return {
        "site": site,
        "prefix": str(route.prefix),
        "kind": route.kind.value,
        "next_hop": "self",
        "as_path": list(route.as_path),
        "communities": [str(c) for c in route.communities],
        "large_communities": [str(c) for c in route.large_communities],
        "med": route.med,
        "peers": list(planned.peers),
        "customer": planned.customer,
        "reason": planned.reason,
    }


def plan_view(result: Plan, site: str | None = None) -> dict[str, Any]:
    if (
        site is not None
        and site not in result.routes
        and not any(site in v.sites for v in result.customers.values())
    ):
        raise NotFound(f"no site {site!r} in the plan", where="--site")
    return {
        "routes": [
            route_view(name, planned)
            for name, routes in result.routes.items()
            if site is None or name == site
            for planned in routes
        ],
        "customers": {
            name: {
                "state": verdict.state.value,
                "reason": verdict.reason,
                "wanted": [str(p) for p in verdict.wanted],
                "sites": {
                    s: {"eligible": st.eligible, "draining": st.draining, "reason": st.reason}
                    for s, st in verdict.sites.items()
                },
            }
            for name, verdict in result.customers.items()
        },
        "violations": list(result.violations),
        "next_change_at": result.next_change_at.isoformat() if result.next_change_at else None,
    }


def events(db: Database, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    with db.read() as session:
        query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        if since is not None:
            query = query.where(EventRow.at >= since)
        rows = list(session.scalars(query))
    return [
        {
            "id": r.id,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "reason": r.reason,
            "detail": r.detail,
        }
        for r in reversed(rows)
    ]
