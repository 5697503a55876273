"""What operators (and admins) may change: diversions, RTBH, drains, moves, and
(admins only) the inventory. Each is one use case: one transaction, one audit
event whose actor is the token's name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from orchestrator.api import models
from orchestrator.api.auth import Admin, Operator
from orchestrator.api.context import Context, context
from orchestrator.api.responses import answer
from orchestrator.inventory import load_inventory_bytes
from orchestrator.service import diversions, inventory, moves, rtbh, sites, sync
from orchestrator.service.common import parse_duration

router = APIRouter(prefix="/api/v1")
Ctx = Annotated[Context, Depends(context)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/inventory", tags=["inventory"], response_model=inventory.ApplyResult,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/yaml": {"schema": {"type": "string"}}}}})  # fmt: skip
async def apply_inventory(
    request: Request,
    ctx: Ctx,
    who: Admin,
    dry_run: Annotated[bool, Query(description="Show the difference only.")] = False,
) -> inventory.ApplyResult:
    """Validate the inventory (YAML, the request's body), show how it differs from the
    database and, unless dry_run, apply it in one transaction."""
    data = await request.body()

    def apply() -> inventory.ApplyResult:
        inv = load_inventory_bytes(data, "inventory")
        changes = inventory.apply(ctx.db, inv, actor=who.name, now=_now(), dry_run=dry_run,
                                  source=f"api:{who.name}")  # fmt: skip
        return inventory.ApplyResult(dry_run=dry_run, changes=tuple(changes))

    return await run_in_threadpool(apply)


WAIT_TIMEOUT: dict[int | str, dict[str, Any]] = {
    504: {"description": "Committed; some site did not acknowledge in time"}
}


@router.post("/diversions", tags=["diversions"], status_code=201,
             response_model=models.StartResponse,
             responses={200: {"description": "The same request was active already"},
                        **WAIT_TIMEOUT})  # fmt: skip
def start_diversion(body: models.DivertStart, ctx: Ctx, who: Operator) -> JSONResponse:
    """Start diverting a customer (the same request twice is one diversion)."""
    request = diversions.DivertRequest(
        customer=body.customer, reason=body.reason, prefixes=tuple(body.prefixes),
        sites=tuple(body.sites), targets=tuple(body.targets), more_specifics=body.more_specifics,
    )  # fmt: skip
    moment = _now()
    result, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                              lambda: diversions.start(ctx.db, request, actor=who.name,
                                                       now=moment))  # fmt: skip
    response = models.StartResponse(**result.model_dump(), wait=waited)
    return answer(response, waited, body.timeout, 201 if result.created else 200)


@router.post("/diversions/stop", tags=["diversions"], response_model=models.StopResponse)
def stop_diversions(body: models.DivertStop, ctx: Ctx, who: Operator) -> JSONResponse:
    """Stop a customer's diversions (all, or the one ``id`` names)."""
    moment = _now()
    stopped, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                               lambda: diversions.stop(ctx.db, body.customer,
                                                       diversion_id=body.id, reason=body.reason,
                                                       actor=who.name, now=moment))  # fmt: skip
    return answer(models.StopResponse(stopped=tuple(stopped), wait=waited), waited, body.timeout)


@router.post("/rtbh", tags=["rtbh"], status_code=201, response_model=rtbh.AddResult,
             responses={200: {"description": "Already active; expiry extended"}})  # fmt: skip
def add_rtbh(body: models.RtbhAdd, ctx: Ctx, who: Operator) -> JSONResponse:
    """An RTBH entry: forced (now) or standby (only while no site can scrub)."""
    lifetime = parse_duration(body.expires, "expires")
    result = rtbh.add(ctx.db, body.host, reason=body.reason, expires=lifetime,
                      forced=body.force, actor=who.name, now=_now())  # fmt: skip
    return JSONResponse(result.as_json(), status_code=201 if result.created else 200)


@router.post("/rtbh/remove", tags=["rtbh"])
def remove_rtbh(body: models.RtbhRemove, ctx: Ctx, who: Operator) -> list[rtbh.RtbhView]:
    return rtbh.remove(ctx.db, body.host, reason=body.reason, actor=who.name, now=_now())


@router.post("/sites/{site:path}/drain", tags=["sites"], response_model=models.SiteResponse)
def drain_site(site: str, body: models.Drain, ctx: Ctx, who: Operator) -> JSONResponse:
    """GRACEFUL_SHUTDOWN for the drain time, then withdraw (make-before-break)."""
    moment = _now()
    change, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                              lambda: sites.drain(ctx.db, site, reason=body.reason,
                                                  force=body.force, actor=who.name,
                                                  now=moment))  # fmt: skip
    return answer(models.SiteResponse(**change.model_dump(), wait=waited), waited, body.timeout)


@router.post("/sites/{site:path}/undrain", tags=["sites"], response_model=models.SiteResponse)
def undrain_site(site: str, body: models.Undrain, ctx: Ctx, who: Operator) -> JSONResponse:
    moment = _now()
    change, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                              lambda: sites.undrain(ctx.db, site, reason=body.reason,
                                                    actor=who.name, now=moment))  # fmt: skip
    return answer(models.SiteResponse(**change.model_dump(), wait=waited), waited, body.timeout)


@router.post("/customers/{customer:path}/failover", tags=["sites"],
             response_model=models.MoveResponse)  # fmt: skip
def failover(customer: str, body: models.Failover, ctx: Ctx, who: Operator) -> JSONResponse:
    """Move a customer away from a site that still works, make-before-break."""
    moment = _now()
    result, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                              lambda: moves.failover(ctx.db, customer, body.from_site,
                                                     body.to_site, reason=body.reason,
                                                     force=body.force, actor=who.name,
                                                     now=moment))  # fmt: skip
    return answer(models.MoveResponse(**result.model_dump(), wait=waited), waited, body.timeout)


@router.post("/customers/{customer:path}/failback", tags=["sites"],
             response_model=models.MoveResponse)  # fmt: skip
def failback(customer: str, body: models.Failback, ctx: Ctx, who: Operator) -> JSONResponse:
    moment = _now()
    result, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                              lambda: moves.failback(ctx.db, customer, reason=body.reason,
                                                     actor=who.name, now=moment))  # fmt: skip
    return answer(models.MoveResponse(**result.model_dump(), wait=waited), waited, body.timeout)
