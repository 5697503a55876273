"""Time to mitigate: requested -> first acknowledged per site -> withdrawn."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select

from orchestrator.service.diversions import acks_by_diversion
from orchestrator.service.results import Result, Time
from orchestrator.store.db import Database
from orchestrator.store.models import DiversionRow


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


class TtmRow(Result):
    id: int
    customer: str
    requested_at: Time
    ttm_seconds: float | None  # request -> the first site's acknowledgement
    per_site_seconds: dict[str, float]
    withdrawn_at: Time | None
    duration_seconds: float | None


class TtmSummary(Result):
    diversions: int
    acknowledged: int
    median_seconds: float | None = None  # None while no diversion is acknowledged
    p95_seconds: float | None = None
    max_seconds: float | None = None


class TtmReport(Result):
    summary: TtmSummary
    diversions: tuple[TtmRow, ...]


def ttm(db: Database, *, since: datetime | None = None) -> TtmReport:
    with db.read() as session:
        query = select(DiversionRow).order_by(DiversionRow.id)
        if since is not None:
            query = query.where(DiversionRow.requested_at >= since)
        rows = list(session.scalars(query))
        acks = acks_by_diversion(session)
    diversions = []
    for row in rows:
        sites = acks.get(row.id, {})
        per_site = {
            site: round((at - row.requested_at).total_seconds(), 3)
            for site, at in sorted(sites.items())
        }
        first = min(per_site.values()) if per_site else None
        duration = row.stopped_at - row.requested_at if row.stopped_at else None
        diversions.append(
            TtmRow(id=row.id, customer=row.customer, requested_at=row.requested_at,
                   ttm_seconds=first, per_site_seconds=per_site, withdrawn_at=row.stopped_at,
                   duration_seconds=round(duration.total_seconds(), 3) if duration else None)
        )  # fmt: skip
    return summarise(diversions)


def summarise(diversions: list[TtmRow]) -> TtmReport:
    """The report of ``diversions``: median, p95 and max over the acknowledged ones."""
    figures = [d.ttm_seconds for d in diversions if d.ttm_seconds is not None]
    summary = TtmSummary(diversions=len(diversions), acknowledged=len(figures))
    if figures:
        summary = TtmSummary(
            diversions=len(diversions),
            acknowledged=len(figures),
            median_seconds=round(percentile(figures, 50), 3),
            p95_seconds=round(percentile(figures, 95), 3),
            max_seconds=round(max(figures), 3),
        )
    return TtmReport(summary=summary, diversions=tuple(diversions))
