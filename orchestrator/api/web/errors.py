"""Errors on the dashboard's pages: the same service errors as the JSON API, as an
HTML page with the same status (the API's paths keep their JSON answers)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from orchestrator.api.errors import on_scrub_error, status_of
from orchestrator.api.web.render import error_text, page
from orchestrator.errors import ScrubError

JSON_PATHS = ("/api/", "/metrics", "/docs", "/openapi.json")


def on_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScrubError)
    if request.url.path.startswith(JSON_PATHS):
        return on_scrub_error(request, exc)
    status, _ = status_of(exc)
    return page("error", None, status=status, message=error_text(exc), code=status)
