"""The pages: overview, one customer, sites, events (and their CSV export). Each
reads the service layer directly, filtered by the reader's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from orchestrator.api.context import Context, context
from orchestrator.api.web.login import Reader
from orchestrator.api.web.plot import Plot, plot
from orchestrator.api.web.render import page
from orchestrator.inventory import Inventory
from orchestrator.service import audit, dashboard
from orchestrator.service.audit import EventFilter
from orchestrator.service.common import check_actor, parse_since
from orchestrator.service.paths import MAX_POINTS, PathHistory
from orchestrator.service.scope import Scope
from orchestrator.service.snapshot import load_inventory
from orchestrator.service.web_sessions import Login

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
MAX_EVENTS = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


def _scope(login: Login) -> Scope:
    return Scope(login.principal.customer)


@router.get("/", response_class=HTMLResponse)
def overview(ctx: Ctx, who: Reader) -> HTMLResponse:
    view = dashboard.overview(ctx.db, _scope(who), now=_now())
    return page("overview", who, view=view, now=_now())


@router.get("/customers/{name}", response_class=HTMLResponse)
def customer(name: str, ctx: Ctx, who: Reader) -> HTMLResponse:
    now = _now()
    view = dashboard.customer_page(ctx.db, _scope(who), name, now=now)
    figures = [(r.requested_at, r.ttm_seconds) for r in view.ttm if r.ttm_seconds is not None]
    ttm = plot("Time to mitigate", "s", figures)
    inv = _inventory(ctx)
    events = audit.search(ctx.db, EventFilter(limit=50),
                          keep=lambda e: Scope(name).sees_event(e, inv))  # fmt: skip
    return page("customer", who, view=view, ttm=ttm, path_plots=_path_plots(view.history),
                max_points=MAX_POINTS, events=events, now=now)  # fmt: skip


@dataclass(frozen=True)
class PathPlots:
    """One return path's history drawn: loss in % and RTT in ms over time."""

    history: PathHistory
    loss: Plot
    rtt: Plot


def _path_plots(history: tuple[PathHistory, ...]) -> list[PathPlots]:
    out = []
    for h in history:
        loss = [(s.at, round(s.loss * 100, 1)) for s in h.samples if s.loss is not None]
        rtt = [(s.at, round(s.rtt_ms, 2)) for s in h.samples if s.rtt_ms is not None]
        out.append(PathPlots(h, plot(f"Loss of the return path at {h.site}", "%", loss),
                             plot(f"RTT of the return path at {h.site}", "ms", rtt)))  # fmt: skip
    return out


def _inventory(ctx: Context) -> Inventory:
    with ctx.db.read() as session:
        return load_inventory(session)


@router.get("/sites", response_class=HTMLResponse)
def sites(ctx: Ctx, who: Reader) -> HTMLResponse:
    return page("sites", who, sites=dashboard.sites_page(ctx.db, _scope(who), now=_now()),
                now=_now())  # fmt: skip


def _filter(since: str, until: str, actor: str, action: str, target: str,
            limit: int) -> EventFilter:  # fmt: skip
    now = _now()
    return EventFilter(
        since=parse_since(since or None, now, "since"),
        until=parse_since(until or None, now, "until"),
        actor=check_actor(actor, "actor") if actor else "",
        action=action.strip(),
        target=target.strip(),
        limit=limit,
    )


Text = Annotated[str, Query(max_length=200)]


@router.get("/events", response_class=HTMLResponse)
def events(ctx: Ctx, who: Reader, since: Text = "24h", until: Text = "", actor: Text = "",
           action: Text = "", target: Text = "",
           limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 200) -> HTMLResponse:  # fmt: skip
    wanted = _filter(since, until, actor, action, target, limit)
    scope = _scope(who)
    inv = _inventory(ctx)
    found = audit.search(ctx.db, wanted, keep=lambda e: scope.sees_event(e, inv))
    form = {"since": since, "until": until, "actor": actor, "action": action, "target": target,
            "limit": str(limit)}  # fmt: skip
    return page("events", who, events=list(reversed(found)), form=form,
                actions=audit.actions(ctx.db) if not scope.scoped else [], now=_now())  # fmt: skip


@router.get("/events.csv")
def events_csv(ctx: Ctx, who: Reader, since: Text = "24h", until: Text = "", actor: Text = "",
               action: Text = "", target: Text = "",
               limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = MAX_EVENTS,
               ) -> Response:  # fmt: skip
    wanted = _filter(since, until, actor, action, target, limit)
    scope = _scope(who)
    inv = _inventory(ctx)
    found = audit.search(ctx.db, wanted, keep=lambda e: scope.sees_event(e, inv))
    stamp = _now().strftime("%Y%m%dT%H%M%SZ")
    return Response(audit.as_csv(found), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="scrubctl-events-{stamp}.csv"',
                             "Cache-Control": "no-store"})  # fmt: skip
