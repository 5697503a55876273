"""What viewers may read: the same views as the CLI's read commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from orchestrator.api.auth import Viewer
from orchestrator.api.context import Context, context
from orchestrator.service import detections, diversions, inventory, paths, report, rtbh, sites
from orchestrator.service import status as status_service
from orchestrator.service.common import parse_since

router = APIRouter(prefix="/api/v1")
Ctx = Annotated[Context, Depends(context)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/inventory", tags=["inventory"])
def get_inventory(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    """The stored inventory (secrets appear as their references)."""
    return inventory.show(ctx.db).model_dump(mode="json")


@router.get("/diversions", tags=["diversions"])
def list_diversions(
    ctx: Ctx, _who: Viewer, all: Annotated[bool, Query(description="Stopped ones too.")] = False
) -> list[diversions.DiversionView]:
    return diversions.list_(ctx.db, include_stopped=all)


@router.get("/rtbh", tags=["rtbh"])
def list_rtbh(
    ctx: Ctx, _who: Viewer, all: Annotated[bool, Query(description="Ended ones too.")] = False
) -> list[rtbh.RtbhView]:
    return rtbh.list_(ctx.db, now=_now(), include_ended=all)


@router.get("/sites", tags=["sites"])
def list_sites(ctx: Ctx, _who: Viewer) -> list[sites.SiteView]:
    return sites.list_(ctx.db, now=_now())


@router.get("/plan", tags=["status"])
def get_plan(
    ctx: Ctx,
    _who: Viewer,
    site: str | None = None,
    assume_up: Annotated[bool, Query(description="What-if: everything healthy.")] = False,
) -> status_service.PlanView:
    result = status_service.current_plan(ctx.db, now=_now(), assume_up=assume_up)
    return status_service.plan_view(result, site)


@router.get("/status", tags=["status"])
def get_status(ctx: Ctx, _who: Viewer) -> status_service.StatusView:
    return status_service.status(ctx.db, now=_now())


@router.get("/paths", tags=["status"])
def list_paths(ctx: Ctx, _who: Viewer, site: str | None = None) -> list[paths.PathView]:
    return paths.list_paths(ctx.db, site)


@router.get("/events", tags=["status"])
def list_events(
    ctx: Ctx,
    _who: Viewer,
    since: Annotated[str | None, Query(description="A duration (2h) or an ISO time.")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> list[status_service.EventView]:
    return status_service.events(ctx.db, since=parse_since(since, _now()), limit=limit)


@router.get("/reports/ttm", tags=["status"])
def ttm_report(
    ctx: Ctx,
    _who: Viewer,
    since: Annotated[str | None, Query(description="A duration (7d) or an ISO time.")] = None,
) -> report.TtmReport:
    return report.ttm(ctx.db, since=parse_since(since, _now()))


@router.get("/detections", tags=["detections"])
def list_detections(ctx: Ctx, _who: Viewer) -> list[detections.DetectionView]:
    """Open detections (an attack reported and not yet over)."""
    return detections.open_detections(ctx.db)
