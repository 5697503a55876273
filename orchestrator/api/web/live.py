"""Live pages: a Server-Sent Events stream that says "changed" whenever the
store's pulse moves (``dashboard.pulse``), and the dashboard's two static
assets (shipped in the package: no CDN, no build step).

The pulse is read every ``POLL_S`` by one poller per service process (``hub``),
shared by every open stream: N open pages cost one read per interval, not N.
The page's script answers an event by fetching the page again and swapping its
live regions; the stream ends when the login does (idle expiry, revoked token),
checked every ``RECHECK_S``, and leaves the hub when the page goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from orchestrator.api.context import Context, context
from orchestrator.api.web.hub import PulseHub
from orchestrator.api.web.login import COOKIE, Reader
from orchestrator.errors import ScrubError
from orchestrator.service import dashboard, web_sessions

POLL_S = 0.2
RECHECK_S = 15.0
KEEPALIVE_S = 15.0
WAKE_S = 1.0  # a stream looks for a closed connection at least this often
ASSETS = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]


def install_hub(app: FastAPI, ctx: Context) -> PulseHub:
    """The application's one pulse poller (started by the first stream)."""
    hub = PulseHub(lambda: dashboard.pulse(ctx.db), POLL_S)
    app.state.pulse_hub = hub
    return hub


async def _changes(request: Request, hub: PulseHub, ctx: Context) -> AsyncIterator[str]:
    cookie = request.cookies.get(COOKIE, "")
    yield "retry: 1000\n\n"
    loop = asyncio.get_running_loop()
    checked = quiet = loop.time()
    async with hub.subscribe() as changes:
        while not await request.is_disconnected():
            try:
                current = await asyncio.wait_for(changes.get(), WAKE_S)
            except TimeoutError:
                current = None
            now = loop.time()
            if now - checked >= RECHECK_S:
                checked = now
                try:
                    await run_in_threadpool(web_sessions.resolve, ctx.db, cookie,
                                            now=datetime.now(UTC), touch=False)  # fmt: skip
                except ScrubError:
                    yield "event: ended\ndata: login\n\n"
                    return
            if current is not None:
                quiet = now
                yield f"event: changed\ndata: {current[0]}\n\n"
            elif now - quiet >= KEEPALIVE_S:
                quiet = now
                yield ": keep-alive\n\n"


@router.get("/live")
async def live(request: Request, ctx: Ctx, _who: Reader) -> StreamingResponse:
    hub = request.app.state.pulse_hub
    assert isinstance(hub, PulseHub)
    return StreamingResponse(_changes(request, hub, ctx), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store",
                                      "X-Accel-Buffering": "no"})  # fmt: skip


@router.get("/static/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    body = resources.files("orchestrator.templates").joinpath("web", "static", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"})
