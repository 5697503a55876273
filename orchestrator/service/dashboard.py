"""Read use cases of the dashboard: one typed view per page, composed from the
same services the CLI and the JSON API read (plan, status, paths, sites,
diversions, RTBH, the TTM report), filtered by the reader's ``Scope``.

``pulse`` is what the live pages watch: a cheap fingerprint of everything they
show that can move. The change counter alone is not enough: acknowledgements
(``site_sync``, ``announced_routes``, ``diversion_acks``) and audit events are
written without a bump, so that no agent wakes up for them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select

from orchestrator.domain import Protection
from orchestrator.errors import NotFound
from orchestrator.inventory import Inventory
from orchestrator.planner import owner_of
from orchestrator.service import diversions, paths, report, rtbh, sites, status
from orchestrator.service.diversions import DiversionView
from orchestrator.service.paths import PathHistory, PathView
from orchestrator.service.report import TtmRow
from orchestrator.service.results import Result, Time
from orchestrator.service.rtbh import RtbhView
from orchestrator.service.scope import Scope
from orchestrator.service.sites import SiteView
from orchestrator.service.snapshot import load_inventory
from orchestrator.service.status import CustomerView, RouteView
from orchestrator.store.db import Database
from orchestrator.store.models import (
    AnnouncedRow,
    DiversionAckRow,
    EventRow,
    ReturnPathRow,
    SiteSyncRow,
)

ALERT = (Protection.UNPROTECTED, Protection.LAST_RESORT)


class CustomerLine(Result):
    name: str
    state: Protection
    reason: str
    scrubbing: tuple[str, ...]  # sites that announce it with a session up (the carriers)
    since: Time | None  # the oldest active diversion's request (always-on: None)
    last_ttm_seconds: float | None
    rtbh: tuple[str, ...]  # RTBH routes announced for it now

    @property
    def alert(self) -> bool:
        return self.state in ALERT


class SiteLine(Result):
    site: SiteView
    sessions_up: int
    paths_up: int
    paths_down: int


class Overview(Result):
    customers: tuple[CustomerLine, ...]
    sites: tuple[SiteLine, ...]
    generation: int

    @property
    def alerts(self) -> list[CustomerLine]:
        return [c for c in self.customers if c.alert]


def _inventory(db: Database) -> Inventory:
    with db.read() as session:
        return load_inventory(session)


def _carriers(
    routes: tuple[RouteView, ...], established: set[tuple[str, str]]
) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in routes:
        if r.kind == "scrub" and any((r.site, p) in established for p in r.peers):
            out.setdefault(r.customer, set()).add(r.site)
    return out


def overview(db: Database, scope: Scope, *, now: datetime) -> Overview:
    inv = _inventory(db)
    plan = scope.plan(status.plan_view(status.current_plan(db, now=now)))
    site_views = scope.sites(sites.list_(db, now=now), inv)
    established = {(s.site, p.name) for s in site_views for p in s.peers if p.established}
    carriers = _carriers(plan.routes, established)
    active = scope.mine(diversions.list_(db, include_stopped=False))
    ttm = scope.ttm(report.ttm(db)).diversions
    lines = []
    for name, verdict in sorted(plan.customers.items()):
        mine = [d.requested_at for d in active if d.customer == name]
        figures = [r.ttm_seconds for r in ttm if r.customer == name and r.ttm_seconds is not None]
        blackholed = sorted(
            {r.prefix for r in plan.routes if r.customer == name and r.kind == "rtbh"}
        )
        lines.append(CustomerLine(
            name=name, state=verdict.state, reason=verdict.reason,
            scrubbing=tuple(sorted(carriers.get(name, ()))), since=min(mine, default=None),
            last_ttm_seconds=figures[-1] if figures else None, rtbh=tuple(blackholed),
        ))  # fmt: skip
    site_lines = [
        SiteLine(site=s, sessions_up=sum(p.established for p in s.peers),
                 paths_up=sum(p.health == "up" for p in s.return_paths),
                 paths_down=sum(p.health == "down" for p in s.return_paths))
        for s in site_views
    ]  # fmt: skip
    ordered = sorted(lines, key=lambda c: (not c.alert, c.name))
    return Overview(customers=tuple(ordered), sites=tuple(site_lines), generation=db.generation())


class CustomerPage(Result):
    name: str
    asn: int
    mode: str
    prefixes: tuple[str, ...]
    verdict: CustomerView
    routes: tuple[RouteView, ...]  # what each site announces for it, to which peers, why
    paths: tuple[PathView, ...]
    history: tuple[PathHistory, ...]  # each path's loss and RTT over the last day
    diversions: tuple[DiversionView, ...]  # active first, then the stopped ones
    rtbh: tuple[RtbhView, ...]
    ttm: tuple[TtmRow, ...]


def customer_page(db: Database, scope: Scope, name: str, *, now: datetime) -> CustomerPage:
    scope.require(name)
    inv = _inventory(db)
    customer = inv.customers.get(name)
    if customer is None:
        raise NotFound(f"unknown customer {name!r}", where="customer")
    plan = status.plan_view(status.current_plan(db, now=now))
    all_diversions = [d for d in diversions.list_(db, include_stopped=True) if d.customer == name]
    ordered = sorted(all_diversions, key=lambda d: (d.state != "active", -d.id))
    mine = tuple(p for p in paths.list_paths(db) if p.customer == name)
    return CustomerPage(
        name=name, asn=customer.asn, mode=customer.mode.value,
        prefixes=tuple(str(p.prefix) for p in customer.prefixes),
        verdict=plan.customers[name],
        routes=tuple(r for r in plan.routes if r.customer == name),
        paths=mine, history=paths.history(db, name, [p.site for p in mine], now=now),
        diversions=tuple(ordered),
        rtbh=tuple(r for r in rtbh.list_(db, now=now, include_ended=True) if r.customer == name),
        ttm=tuple(r for r in report.ttm(db).diversions if r.customer == name),
    )  # fmt: skip


class PeerRoutes(Result):
    peer: str
    planned: int
    acknowledged: int


class SitePage(Result):
    site: SiteView
    routes: tuple[PeerRoutes, ...]
    customers: dict[str, str]  # customer -> this site's verdict for it (eligible, why not)
    synced_generation: int | None
    synced_at: Time | None


def sites_page(db: Database, scope: Scope, *, now: datetime) -> list[SitePage]:
    inv = _inventory(db)
    plan = scope.plan(status.plan_view(status.current_plan(db, now=now)))
    planned = Counter((r.site, p) for r in plan.routes for p in r.peers)
    acked = _acked(db, scope, inv)
    with db.read() as session:
        synced = {r.site: r for r in session.scalars(select(SiteSyncRow))}
    out = []
    for view in scope.sites(sites.list_(db, now=now), inv):
        name = view.site
        verdicts = {
            c: ("scrubs" if v.sites[name].eligible else v.sites[name].reason)
            for c, v in plan.customers.items() if name in v.sites
        }  # fmt: skip
        sync = synced.get(name)
        out.append(SitePage(
            site=view,
            routes=tuple(PeerRoutes(peer=p.name, planned=planned[(name, p.name)],
                                    acknowledged=acked[(name, p.name)]) for p in view.peers),
            customers=verdicts,
            synced_generation=sync.generation if sync else None,
            synced_at=sync.synced_at if sync else None,
        ))  # fmt: skip
    return out


def _acked(db: Database, scope: Scope, inv: Inventory) -> Counter[tuple[str, str]]:
    """Routes ExaBGP acknowledged per (site, peer); scoped: the customer's only."""
    with db.read() as session:
        if not scope.scoped:
            query = select(AnnouncedRow.site, AnnouncedRow.peer, func.count()).group_by(
                AnnouncedRow.site, AnnouncedRow.peer)  # fmt: skip
            return Counter({(s, p): n for s, p, n in session.execute(query)})
        rows = session.execute(select(AnnouncedRow.site, AnnouncedRow.peer, AnnouncedRow.prefix))
        counts: Counter[tuple[str, str]] = Counter()
        for site, peer, text in rows:
            try:
                prefix = ipaddress.ip_network(text)
            except ValueError:
                continue
            if scope.customer is not None and owner_of(inv, prefix) == scope.customer:
                counts[(site, peer)] += 1
        return counts


def pulse(db: Database) -> tuple[object, ...]:
    """Changes whenever something a page shows may have: the change counter, the
    newest event, each site's sync mark, the acknowledged routes, first acks and
    return-path transitions (not every probe: those would redraw every second)."""
    with db.read() as session:
        row = session.execute(select(
            select(func.max(EventRow.id)).scalar_subquery(),
            select(func.count()).select_from(AnnouncedRow).scalar_subquery(),
            select(func.max(AnnouncedRow.acked_at)).scalar_subquery(),
            select(func.count()).select_from(DiversionAckRow).scalar_subquery(),
            select(func.max(ReturnPathRow.changed_at)).scalar_subquery(),
        )).one()  # fmt: skip
        syncs = tuple(session.execute(select(SiteSyncRow.site, SiteSyncRow.generation)))
    return (db.generation(), *row, syncs)
