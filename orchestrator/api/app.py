"""The ASGI application: routers, error handlers, and the hold-down loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from orchestrator.api import admin, changes, metrics, reads
from orchestrator.api.context import Context
from orchestrator.api.errors import on_unexpected, on_validation_error
from orchestrator.api.web import actions, errors, live, login, pages
from orchestrator.errors import ScrubError
from orchestrator.service import detections

log = logging.getLogger("scrubctl.api")

DESCRIPTION = """The same use cases as the `scrubctl` command line, for detectors, scripts
and dashboards. Every request needs `Authorization: Bearer TOKEN` (`scrubctl token
create`); viewers read, operators divert, add RTBH entries, drain and move sites and
report detections, admins also apply inventories and manage tokens.

Errors are `{"error": {"code", "field", "message", "hint", "text"}}` with `field` the
request field at fault: 422 invalid input, 404 not found, 409 conflict, 503 database
busy, 401/403 authentication, 504 a `wait` that timed out (the change is committed).

A token scoped to one customer (`scrubctl token create NAME --role viewer --customer C`)
reads that customer's part of every answer only; `/metrics` is refused to it.

The dashboard (`/`, outside this API) logs in with the same tokens."""


async def _release_loop(ctx: Context) -> None:
    """Stop the diversions whose hold-down has ended, every ``release_every`` s."""
    while True:
        try:
            released = await run_in_threadpool(
                detections.release_due, ctx.db, now=datetime.now(UTC)
            )
            for result in released:
                log.info("%s", result.note)
        except ScrubError as exc:  # busy, say: try again next round
            log.warning("hold-down check: %s", exc)
        await asyncio.sleep(ctx.release_every)


def create_app(ctx: Context) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_release_loop(ctx))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await hub.close()

    app = FastAPI(title="scrubctl", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.context = ctx
    hub = live.install_hub(app, ctx)
    app.add_exception_handler(ScrubError, errors.on_error)  # JSON under /api, else a page
    app.add_exception_handler(login.LoginRequired, login.on_login_required)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
    for router in (reads.router, changes.router, admin.router, metrics.router, login.router,
                   pages.router, live.router, actions.router):  # fmt: skip
        app.include_router(router)
    return app
