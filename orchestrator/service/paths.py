"""Use case: every return path with its health as the sites' probes see it."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.errors import NotFound
from orchestrator.inventory import DedicatedReturnPath, GreReturnPath, Inventory
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import load_inventory
from orchestrator.store.db import Database
from orchestrator.store.models import ReturnPathRow


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
