"""The service layer's errors as JSON and HTTP status codes.

Every error body is ``{"error": {"code", "field", "message", "hint", "text",
"template"}}``:
``field`` is the path of the request field at fault (``prefixes[0]``,
``customer``, ``authorization``; empty when no field is), ``text`` the one line
the CLI would print with field names instead of flags, ``template`` the message and
hint with their terms in braces. An inventory with several
problems adds ``"errors"``: every one of them, in the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from orchestrator.errors import (
    InvalidInput,
    ScrubError,
    database_failure,
)
from orchestrator.inventory import InventoryErrors

log = logging.getLogger("scrubctl.api")

# Each kind's status (its code: ``ScrubError.code``), from the exit codes:
# 2 -> 422, 3 -> 404, 4 -> 409, 5 -> 503, 7 -> 504.
STATUS: dict[str, int] = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "busy": 503,
    "timeout": 504,
    "unauthenticated": 401,
    "forbidden": 403,
    "unavailable": 503,
}

# Hint terms as this face says them: request fields and endpoints.
WORDS = {
    "apply_inventory": "POST /api/v1/inventory",
    "failback": "POST /api/v1/customers/{}/failback",
    "force": '"force": true',
    "wait": '"wait": true',
}


def words(term: str, argument: str) -> str:
    return WORDS[term].format(argument) if term in WORDS else term


def status_of(exc: ScrubError) -> tuple[int, str]:
    return STATUS.get(exc.code, 500), exc.code


def error_body(exc: ScrubError) -> dict[str, Any]:
    _, code = status_of(exc)
    return {
        "code": code,
        "field": exc.where,
        "message": exc.rendered_message(words),
        "hint": exc.rendered_hint(words),
        "text": exc.render(words),
        # The same with its terms unrendered (``{force}``), for a client that says them
        # in its own words: the CLI's --api prints the local command's line.
        "template": {
            "message": exc.message,
            "hint": exc.hint,
            "message_terms": exc.message_terms,
        },
    }


def error_document(exc: ScrubError) -> dict[str, Any]:
    document: dict[str, Any] = {"error": error_body(exc)}
    if isinstance(exc, InventoryErrors):
        document["errors"] = [error_body(e) for e in exc.errors]
        document["error"] = document["errors"][0]
    return document


def on_scrub_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScrubError)
    status, _ = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_document(exc), status_code=status, headers=headers)


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as a field path: ``("body", "prefixes", 0)`` -> ``prefixes[0]``."""
    text = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or str(loc[0] if loc else "body")


def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """Malformed requests (a missing field, a string where a number belongs, a field
    that does not exist) as the same JSON error, 422."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        InvalidInput(
            str(err.get("msg", "invalid")),
            where="body" if err.get("type") == "json_invalid" else field_path(tuple(err["loc"])),
        )
        for err in exc.errors()
    ]
    document: dict[str, Any] = {"error": error_body(errors[0])}
    if len(errors) > 1:
        document["errors"] = [error_body(e) for e in errors]
    return JSONResponse(document, status_code=422)


def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A database that failed in the middle of a request: 503 with the server's words.
    Anything else is a bug: logged with its traceback here, never sent to the client."""
    failure = database_failure(exc, where="database")
    if failure is not None:
        log.error("%s", failure.render(words))
        return on_scrub_error(request, failure)
    log.error("unexpected error", exc_info=exc)
    body = {"code": "error", "field": "", "message": "internal error (see the service's log)",
            "hint": "", "text": "internal error (see the service's log)"}  # fmt: skip
    return JSONResponse({"error": body}, status_code=500)
