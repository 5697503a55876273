"""``GET /metrics``: Prometheus text, read from the store at each scrape (the service
keeps no counters of its own, so several ``serve`` processes report the same)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from orchestrator.api.auth import Viewer
from orchestrator.api.context import Context, context
from orchestrator.domain import Protection
from orchestrator.errors import Forbidden
from orchestrator.service import report, status
from orchestrator.service.paths import list_paths
from orchestrator.store.db import Database
from orchestrator.store.models import (
    AgentSyncRow,
    AnnouncedRow,
    DiversionRow,
    EventRow,
    SessionRow,
    SiteSyncRow,
)

router = APIRouter()
TTM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class StoreCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        view = status.status(self.db, now=now)
        states = Counter(c.state for c in view.customers.values())
        customers = GaugeMetricFamily("scrubctl_customers", "Customers per protection state",
                                      labels=["state"])  # fmt: skip
        for state in Protection:
            customers.add_metric([state.value], states.get(state, 0))
        yield customers
        yield from self._routes(now)
        yield from self._sessions()
        paths = GaugeMetricFamily("scrubctl_return_path_up",
                                  "Return path health: 1 up, 0 down, -1 unknown",
                                  labels=["site", "customer"])  # fmt: skip
        for path in list_paths(self.db):
            paths.add_metric([path.site, path.customer],
                             {"up": 1, "down": 0}.get(path.health, -1))  # fmt: skip
        yield paths
        yield self._ttm()
        yield from self._sync()
        yield from self._sync_runs()

    def _routes(self, now: datetime) -> Iterator[Metric]:
        planned = status.plan_view(status.current_plan(self.db, now=now))
        active = GaugeMetricFamily("scrubctl_routes_planned", "Routes planned per site and peer",
                                   labels=["site", "peer"])  # fmt: skip
        per_peer = Counter((r.site, peer) for r in planned.routes for peer in r.peers)
        for (site, peer), count in sorted(per_peer.items()):
            active.add_metric([site, peer], count)
        yield active
        acked = GaugeMetricFamily("scrubctl_routes_acknowledged",
                                  "Routes ExaBGP acknowledged per site and peer",
                                  labels=["site", "peer"])  # fmt: skip
        query = select(AnnouncedRow.site, AnnouncedRow.peer, func.count()).group_by(
            AnnouncedRow.site, AnnouncedRow.peer)  # fmt: skip
        with self.db.read() as session:
            for site, peer, count in session.execute(query):
                acked.add_metric([site, peer], count)
            active_count = session.execute(select(func.count()).select_from(DiversionRow).where(
                DiversionRow.stopped_at.is_(None))).scalar()  # fmt: skip
        yield acked
        yield GaugeMetricFamily("scrubctl_diversions_active", "Active diversions",
                                value=active_count or 0)  # fmt: skip

    def _sessions(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("scrubctl_bgp_session_up",
                                   "BGP session established (1) or not (0), as the agent reports",
                                   labels=["site", "peer", "state"])  # fmt: skip
        with self.db.read() as session:
            for row in session.scalars(
                select(SessionRow).order_by(SessionRow.site, SessionRow.peer)
            ):
                family.add_metric([row.site, row.peer, row.state], int(row.established))
        yield family

    def _ttm(self) -> Metric:
        figures = [d.ttm_seconds for d in report.ttm(self.db).diversions
                   if d.ttm_seconds is not None]  # fmt: skip
        buckets = [(str(b), sum(1 for f in figures if f <= b)) for b in TTM_BUCKETS]
        buckets.append(("+Inf", len(figures)))
        return HistogramMetricFamily(
            "scrubctl_time_to_mitigate_seconds",
            "Diversion request to the first site's ExaBGP acknowledgement",
            buckets=buckets, sum_value=sum(figures),
        )  # fmt: skip

    def _sync(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily("scrubctl_agent_sync_lag",
                                "Change counter minus the one the site's agent last synced",
                                labels=["site"])  # fmt: skip
        age = GaugeMetricFamily(
            "scrubctl_agent_sync_age_seconds",
            "Seconds since the site's agent last synced",
            labels=["site"],
        )
        errors = GaugeMetricFamily("scrubctl_agent_errors",
                                   "agent.error events per site (in the audit log)",
                                   labels=["site"])  # fmt: skip
        generation = self.db.generation()
        now = datetime.now(UTC)
        with self.db.read() as session:
            for row in session.scalars(select(SiteSyncRow).order_by(SiteSyncRow.site)):
                lag.add_metric([row.site], generation - row.generation)
                age.add_metric([row.site], (now - row.synced_at).total_seconds())
            query = select(EventRow.target, func.count()).where(
                EventRow.action == "agent.error").group_by(EventRow.target)  # fmt: skip
            for site, count in session.execute(query):
                errors.add_metric([site], count)
        yield lag
        yield age
        yield errors

    def _sync_runs(self) -> Iterator[Metric]:
        duration = GaugeMetricFamily("scrubctl_agent_sync_duration_seconds",
                                     "How long the site's agent took for its last sync",
                                     labels=["site"])  # fmt: skip
        errors = GaugeMetricFamily("scrubctl_agent_sync_errors",
                                   "Errors of the site agent's last sync (0: all acknowledged)",
                                   labels=["site"])  # fmt: skip
        syncs = CounterMetricFamily("scrubctl_agent_syncs", "Syncs of the site's agent",
                                    labels=["site"])  # fmt: skip
        failed = CounterMetricFamily("scrubctl_agent_sync_failures",
                                     "Syncs of the site's agent with at least one error",
                                     labels=["site"])  # fmt: skip
        with self.db.read() as session:
            for row in session.scalars(select(AgentSyncRow).order_by(AgentSyncRow.site)):
                duration.add_metric([row.site], row.duration_s)
                errors.add_metric([row.site], row.errors)
                syncs.add_metric([row.site], row.syncs)
                failed.add_metric([row.site], row.failed)
        yield from (duration, errors, syncs, failed)


@router.get("/metrics", tags=["status"], response_class=Response)
def metrics(ctx: Annotated[Context, Depends(context)], who: Viewer) -> Response:
    """Prometheus text format (a viewer token: ``authorization`` in the scrape config).
    Not for a customer-scoped viewer: the figures are labelled with every customer."""
    if who.customer is not None:
        raise Forbidden("a customer-scoped token cannot read /metrics (they name every "
                        "customer)", where="authorization")  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(ctx.db))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
