"""What viewers may read: the same views as the CLI's read commands. A
customer-scoped viewer reads its own customer's part of each only
(``orchestrator.service.scope``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from orchestrator.api.auth import Viewer
from orchestrator.api.context import Context, context
from orchestrator.inventory import Inventory
from orchestrator.service import detections, diversions, inventory, paths, report, rtbh, sites
from orchestrator.service import status as status_service
from orchestrator.service.audit import EventFilter, search
from orchestrator.service.common import parse_since
from orchestrator.service.scope import Scope
from orchestrator.service.snapshot import load_inventory
from orchestrator.service.tokens import Principal
from orchestrator.store.db import Database

router = APIRouter(prefix="/api/v1")
Ctx = Annotated[Context, Depends(context)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/inventory", tags=["inventory"])
def get_inventory(ctx: Ctx, who: Viewer) -> dict[str, Any]:
    """The stored inventory (secrets appear as their references)."""
    return _scope(who).inventory(inventory.show(ctx.db).model_dump(mode="json"))


@router.get("/diversions", tags=["diversions"])
def list_diversions(
    ctx: Ctx, who: Viewer, all: Annotated[bool, Query(description="Stopped ones too.")] = False
) -> list[diversions.DiversionView]:
    return _scope(who).mine(diversions.list_(ctx.db, include_stopped=all))


@router.get("/rtbh", tags=["rtbh"])
def list_rtbh(
    ctx: Ctx, who: Viewer, all: Annotated[bool, Query(description="Ended ones too.")] = False
) -> list[rtbh.RtbhView]:
    return _scope(who).mine(rtbh.list_(ctx.db, now=_now(), include_ended=all))


@router.get("/sites", tags=["sites"])
def list_sites(ctx: Ctx, who: Viewer) -> list[sites.SiteView]:
    return _scope(who).sites(sites.list_(ctx.db, now=_now()), _inventory(ctx.db))


@router.get("/plan", tags=["status"])
def get_plan(
    ctx: Ctx,
    who: Viewer,
    site: str | None = None,
    assume_up: Annotated[bool, Query(description="What-if: everything healthy.")] = False,
) -> status_service.PlanView:
    result = status_service.current_plan(ctx.db, now=_now(), assume_up=assume_up)
    return _scope(who).plan(status_service.plan_view(result, site))


@router.get("/status", tags=["status"])
def get_status(ctx: Ctx, who: Viewer) -> status_service.StatusView:
    return status_service.status(ctx.db, now=_now(), customer=who.customer)


@router.get("/paths", tags=["status"])
def list_paths(ctx: Ctx, who: Viewer, site: str | None = None) -> list[paths.PathView]:
    return _scope(who).mine(paths.list_paths(ctx.db, site))


@router.get("/events", tags=["status"])
def list_events(
    ctx: Ctx,
    who: Viewer,
    since: Annotated[str | None, Query(description="A duration (2h) or an ISO time.")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> list[status_service.EventView]:
    start = parse_since(since, _now())
    if who.customer is None:
        return status_service.events(ctx.db, since=start, limit=limit)
    scope, inv = _scope(who), _inventory(ctx.db)
    return search(ctx.db, EventFilter(since=start, limit=limit),
                  keep=lambda e: scope.sees_event(e, inv))  # fmt: skip


@router.get("/reports/ttm", tags=["status"])
def ttm_report(
    ctx: Ctx,
    who: Viewer,
    since: Annotated[str | None, Query(description="A duration (7d) or an ISO time.")] = None,
) -> report.TtmReport:
    return _scope(who).ttm(report.ttm(ctx.db, since=parse_since(since, _now())))


@router.get("/detections", tags=["detections"])
def list_detections(ctx: Ctx, who: Viewer) -> list[detections.DetectionView]:
    """Open detections (an attack reported and not yet over)."""
    return _scope(who).mine(detections.open_detections(ctx.db))


def _scope(who: Principal) -> Scope:
    return Scope(who.customer)


def _inventory(db: Database) -> Inventory:
    with db.read() as session:
        return load_inventory(session)
