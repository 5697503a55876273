"""Use cases: every return path with its health as the sites' probes see it, and a
customer's paths' history (loss and RTT over time, as the sites sampled them)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from orchestrator.errors import NotFound
from orchestrator.inventory import DedicatedReturnPath, GreReturnPath, Inventory
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import load_inventory
from orchestrator.store.db import Database
from orchestrator.store.models import ReturnPathRow, ReturnPathSampleRow

HISTORY_KEEP = timedelta(hours=24)  # what the sites keep, and what the page shows
MAX_POINTS = 240  # samples shown per path at most (a day: one per 6 minutes)


class PathView(Result):
    customer: str
    site: str
    kind: str
    interface: str  # the tunnel the site builds, or the dedicated line
    target: str  # what the probes ask
    health: str  # up, down, unknown (never probed: unknown)
    since: Time | None  # the last transition
    cause: str
    loss: float | None  # 0..1 over the last probes
    rtt_ms: float | None
    checked_at: Time | None  # the last probe


def _interface(customer: str, path: GreReturnPath | DedicatedReturnPath) -> str:
    from orchestrator.drivers.netlink.marks import tunnel_name

    return tunnel_name(customer) if isinstance(path, GreReturnPath) else path.interface


def _views(inv: Inventory, rows: dict[tuple[str, str], ReturnPathRow]) -> list[PathView]:
    views = []
    for cname, customer in sorted(inv.customers.items()):
        for site, path in sorted(customer.return_paths.items()):
            row = rows.get((cname, site))
            views.append(
                PathView(
                    customer=cname, site=site, kind=path.kind,
                    interface=_interface(cname, path), target=str(path.probe.target),
                    health=row.health if row else "unknown",
                    since=row.changed_at if row else None,
                    cause=row.detail if row else "not probed yet",
                    loss=row.loss if row else None, rtt_ms=row.rtt_ms if row else None,
                    checked_at=row.checked_at if row else None,
                )
            )  # fmt: skip
    return views


def list_paths(db: Database, site: str | None = None) -> list[PathView]:
    with db.read() as session:
        inv = load_inventory(session)
        if site is not None and site not in inv.sites:
            known = ", ".join(sorted(inv.sites)) or "none"
            raise NotFound(f"unknown site {site!r} (known: {known})", where="site")
        rows = {(r.customer, r.site): r for r in session.scalars(select(ReturnPathRow))}
    return [v for v in _views(inv, rows) if site is None or v.site == site]


class PathSampleView(Result):
    at: Time
    health: str
    loss: float | None  # 0..1
    rtt_ms: float | None


class PathHistory(Result):
    """One path's samples, oldest first; ``sampled``: how many the site wrote (the
    samples shown are at most ``MAX_POINTS``, each the worst of its stretch)."""

    site: str
    sampled: int
    samples: tuple[PathSampleView, ...]

    @property
    def loss_max(self) -> float | None:
        return max((s.loss for s in self.samples if s.loss is not None), default=None)

    @property
    def rtt(self) -> tuple[float, float, float] | None:
        """Lowest, median and highest RTT shown, in ms."""
        values = [s.rtt_ms for s in self.samples if s.rtt_ms is not None]
        if not values:
            return None
        return min(values), statistics.median(values), max(values)

    @property
    def down(self) -> int:
        """Samples taken while the path was down."""
        return sum(s.health == "down" for s in self.samples)


def _worst(group: Sequence[PathSampleView]) -> PathSampleView:
    losses = [s.loss for s in group if s.loss is not None]
    rtts = [s.rtt_ms for s in group if s.rtt_ms is not None]
    down = any(s.health == "down" for s in group)
    health = "down" if down else group[-1].health
    loss, rtt = max(losses, default=None), max(rtts, default=None)
    return PathSampleView(at=group[-1].at, health=health, loss=loss, rtt_ms=rtt)


def thin(samples: Sequence[PathSampleView], points: int) -> tuple[PathSampleView, ...]:
    """At most ``points`` samples: consecutive stretches, each shown as its worst (the
    highest loss and RTT, down if it was down at all), so no spike disappears."""
    if len(samples) <= points:
        return tuple(samples)
    size = -(-len(samples) // points)  # ceil
    return tuple(_worst(samples[i : i + size]) for i in range(0, len(samples), size))


def history(
    db: Database, customer: str, sites: Sequence[str], *, now: datetime,
    points: int = MAX_POINTS,
) -> tuple[PathHistory, ...]:  # fmt: skip
    """The samples of ``customer``'s paths at ``sites`` since ``HISTORY_KEEP`` ago."""
    query = (
        select(ReturnPathSampleRow)
        .where(
            ReturnPathSampleRow.customer == customer,
            ReturnPathSampleRow.site.in_(list(sites)),
            ReturnPathSampleRow.at >= now - HISTORY_KEEP,
        )
        .order_by(ReturnPathSampleRow.at, ReturnPathSampleRow.id)
    )
    per_site: dict[str, list[PathSampleView]] = {site: [] for site in sites}
    with db.read() as session:
        for row in session.scalars(query):
            per_site[row.site].append(PathSampleView(at=row.at, health=row.health,
                                                     loss=row.loss, rtt_ms=row.rtt_ms))  # fmt: skip
    return tuple(
        PathHistory(site=site, sampled=len(found), samples=thin(found, points))
        for site, found in sorted(per_site.items())
    )
