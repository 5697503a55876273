"""Operator changes from the dashboard, in three steps:

1. the form (every change needs a reason);
2. the preview (POST, form token): what the change would announce and withdraw
   where, from the planner run on the intent as the change would leave it
   (``service.whatif``); nothing is written. The confirmation form carries the
   change, the change counter it was previewed at, and a signature over both
   (keyed by the session's form token, so the fields cannot be altered);
3. the confirmation (POST, form token, signature): the use case runs (one
   transaction, one audit event) on the database pinned to the previewed change
   counter (``Database.pinned``): its transaction checks the counter after
   taking the write lock, so a change made since the preview (the difference
   shown may no longer hold) makes it refuse, with a new preview, and commit
   nothing; no change can come between that check and the commit. Then the
   browser goes to the change's page, where each affected site's agent is seen
   acknowledging it (``site_sync``), live.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from orchestrator.api.context import Context, context
from orchestrator.api.web.login import OperatorLogin, check_csrf
from orchestrator.api.web.render import error_text, page
from orchestrator.errors import InvalidInput, ScrubError, StaleState
from orchestrator.service import diversions, moves, rtbh, sites, sync, whatif
from orchestrator.service.common import parse_duration
from orchestrator.service.web_sessions import Login
from orchestrator.service.whatif import KINDS, Change
from orchestrator.store.db import Database
from orchestrator.store.models import SiteSyncRow

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Field = Annotated[str, Form(max_length=500)]
TITLES = {
    "divert-start": "Start a diversion", "divert-stop": "Stop a customer's diversions",
    "rtbh-add": "Add an RTBH entry", "rtbh-remove": "Remove an RTBH entry",
    "drain": "Drain a site", "undrain": "Undrain a site",
    "failover": "Move a customer away from a site", "failback": "Fail a customer back",
}  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def _change(kind: str, reason: str, customer: str, site: str, to_site: str, host: str,
            expires: str, prefixes: str, targets: str, force: str) -> Change:  # fmt: skip
    if kind not in KINDS:
        raise InvalidInput(f"{kind!r} is not a change ({', '.join(KINDS)})", where="kind")
    return Change(kind=kind, reason=reason, customer=customer.strip(), site=site.strip(),
                  to_site=to_site.strip(), host=host.strip(), expires=expires.strip(),
                  prefixes=tuple(prefixes.split()), targets=tuple(targets.split()),
                  force=force == "1")  # fmt: skip


def signature(login: Login, change: Change, generation: int) -> str:
    message = json.dumps([change.fields(), generation], sort_keys=True).encode()
    return hmac.new(login.csrf.encode(), message, hashlib.sha256).hexdigest()


@router.get("/actions/{kind}", response_class=HTMLResponse)
def form(kind: str, who: OperatorLogin, customer: str = "", site: str = "",
         host: str = "") -> HTMLResponse:  # fmt: skip
    change = _change(kind, "", customer, site, "", host, "1h" if kind == "rtbh-add" else "",
                     "", "", "")  # fmt: skip
    return page("action", who, change=change, title=TITLES[kind], error="")


def posted_change(who: OperatorLogin, csrf: Field = "", kind: Field = "", reason: Field = "",
                  customer: Field = "", site: Field = "", to_site: Field = "", host: Field = "",
                  expires: Field = "", prefixes: Field = "", targets: Field = "",
                  force: Field = "") -> Change:  # fmt: skip
    """The change a preview or confirmation form posts, once its form token checked."""
    check_csrf(who, csrf)
    return _change(kind, reason, customer, site, to_site, host, expires, prefixes, targets,
                   force)  # fmt: skip


PostedChange = Annotated[Change, Depends(posted_change)]


@router.post("/actions/preview", response_class=HTMLResponse)
def preview(ctx: Ctx, who: OperatorLogin, change: PostedChange) -> HTMLResponse:
    return _preview_page(ctx, who, change, "")


def _preview_page(ctx: Context, who: Login, change: Change, notice: str) -> HTMLResponse:
    generation = ctx.db.generation()
    try:
        shown = whatif.preview(ctx.db, change, now=_now())
    except ScrubError as exc:
        return page("action", who, status=422, change=change, title=TITLES[change.kind],
                    error=error_text(exc))  # fmt: skip
    return page("preview", who, change=change, title=TITLES[change.kind], preview=shown,
                generation=generation, signature=signature(who, change, generation),
                notice=notice)  # fmt: skip


@router.post("/actions/confirm", response_model=None)
def confirm(ctx: Ctx, who: OperatorLogin, change: PostedChange, generation: Field = "",
            confirmation: Field = "") -> Response:  # fmt: skip
    seen = int(generation) if generation.isdigit() else -1
    if not hmac.compare_digest(signature(who, change, seen), confirmation):
        raise InvalidInput("the confirmation does not match the previewed change",
                           where="confirmation", hint="preview the change again")  # fmt: skip
    now = _now()
    try:  # the use case's own write transaction checks `seen` under its lock: see above
        _result, made = sync.tracked(ctx.db, now, _runner(ctx.db.pinned(seen), who, change, now))
    except StaleState:
        return _preview_page(ctx, who, change, "The state changed since the preview; nothing "
                             "was done. Here is the difference now: confirm again if it is "
                             "still what you want.")  # fmt: skip
    except ScrubError as exc:
        return page("action", who, status=409 if exc.exit_code == 4 else 422, change=change,
                    title=TITLES[change.kind], error=error_text(exc))  # fmt: skip
    query = "&".join(f"site={s}" for s in made.affected)
    return RedirectResponse(f"/changes/{made.generation}?kind={change.kind}&{query}",
                            status_code=303)  # fmt: skip


def _runner(db: Database, who: Login, c: Change, now: datetime) -> Callable[[], object]:
    actor = who.principal.name
    runs: dict[str, Callable[[], object]] = {
        "divert-start": lambda: diversions.start(db, diversions.DivertRequest(
            customer=c.customer, reason=c.reason, prefixes=c.prefixes, targets=c.targets),
            actor=actor, now=now),
        "divert-stop": lambda: diversions.stop(db, c.customer, diversion_id=None, reason=c.reason,
                                               actor=actor, now=now),
        "rtbh-add": lambda: rtbh.add(db, c.host, reason=c.reason,
                                     expires=parse_duration(c.expires, "expires"),
                                     forced=c.force, actor=actor, now=now),
        "rtbh-remove": lambda: rtbh.remove(db, c.host, reason=c.reason, actor=actor, now=now),
        "drain": lambda: sites.drain(db, c.site, reason=c.reason, force=c.force, actor=actor,
                                     now=now),
        "undrain": lambda: sites.undrain(db, c.site, reason=c.reason, actor=actor, now=now),
        "failover": lambda: moves.failover(db, c.customer, c.site, c.to_site or None,
                                           reason=c.reason, force=c.force, actor=actor, now=now),
        "failback": lambda: moves.failback(db, c.customer, reason=c.reason, actor=actor, now=now),
    }  # fmt: skip
    return runs[c.kind]


@router.get("/changes/{generation}", response_class=HTMLResponse)
def change_page(generation: int, ctx: Ctx, who: OperatorLogin, kind: str = "",
                site: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:  # fmt: skip
    with ctx.db.read() as session:
        synced = {r.site: r for r in session.scalars(select(SiteSyncRow))}
    acks = [(s, synced.get(s)) for s in sorted(set(site or []))]
    return page("change", who, generation=generation, kind=kind, acks=acks,
                title=TITLES.get(kind, "Change"), now=_now())  # fmt: skip
