"""A change's answer: 200/201 with the result and its ``wait``, or 504 when a site
did not acknowledge in time (the change is committed; the body has the result,
the per-site acknowledgements and the error)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from orchestrator.api.errors import error_body
from orchestrator.service import sync
from orchestrator.service.sync import WaitResult


def answer(
    response: BaseModel, waited: WaitResult | None, timeout: float | None, status: int = 200
) -> JSONResponse:
    body: dict[str, Any] = response.model_dump(mode="json")
    error = sync.timeout_error(waited, timeout)
    if error is not None:
        body["error"] = error_body(error)
        status = 504
    return JSONResponse(body, status_code=status)
