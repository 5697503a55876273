"""Detections (operators) and tokens (admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from orchestrator.api import models
from orchestrator.api.auth import Admin, Operator
from orchestrator.api.context import Context, context
from orchestrator.api.responses import answer
from orchestrator.service import detections, sync, tokens
from orchestrator.service.common import parse_duration

router = APIRouter(prefix="/api/v1")
Ctx = Annotated[Context, Depends(context)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/detections", tags=["detections"], response_model=models.DetectionResponse,
             responses={201: {"description": "A diversion was started"}})  # fmt: skip
def report_detection(body: models.Detection, ctx: Ctx, who: Operator) -> JSONResponse:
    """A detector reports an attack (``ban``) or its end (``unban``) on an address:
    the owning customer's prefix is diverted with the address as target, once per
    attack; ``unban`` stops it after the service's hold-down. An address no
    customer owns is refused (422, an audit event, nothing announced)."""
    report = detections.Report(body.address, body.direction, body.action, body.detector,
                               body.pps, body.bps)  # fmt: skip
    moment = _now()
    result, waited = sync.run(ctx.db, body.wait, body.timeout, moment,
                              lambda: detections.report(ctx.db, report, actor=who.name,
                                                        now=moment,
                                                        hold_down=ctx.hold_down))  # fmt: skip
    status = 201 if result.outcome == "diverted" and result.detection.owns_diversion else 200
    response = models.DetectionResponse(**result.model_dump(), wait=waited)
    return answer(response, waited, body.timeout, status)


@router.get("/tokens", tags=["tokens"])
def list_tokens(ctx: Ctx, _who: Admin, all: bool = False) -> list[tokens.TokenView]:
    return tokens.list_(ctx.db, now=_now(), include_ended=all)


@router.post("/tokens", tags=["tokens"], status_code=201)
def create_token(body: models.TokenCreate, ctx: Ctx, who: Admin) -> tokens.CreatedToken:
    """A new token; its secret is in this answer only."""
    role = tokens.parse_role(body.role)
    lifetime = None if body.expires is None else parse_duration(
        body.expires, "expires", maximum=tokens.MAX_LIFETIME)  # fmt: skip
    return tokens.create(
        ctx.db,
        body.name,
        role,
        expires=lifetime,
        actor=who.name,
        now=_now(),
        customer=body.customer,
    )


@router.post("/tokens/{name}/revoke", tags=["tokens"])
def revoke_token(name: str, body: models.TokenRevoke, ctx: Ctx, who: Admin) -> tokens.TokenView:
    return tokens.revoke(ctx.db, name, reason=body.reason, actor=who.name, now=_now())
