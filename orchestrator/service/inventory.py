"""Use case: compare an inventory file with the database and apply it."""

from __future__ import annotations

from datetime import datetime
from ipaddress import ip_network
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from orchestrator.errors import Conflict
from orchestrator.inventory import Inventory
from orchestrator.planner import owner_of
from orchestrator.service.common import record_event, refuse_if_over_limits
from orchestrator.service.results import Result
from orchestrator.service.snapshot import active_diversions, active_rtbh
from orchestrator.store.db import Database, unchanged
from orchestrator.store.models import InventoryObject


class Change(Result):
    op: Literal["add", "remove", "change"]
    kind: Literal["policy", "site", "customer"]
    name: str
    fields: tuple[str, ...] = ()  # "path: old -> new" lines for a change

    @property
    def target(self) -> str:
        return "policy" if self.kind == "policy" else f"{self.kind}s.{self.name}"


class ApplyResult(Result):
    dry_run: bool
    changes: tuple[Change, ...]


def _objects(inv: Inventory) -> dict[tuple[str, str], dict[str, Any]]:
    data = inv.model_dump(mode="json")
    objects = {("policy", "policy"): data["policy"]}
    objects.update({("site", n): spec for n, spec in data["sites"].items()})
    objects.update({("customer", n): spec for n, spec in data["customers"].items()})
    return objects


def _field_diff(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            lines += _field_diff(old.get(key), new.get(key), sub)
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            line
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for line in _field_diff(a, b, f"{path}[{i}]")
        ]
    return [] if old == new else [f"{path}: {_short(old)} -> {_short(new)}"]


def _short(value: Any) -> str:
    return "(none)" if value is None else str(value)


def diff(session: Session, inv: Inventory) -> list[Change]:
    stored = {(r.kind, r.name): r.spec for r in session.scalars(select(InventoryObject))}
    wanted = _objects(inv)
    changes = []
    for key in sorted(set(stored) | set(wanted)):
        kind, name = key
        if key not in stored:
            changes.append(Change(op="add", kind=kind, name=name))
        elif key not in wanted:
            changes.append(Change(op="remove", kind=kind, name=name))
        elif stored[key] != wanted[key]:
            fields = tuple(_field_diff(stored[key], wanted[key], ""))
            changes.append(Change(op="change", kind=kind, name=name, fields=fields))
    return changes


def _refuse_orphaned_diversions(session: Session, inv: Inventory, now: datetime) -> None:
    for entry in active_rtbh(session, now):
        if owner_of(inv, ip_network(entry.prefix)) is None:
            raise Conflict(
                f"RTBH entry #{entry.id} for {entry.prefix} would belong to no customer",
                where=f"customers.{entry.customer}",
                hint="remove the RTBH entry first",
            )
    for row in active_diversions(session):
        if row.customer not in inv.customers:
            raise Conflict(
                f"still has active diversion #{row.id}",
                where=f"customers.{row.customer}",
                hint="stop it before removing the customer",
            )
        customer = inv.customers[row.customer]
        for text in row.prefixes:
            if customer.authorising(ip_network(text)) is None:
                raise Conflict(
                    f"diversion #{row.id} diverts {text}, which would no longer be authorised",
                    where=f"customers.{row.customer}.prefixes",
                    hint="stop that diversion first",
                )
        unknown = [s for s in row.sites if s not in inv.sites]
        if unknown:
            raise Conflict(
                f"diversion #{row.id} names site {unknown[0]!r}",
                where=f"sites.{unknown[0]}",
                hint="stop that diversion before removing the site",
            )


def apply(
    db: Database, inv: Inventory, *, actor: str, now: datetime, dry_run: bool, source: str
) -> list[Change]:
    """Compute the difference; unless ``dry_run``, apply it in one transaction."""
    if dry_run:
        with db.read() as session:
            return diff(session, inv)
    with db.write() as session:
        changes = diff(session, inv)
        if not changes:
            unchanged(session)
            return changes
        _refuse_orphaned_diversions(session, inv, now)
        objects = _objects(inv)
        session.execute(delete(InventoryObject))
        for (kind, name), spec in objects.items():
            session.add(InventoryObject(kind=kind, name=name, spec=spec, updated_at=now))
        refuse_if_over_limits(session, inv, now)
        record_event(
            session,
            at=now,
            actor=actor,
            action="inventory.apply",
            target=source,
            detail={"changes": [c.as_json() for c in changes]},
        )
    return changes


def show(db: Database) -> Inventory:
    from orchestrator.service.snapshot import load_inventory

    with db.read() as session:
        return load_inventory(session)
