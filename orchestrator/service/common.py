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

_ACTOR_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # always fullmatch: `$` allows a final newline
DURATION_RE = re.compile(r"([0-9]{1,12})([smhd])")  # 12 digits: any bound below fits, no overflow
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LINE_BREAKS = ("Zl", "Zp")  # U+2028, U+2029: line breaks to a terminal or a log viewer
MAX_REASON = 500
MAX_DURATION = timedelta(days=30)


def resolve_actor(given: str | None) -> str:
    """``--actor`` > ``SCRUBCTL_ACTOR`` > the OS user; an error names where it came from."""
    if given:
        actor, where = given, "--actor"
    elif os.environ.get("SCRUBCTL_ACTOR"):
        actor, where = os.environ["SCRUBCTL_ACTOR"], "SCRUBCTL_ACTOR"
    else:
        actor, where = _os_user(), "--actor"
    if not _ACTOR_RE.fullmatch(actor):
        raise InvalidInput(
            f"{actor!r} is not a valid name (letters, digits, _ . @ -; at most 64)", where=where
        )
    return actor


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


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
        raise Conflict(violations[0] + extra, hint="nothing was changed")


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
