"""Use cases: the dashboard's logins, kept on the server.

Logging in with an API token's secret opens a session: a random value goes to
the browser (an HttpOnly cookie), the database keeps its SHA-256 only, the
token it was opened with, and a per-session form token (CSRF). A session ends
at logout, after ``IDLE`` without a request, and as soon as its token is
revoked or expires (checked on every request). Sessions change no plan: they
are written without a bump of the change counter.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from orchestrator.errors import Unauthenticated
from orchestrator.service.common import record_event
from orchestrator.service.tokens import Principal, authenticate, digest, principal_of
from orchestrator.store.db import Database
from orchestrator.store.models import TokenRow, WebSessionRow

IDLE = timedelta(minutes=30)
TOUCH_EVERY = timedelta(seconds=30)  # seen_at is written at most this often


@dataclass(frozen=True)
class Login:
    principal: Principal
    csrf: str  # the form token every POST must carry
    session_id: str  # the cookie's value (only at login; "" when resolved)


def login(db: Database, secret: str, *, now: datetime) -> Login:
    """Open a session for the token ``secret`` (``Unauthenticated`` if not in force)."""
    principal = authenticate(db, secret.strip(), now=now)
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.write(bump=False) as session:
        session.add(WebSessionRow(id_sha256=digest(session_id), token_id=principal.token_id,
                                  csrf=csrf, created_at=now, seen_at=now))  # fmt: skip
        record_event(session, at=now, actor=principal.name, action="web.login",
                     target=principal.name)  # fmt: skip
    return Login(principal, csrf, session_id)


def resolve(db: Database, session_id: str, *, now: datetime, touch: bool = True) -> Login:
    """The login behind a session cookie, if it is still open and its token in force;
    ``touch`` counts this as activity (idle expiry starts again)."""
    wanted = digest(session_id)
    with db.read() as session:
        found = session.execute(
            select(WebSessionRow, TokenRow)
            .join(TokenRow, TokenRow.id == WebSessionRow.token_id)
            .where(WebSessionRow.id_sha256 == wanted)
        ).first()
    if found is None or not hmac.compare_digest(found[0].id_sha256, wanted):
        raise Unauthenticated("not logged in", where="session")
    row, token = found
    if row.ended_at is not None:
        raise Unauthenticated("logged out", where="session")
    if row.seen_at + IDLE <= now:
        raise Unauthenticated(
            f"session idle for more than {IDLE.seconds // 60} minutes", where="session"
        )
    principal = principal_of(token, now)  # revoked or expired since: refused
    if touch and now - row.seen_at >= TOUCH_EVERY:
        with db.write(bump=False) as session:
            stored = session.get(WebSessionRow, wanted)
            if stored is not None:
                stored.seen_at = now
    return Login(principal, row.csrf, "")


def logout(db: Database, session_id: str, *, now: datetime) -> None:
    wanted = digest(session_id)
    with db.write(bump=False) as session:
        row = session.get(WebSessionRow, wanted)
        if row is None or row.ended_at is not None:
            return
        row.ended_at = now
        token = session.get(TokenRow, row.token_id)
        name = token.name if token else "?"
        record_event(session, at=now, actor=name, action="web.logout", target=name)


def csrf_ok(login_: Login, given: str) -> bool:
    return bool(given) and hmac.compare_digest(login_.csrf.encode(), given.encode())
