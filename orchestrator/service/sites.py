"""Use cases: drain and undrain a site, list sites with their sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.domain import AdminState, Protection
from orchestrator.errors import Conflict, NotFound
from orchestrator.inventory import Inventory
from orchestrator.planner import plan
from orchestrator.service.common import check_text, record_event
from orchestrator.service.paths import list_paths
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import load_intent, load_inventory, load_observed
from orchestrator.store.db import Database, unchanged
from orchestrator.store.models import SessionRow, SiteAdminRow


def _site_or_fail(inv: Inventory, site: str) -> None:
    if site not in inv.sites:
        known = ", ".join(sorted(inv.sites)) or "none"
        raise NotFound(f"unknown site {site!r} (known: {known})", where="site")


def _losers_after_drain(session: Session, inv: Inventory, now: datetime) -> list[str]:
    """Customers protected now that would be left unprotected once the drain ends."""
    observed = load_observed(session)
    before = plan(inv, load_intent(session, now), observed, now, check=False)
    later = now + timedelta(seconds=inv.policy.drain_time + 1)
    after = plan(inv, load_intent(session, now), observed, later, check=False)
    return [
        name
        for name, verdict in after.customers.items()
        if before.customers[name].state is Protection.PROTECTED
        and verdict.state is not Protection.PROTECTED
    ]


class SiteChange(Result):
    site: str
    admin_state: Literal["active", "draining"]
    changed: bool  # False: the site was in that state already; nothing written
    note: str


def drain(
    db: Database, site: str, *, reason: str, force: bool, actor: str, now: datetime
) -> SiteChange:
    reason = check_text(reason, "reason")
    with db.write() as session:
        inv = load_inventory(session)
        _site_or_fail(inv, site)
        row = session.get(SiteAdminRow, site)
        if row is not None and row.state == AdminState.DRAINING:
            note = f"{site} is already draining since {row.since:%F %T}Z"
            unchanged(session)
            return SiteChange(site=site, admin_state="draining", changed=False, note=note)
        if row is None:
            row = SiteAdminRow(site=site)
            session.add(row)
        row.state, row.since, row.actor, row.reason = AdminState.DRAINING, now, actor, reason
        session.flush()
        losers = _losers_after_drain(session, inv, now)
        if losers and not force:
            raise Conflict(
                f"draining {site} would leave {', '.join(losers)} unprotected",
                where="site",
                hint="{force} drains anyway; nothing was changed",
            )
        record_event(
            session,
            at=now,
            actor=actor,
            action="site.drain",
            target=site,
            reason=reason,
            detail={"unprotected_after": losers},
        )
    seconds = inv.policy.drain_time
    note = f"{site} draining: GRACEFUL_SHUTDOWN for {seconds} s, then withdrawn"
    return SiteChange(site=site, admin_state="draining", changed=True, note=note)


def undrain(db: Database, site: str, *, reason: str, actor: str, now: datetime) -> SiteChange:
    reason = check_text(reason, "reason")
    with db.write() as session:
        _site_or_fail(load_inventory(session), site)
        row = session.get(SiteAdminRow, site)
        if row is None or row.state == AdminState.ACTIVE:
            unchanged(session)
            return SiteChange(site=site, admin_state="active", changed=False,
                              note=f"{site} is already active")  # fmt: skip
        row.state, row.since, row.actor, row.reason = AdminState.ACTIVE, now, actor, reason
        record_event(
            session, at=now, actor=actor, action="site.undrain", target=site, reason=reason
        )
    return SiteChange(site=site, admin_state="active", changed=True, note=f"{site} active again")


class PeerView(Result):
    name: str
    address: str
    asn: int
    state: str  # as the agent reports it; "unknown" before any report
    established: bool
    since: Time | None
    rtbh: bool  # the peer honours RTBH


class SitePathView(Result):
    customer: str
    kind: str
    health: str
    since: Time | None
    cause: str


class SiteView(Result):
    site: str
    asn: int
    router_id: str
    admin_state: str
    admin_since: Time | None
    admin_reason: str
    peers: tuple[PeerView, ...]
    return_paths: tuple[SitePathView, ...]


def list_(db: Database, *, now: datetime) -> list[SiteView]:
    paths = list_paths(db)
    with db.read() as session:
        inv = load_inventory(session)
        admin = {r.site: r for r in session.scalars(select(SiteAdminRow))}
        sessions = {(r.site, r.peer): r for r in session.scalars(select(SessionRow))}
        result = []
        for name, site in sorted(inv.sites.items()):
            row = admin.get(name)
            peers = []
            for peer in site.peers:
                obs = sessions.get((name, peer.name))
                peers.append(
                    PeerView(name=peer.name, address=str(peer.address), asn=peer.asn,
                             state=obs.state if obs else "unknown",
                             established=bool(obs and obs.established),
                             since=obs.changed_at if obs else None, rtbh=peer.rtbh is not None)
                )  # fmt: skip
            result.append(
                SiteView(
                    site=name, asn=inv.site_asn(name), router_id=str(site.router_id),
                    admin_state=row.state if row else AdminState.ACTIVE.value,
                    admin_since=row.since if row else None,
                    admin_reason=row.reason if row else "",
                    peers=tuple(peers),
                    return_paths=tuple(
                        SitePathView(customer=v.customer, kind=v.kind, health=v.health,
                                     since=v.since, cause=v.cause)
                        for v in paths if v.site == name
                    ),
                )
            )  # fmt: skip
        return result
