"""Logging in with an API token: the session cookie (HttpOnly, SameSite=Strict,
Secure when served over TLS), the form token on every POST, logout, and the
dependencies the pages use to know who is reading."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.api.context import Context, context
from orchestrator.api.web.render import error_text, page
from orchestrator.errors import Forbidden, Unauthenticated
from orchestrator.service import web_sessions
from orchestrator.service.tokens import Role, require
from orchestrator.service.web_sessions import Login

COOKIE = "scrubctl_session"
router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]


class LoginRequired(Exception):
    """No open session: the page answers with the login form (303 to /login)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


async def current_login(request: Request, ctx: Ctx) -> Login:
    cookie = request.cookies.get(COOKIE, "")
    if not cookie:
        raise LoginRequired("")
    try:
        return await run_in_threadpool(web_sessions.resolve, ctx.db, cookie, now=_now())
    except Unauthenticated as exc:
        raise LoginRequired(exc.message) from None


Reader = Annotated[Login, Depends(current_login)]


async def operator_login(login: Reader) -> Login:
    require(login.principal, Role.OPERATOR)
    return login


OperatorLogin = Annotated[Login, Depends(operator_login)]


def check_csrf(login: Login, given: str) -> None:
    if not web_sessions.csrf_ok(login, given):
        raise Forbidden("the form's token does not match this session (reload the page)",
                        where="csrf")  # fmt: skip


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, why: str = "") -> HTMLResponse:
    return page("login", None, message=MESSAGES.get(why, ""))


MESSAGES = {  # fixed texts: the query string never reaches the page
    "ended": "Your session has ended (30 minutes idle, or its token was revoked or expired). "
    "Log in again.",
    "out": "Logged out.",
}


@router.post("/login")
def login(request: Request, ctx: Ctx, token: Annotated[str, Form()] = "") -> Response:
    """The login form carries no CSRF token (there is no session yet); SameSite=Strict
    keeps another site's form from logging the browser in under its own token."""
    try:
        opened = web_sessions.login(ctx.db, token, now=_now())
    except Unauthenticated as exc:
        return page("login", None, status=401, message=error_text(exc))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, opened.session_id, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")  # fmt: skip
    return response


@router.post("/logout")
def logout(request: Request, ctx: Ctx, who: Reader, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(who, csrf)
    web_sessions.logout(ctx.db, request.cookies.get(COOKIE, ""), now=_now())
    response = RedirectResponse("/login?why=out", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def on_login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get("accept", "").startswith("text/event-stream"):
        return Response(status_code=401)
    return RedirectResponse("/login?why=ended" if exc.reason else "/login", status_code=303)
