"""Helpers every use case shares: who is acting, free-text checks, audit events,
and the refusal of an intent whose plan breaks a limit."""

from __future__ import annotations

import getpass
import os
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.errors import Conflict, InvalidInput
from orchestrator.inventory import Inventory
from orchestrator.planner import worst_case
from orchestrator.service.snapshot import load_intent
from orchestrator.store.models import EventRow

_ACTOR_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_DURATION_RE = re.compile(r"^([0-9]{1,6})([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_REASON = 500
MAX_DURATION = timedelta(days=30)


def resolve_actor(given: str | None) -> str:
    """``--actor`` > ``SCRUBCTL_ACTOR`` > the OS user."""
    actor = given or os.environ.get("SCRUBCTL_ACTOR") or _os_user()
    if not _ACTOR_RE.match(actor):
        raise InvalidInput(
            f"{actor!r} is not a valid name (letters, digits, _ . @ -; at most 64)",
            where="--actor",
        )
    return actor


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


def check_text(value: str, where: str, *, required: bool = True) -> str:
    """Free text (reasons): printable, bounded, never a control character."""
    text = value.strip()
    if required and not text:
        raise InvalidInput("must not be empty", where=where)
    if len(text) > MAX_REASON:
        raise InvalidInput(f"is {len(text)} characters, at most {MAX_REASON}", where=where)
    for ch in text:
        if unicodedata.category(ch).startswith("C"):
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
        raise Conflict(violations[0] + extra, hint="nothing was changed")


def parse_duration(text: str, where: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``7d``: positive and at most 30 days."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise InvalidInput(f"{text!r} is not a duration (like 90s, 30m, 2h, 7d)", where=where)
    value = timedelta(seconds=int(match[1]) * _UNIT[match[2]])
    if not timedelta(0) < value <= MAX_DURATION:
        raise InvalidInput(f"{text} must be more than 0 and at most 30d", where=where)
    return value
