"""Helpers every use case shares: who is acting, free-text checks, audit events,
and the refusal of an intent whose plan breaks a limit."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.errors import Conflict, InvalidInput
from orchestrator.inventory import Inventory
from orchestrator.planner import worst_case
from orchestrator.service.snapshot import load_intent
from orchestrator.store.models import EventRow

ACTOR_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # always fullmatch: `$` allows a final newline
DURATION_RE = re.compile(r"([0-9]{1,12})([smhd])")  # 12 digits: any bound below fits, no overflow
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LINE_BREAKS = ("Zl", "Zp")  # U+2028, U+2029: line breaks to a terminal or a log viewer
MAX_REASON = 500
MAX_DURATION = timedelta(days=30)
MAX_SINCE = timedelta(days=36_500)  # a century: reports over years, never before year 1


def check_actor(name: str, where: str = "actor") -> str:
    """An actor's name for the audit log (and a token's name, which becomes one)."""
    if not ACTOR_RE.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a valid name (letters, digits, _ . @ -; at most 64)", where=where
        )
    return name


def check_text(value: str, where: str, *, required: bool = True) -> str:
    """Free text (reasons): printable, bounded, never a control character (nor a Unicode
    line or paragraph separator, which break a line just the same)."""
    text = value.strip()
    if required and not text:
        raise InvalidInput("must not be empty", where=where)
    if len(text) > MAX_REASON:
        raise InvalidInput(f"is {len(text)} characters, at most {MAX_REASON}", where=where)
    for ch in text:
        category = unicodedata.category(ch)
        if category.startswith("C") or category in _LINE_BREAKS:
            raise InvalidInput(f"contains a control character ({ch!r})", where=where)
    return text


def record_event(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> EventRow:
    row = EventRow(
        at=at, actor=actor, action=action, target=target, reason=reason, detail=detail or {}
    )
    session.add(row)
    return row


def refuse_if_over_limits(session: Session, inv: Inventory, now: datetime) -> None:
    """After an intent change (inside its transaction, ``inv`` being the inventory it
    ran against): the most any site could be asked to announce must fit every peer's
    max-prefix, and no GRE tunnel may loop. Raising here rolls the whole change back."""
    session.flush()
    violations = worst_case(inv, load_intent(session, now), now).violations
    if violations:
        extra = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        where, sep, message = violations[0].partition(": ")  # "sites.ams.peers.x: plan has..."
        if not sep or " " in where:
            where, message = "", violations[0]
        raise Conflict(message + extra, where=where, hint="nothing was changed")


def parse_duration(text: str, where: str, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``7d``: positive and at most ``maximum`` (whole days;
    default 30)."""
    match = DURATION_RE.fullmatch(text.strip())
    if not match:
        raise InvalidInput(f"{text!r} is not a duration (like 90s, 30m, 2h, 7d)", where=where)
    seconds = int(match[1]) * _UNIT[match[2]]  # an int: compared before any timedelta exists
    if not 0 < seconds <= maximum.total_seconds():
        raise InvalidInput(
            f"{text.strip()} must be more than 0 and at most {maximum.days}d", where=where
        )
    return timedelta(seconds=seconds)


def parse_since(text: str | None, now: datetime, where: str = "since") -> datetime | None:
    """A duration back from now (at most ``MAX_SINCE``) or an aware ISO time, in UTC."""
    if text is None:
        return None
    if DURATION_RE.fullmatch(text.strip()):
        return now - parse_duration(text, where, maximum=MAX_SINCE)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is neither a duration (2h) nor an ISO time", where=where
        ) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone (add Z or +00:00)", where=where)
    try:
        return value.astimezone(UTC)  # the store compares in UTC
    except OverflowError:
        raise InvalidInput(f"{text!r} is out of range in UTC", where=where) from None
