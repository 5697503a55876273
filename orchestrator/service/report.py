"""Time to mitigate: requested -> first acknowledged per site -> withdrawn."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orchestrator.service.diversions import acks_by_diversion
from orchestrator.store.db import Database
from orchestrator.store.models import DiversionRow


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ttm(db: Database, *, since: datetime | None = None) -> dict[str, Any]:
    with db.read() as session:
        query = select(DiversionRow).order_by(DiversionRow.id)
        if since is not None:
            query = query.where(DiversionRow.requested_at >= since)
        rows = list(session.scalars(query))
        acks = acks_by_diversion(session)
    diversions = []
    figures: list[float] = []
    for row in rows:
        sites = acks.get(row.id, {})
        per_site = {
            site: round((at - row.requested_at).total_seconds(), 3)
            for site, at in sorted(sites.items())
        }
        first = min(per_site.values()) if per_site else None
        if first is not None:
            figures.append(first)
        diversions.append({
            "id": row.id,
            "customer": row.customer,
            "requested_at": row.requested_at.isoformat(),
            "ttm_seconds": first,
            "per_site_seconds": per_site,
            "withdrawn_at": row.stopped_at.isoformat() if row.stopped_at else None,
            "duration_seconds": round((row.stopped_at - row.requested_at).total_seconds(), 3)
            if row.stopped_at else None,
        })  # fmt: skip
    summary: dict[str, Any] = {"diversions": len(rows), "acknowledged": len(figures)}
    if figures:
        summary.update(
            median_seconds=round(percentile(figures, 50), 3),
            p95_seconds=round(percentile(figures, 95), 3),
            max_seconds=round(max(figures), 3),
        )
    return {"summary": summary, "diversions": diversions}
