"""Use cases: bearer tokens of the HTTP API (create, list, revoke, authenticate).

A token is a random secret shown once; the database keeps its SHA-256 only, so
a copy of the database does not hand out access. A token has a name (the audit
actor of everything done with it) and a role:

- ``viewer`` reads (inventory, plan, status, paths, events, reports, lists);
- ``operator`` also diverts, adds and removes RTBH entries, drains and moves
  sites, and reports detections;
- ``admin`` also applies inventories and manages tokens.

A viewer token may be scoped to one customer (``customer``): everything it
reads is that customer's only, and another customer's objects are forbidden
(``orchestrator.service.scope``). Only viewers are scoped: a change always
concerns more than one customer's routes (a drain, a max-prefix limit).

At most one token per name is in force (not revoked, not expired).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from orchestrator.service.common import check_actor, check_text, record_event
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import load_inventory
from orchestrator.store.db import Database
from orchestrator.store.models import TokenRow

MAX_LIFETIME = timedelta(days=365)
SECRET_PREFIX = "scrubctl_"
RESERVED_NAMES = ("agent", "return-paths")  # actors the sites write as


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
        return order.index(self) >= order.index(needed)


class TokenView(Result):
    name: str
    role: Role
    created_by: str
    created_at: Time
    expires_at: Time | None  # None: never
    revoked_at: Time | None
    revoked_by: str | None
    state: Literal["active", "expired", "revoked"]
    customer: str | None = None  # a viewer of this customer only


class CreatedToken(Result):
    token: TokenView
    secret: str  # shown this once; the database keeps its SHA-256 only


@dataclass(frozen=True)
class Principal:
    """Who a request is from: the token's name (the audit actor), its role, and the
    one customer it may see (None: every customer)."""

    name: str
    role: Role
    customer: str | None = None
    token_id: int = 0


def parse_role(text: str, where: str = "role") -> Role:
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput(f"{text!r} is not a role ({known})", where=where) from None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _state(row: TokenRow, now: datetime) -> Literal["active", "expired", "revoked"]:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def view(row: TokenRow, now: datetime) -> TokenView:
    return TokenView(name=row.name, role=Role(row.role), created_by=row.created_by,
                     created_at=row.created_at, expires_at=row.expires_at,
                     revoked_at=row.revoked_at, revoked_by=row.revoked_by,
                     state=_state(row, now), customer=row.customer)  # fmt: skip


def _in_force(session: Session, name: str, now: datetime) -> TokenRow | None:
    rows = session.scalars(select(TokenRow).where(TokenRow.name == name).order_by(TokenRow.id))
    return next((r for r in rows if _state(r, now) == "active"), None)


def _check_scope(session: Session, role: Role, customer: str | None) -> None:
    if customer is None:
        return
    if role is not Role.VIEWER:
        raise InvalidInput(f"only a viewer can be scoped to a customer, not {role.value}",
                           where="customer", hint="use --role viewer")  # fmt: skip
    if customer not in load_inventory(session).customers:
        raise NotFound(f"unknown customer {customer!r}", where="customer")


def create(
    db: Database,
    name: str,
    role: Role,
    *,
    expires: timedelta | None,
    actor: str,
    now: datetime,
    customer: str | None = None,
) -> CreatedToken:
    check_actor(name, "name")
    if name in RESERVED_NAMES:
        raise InvalidInput(f"{name!r} is the name the site agents write as", where="name")
    if expires is not None and not timedelta(0) < expires <= MAX_LIFETIME:
        raise InvalidInput(f"must be more than 0 and at most {MAX_LIFETIME.days}d", where="expires")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with db.write(bump=False) as session:  # tokens change no plan: no agent wakes up
        _check_scope(session, role, customer)
        if _in_force(session, name, now) is not None:
            raise Conflict(f"a token named {name!r} is in force", where="name",
                           hint="revoke it first")  # fmt: skip
        row = TokenRow(name=name, role=role.value, secret_sha256=digest(secret),
                       created_by=actor, created_at=now, customer=customer,
                       expires_at=now + expires if expires is not None else None)  # fmt: skip
        session.add(row)
        session.flush()
        record_event(session, at=now, actor=actor, action="token.create", target=name,
                     detail={"role": role.value, "customer": customer,
                             "expires_at": row.expires_at.isoformat()
                             if row.expires_at else None})  # fmt: skip
        return CreatedToken(token=view(row, now), secret=secret)


def list_(db: Database, *, now: datetime, include_ended: bool) -> list[TokenView]:
    with db.read() as session:
        rows = session.scalars(select(TokenRow).order_by(TokenRow.name, TokenRow.id))
        views = [view(r, now) for r in rows]
    return views if include_ended else [v for v in views if v.state == "active"]


def revoke(db: Database, name: str, *, reason: str, actor: str, now: datetime) -> TokenView:
    reason = check_text(reason, "reason", required=False)
    with db.write(bump=False) as session:
        row = _in_force(session, name, now)
        if row is None:
            raise NotFound(f"no token named {name!r} is in force", where="name")
        row.revoked_at, row.revoked_by = now, actor
        record_event(session, at=now, actor=actor, action="token.revoke", target=name,
                     reason=reason)  # fmt: skip
        return view(row, now)


def authenticate(db: Database, secret: str, *, now: datetime) -> Principal:
    """The token ``secret`` belongs to, if it is in force."""
    wanted = digest(secret)
    with db.read() as session:
        row = session.scalars(select(TokenRow).where(TokenRow.secret_sha256 == wanted)).first()
    if row is None or not hmac.compare_digest(row.secret_sha256, wanted):
        raise Unauthenticated("unknown token", where="authorization")
    return principal_of(row, now)


def principal_of(row: TokenRow, now: datetime) -> Principal:
    """Who ``row`` makes the bearer, if the token is in force."""
    state = _state(row, now)
    if state == "revoked":
        raise Unauthenticated(f"token {row.name!r} was revoked", where="authorization")
    if state == "expired":
        raise Unauthenticated(f"token {row.name!r} has expired", where="authorization")
    return Principal(row.name, Role(row.role), row.customer, row.id)


def require(principal: Principal, needed: Role) -> None:
    if not principal.role.allows(needed):
        raise Forbidden(
            f"token {principal.name!r} has role {principal.role.value}; this needs {needed.value}",
            where="authorization",
        )
