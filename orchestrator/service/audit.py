"""The audit log, searched: by time, actor, action and target, for the dashboard's
events page and its CSV export (what an auditor asks for), and for a
customer-scoped reader (only the events about its customer)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from orchestrator.service.status import EventView
from orchestrator.store.db import Database
from orchestrator.store.models import EventRow

BATCH = 500
CSV_COLUMNS = ("id", "at", "actor", "action", "target", "reason", "detail")


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str = ""  # exact
    action: str = ""  # exact, or a prefix ending in "." (``divert.``)
    target: str = ""  # substring
    limit: int = 200


def _view(r: EventRow) -> EventView:
    return EventView(id=r.id, at=r.at, actor=r.actor, action=r.action, target=r.target,
                     reason=r.reason, detail=r.detail)  # fmt: skip


def search(
    db: Database, wanted: EventFilter, keep: Callable[[EventView], bool] | None = None
) -> list[EventView]:
    """The newest ``limit`` events that match (and that ``keep`` keeps), oldest first."""
    query = select(EventRow).order_by(EventRow.id.desc())
    if wanted.since is not None:
        query = query.where(EventRow.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(EventRow.at <= wanted.until)
    if wanted.actor:
        query = query.where(EventRow.actor == wanted.actor)
    if wanted.action.endswith("."):
        query = query.where(EventRow.action.startswith(wanted.action, autoescape=True))
    elif wanted.action:
        query = query.where(EventRow.action == wanted.action)
    if wanted.target:
        query = query.where(EventRow.target.contains(wanted.target, autoescape=True))
    found: list[EventView] = []
    offset = 0
    with db.read() as session:
        while len(found) < wanted.limit:
            rows = list(session.scalars(query.limit(BATCH).offset(offset)))
            found.extend(v for v in map(_view, rows) if keep is None or keep(v))
            if len(rows) < BATCH:
                break
            offset += BATCH
    return list(reversed(found[: wanted.limit]))


def actions(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(EventRow.action).distinct().order_by(EventRow.action)))


def as_csv(events: Iterable[EventView]) -> str:
    """RFC 4180 CSV, one row per event; ``detail`` as compact JSON. A cell that a
    spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) gets a
    leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        detail = json.dumps(e.detail, sort_keys=True, separators=(",", ":"))
        cells = [str(e.id), e.at.isoformat(), e.actor, e.action, e.target, e.reason, detail]
        writer.writerow([_inert(c) for c in cells])
    return out.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
