"""Rendering a page: the template, the reader's login (its name, role, form token)
and the small formatting helpers the templates share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import HTMLResponse

from orchestrator.errors import ScrubError
from orchestrator.service.web_sessions import Login
from orchestrator.templating import html_environment

# Hint terms as this face says them: the dashboard's own controls.
WORDS = {
    "apply_inventory": "scrubctl inventory apply",
    "failback": "the failback action",
    "force": "the 'force' box",
    "wait": "waiting",
}


def words(term: str, argument: str) -> str:
    return WORDS.get(term, term)


def error_text(exc: ScrubError) -> str:
    return exc.render(words)


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago``, ``2 d ago``; ``never`` for None."""
    if value is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def page(name: str, login: Login | None, status: int = 200, **values: Any) -> HTMLResponse:
    env = html_environment()
    env.filters.update(ago=ago, utc=utc, seconds=seconds)
    body = env.get_template(f"web/{name}.html.j2").render(login=login, **values)
    return HTMLResponse(body, status_code=status,
                        headers={"Cache-Control": "no-store",
                                 "Content-Security-Policy": CSP,
                                 "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "same-origin"})  # fmt: skip


# Everything comes from this origin; no inline script; inline SVG/styles only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
