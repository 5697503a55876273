"""Golden planner cases: load ``state.yml`` into typed inputs, render a plan as YAML.

A case folder ``tests/golden/<case>/`` holds:

- ``inventory.yml``  the inventory, as an operator writes it
- ``state.yml``      ``now``, the intent and the observed state (format below)
- ``expected.yml``   the plan: per site its routes, per customer its verdict (and
  ``awaiting``, the make-before-break waits, when there are any)

``state.yml``::

    now: 2026-03-01T12:00:00Z
    intent:
      diversions:   [{id, customer, prefixes?, sites?, targets?, more_specifics?}]
      rtbh:         [{id, prefix, expires_at, forced?, reason?}]
      site_admin:   {SITE: {state: active|draining|disabled, since}}
      moves:        [{id, customer, from, to?}]  # active failovers
    observed:
      sessions:     {SITE: [PEER, ...]}        # established peers; others are down
      return_paths: {CUSTOMER: {SITE: up|down|unknown}}
      acked:        {SITE: [PREFIX, ...]}      # what ExaBGP acknowledged there

Error cases live in ``tests/golden/errors/<case>/``: ``inventory.yml``, an
optional ``request.yml`` (one of ``divert``, ``rtbh``, ``drain`` run against a
database holding that inventory) and ``expected_error.txt``, the exact message.

Run ``python tests/golden_support.py [CASE ...]`` to rewrite ``expected.yml`` from
the current code; review every rewritten file by hand before committing it.
"""

from __future__ import annotations

import difflib
import ipaddress
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from orchestrator.domain import (
    AdminState,
    Diversion,
    Health,
    Intent,
    Move,
    Observed,
    RtbhEntry,
    SiteAdmin,
    prefix_key,
)
from orchestrator.errors import ScrubError
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.planner import Plan, plan
from orchestrator.service import diversions, rtbh, sites
from orchestrator.service import inventory as inventory_service
from orchestrator.store.db import Database

GOLDEN = Path(__file__).parent / "golden"
ERRORS = GOLDEN / "errors"


def plan_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "state.yml").is_file())


def error_cases() -> list[str]:
    return sorted(p.name for p in ERRORS.iterdir() if (p / "inventory.yml").is_file())


# --- state.yml -> typed planner inputs ---------------------------------------------


@dataclass(frozen=True)
class State:
    now: datetime
    intent: Intent
    observed: Observed


def _time(value: Any, where: str) -> datetime:
    """YAML gives a datetime for an unquoted timestamp; it must carry a zone."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{where}: {value!r} has no time zone")
    return moment.astimezone(UTC)


def _diversion(data: dict[str, Any]) -> Diversion:
    return Diversion(
        id=int(data["id"]),
        customer=str(data["customer"]),
        prefixes=tuple(ipaddress.ip_network(p) for p in data.get("prefixes", ())),
        sites=tuple(str(s) for s in data.get("sites", ())),
        targets=tuple(ipaddress.ip_address(t) for t in data.get("targets", ())),
        more_specifics=bool(data.get("more_specifics", False)),
    )


def _rtbh(data: dict[str, Any]) -> RtbhEntry:
    return RtbhEntry(
        id=int(data["id"]),
        prefix=ipaddress.ip_network(data["prefix"]),
        reason=str(data.get("reason", "golden")),
        expires_at=_time(data["expires_at"], f"rtbh #{data['id']}.expires_at"),
        forced=bool(data.get("forced", True)),
    )


def _site_admin(data: dict[str, Any]) -> dict[str, SiteAdmin]:
    return {
        site: SiteAdmin(AdminState(spec["state"]), _time(spec["since"], f"site_admin.{site}"))
        for site, spec in data.items()
    }


def _move(data: dict[str, Any]) -> Move:
    unknown = set(data) - {"id", "customer", "from", "to"}
    if unknown:
        raise ValueError(f"state.yml: moves: unknown keys {sorted(unknown)}")
    to = data.get("to")
    return Move(int(data["id"]), str(data["customer"]), str(data["from"]), to and str(to))


def _observed(data: dict[str, Any]) -> Observed:
    sessions = {
        (site, peer): True for site, peers in (data.get("sessions") or {}).items() for peer in peers
    }
    paths = {
        (customer, site): Health(health)
        for customer, by_site in (data.get("return_paths") or {}).items()
        for site, health in by_site.items()
    }
    acked = frozenset(
        (site, ipaddress.ip_network(prefix))
        for site, prefixes in (data.get("acked") or {}).items()
        for prefix in prefixes
    )
    return Observed(sessions=sessions, return_paths=paths, acked=acked)


def parse_state(data: dict[str, Any]) -> State:
    unknown = set(data) - {"now", "intent", "observed"}
    if unknown:
        raise ValueError(f"state.yml: unknown keys {sorted(unknown)}")
    intent = data.get("intent") or {}
    return State(
        now=_time(data["now"], "now"),
        intent=Intent(
            diversions=tuple(_diversion(d) for d in intent.get("diversions") or ()),
            rtbh=tuple(_rtbh(r) for r in intent.get("rtbh") or ()),
            site_admin=_site_admin(intent.get("site_admin") or {}),
            moves=tuple(_move(m) for m in intent.get("moves") or ()),
        ),
        observed=_observed(data.get("observed") or {}),
    )


def load_state(path: Path) -> State:
    return parse_state(yaml.safe_load(path.read_text(encoding="utf-8")))


# --- plan -> expected.yml --------------------------------------------------------


def plan_document(inv: Inventory, result: Plan) -> dict[str, Any]:
    """Every site of the inventory (an empty list says "announces nothing")."""
    return {
        "sites": {
            site: [
                {
                    "prefix": str(p.route.prefix),
                    "kind": p.route.kind.value,
                    "as_path": list(p.route.as_path),
                    "communities": [str(c) for c in p.route.communities],
                    "large_communities": [str(c) for c in p.route.large_communities],
                    "med": p.route.med,
                    "peers": list(p.peers),
                    "customer": p.customer,
                }
                for p in result.routes.get(site, ())
            ]
            for site in sorted(inv.sites)
        },
        "customers": {
            name: {
                "state": verdict.state.value,
                "wanted": [str(p) for p in verdict.wanted],
                "sites": {s: st.reason for s, st in verdict.sites.items()},
            }
            for name, verdict in sorted(result.customers.items())
        },
        "violations": list(result.violations),
        "next_change_at": result.next_change_at.isoformat() if result.next_change_at else None,
    } | _awaiting(result)


def _awaiting(result: Plan) -> dict[str, Any]:
    """Make-before-break waits, only where there are any (most cases have none)."""
    if not result.awaiting:
        return {}
    pairs = sorted(result.awaiting, key=lambda pair: (pair[0], prefix_key(pair[1])))
    return {"awaiting": [f"{site} {prefix}" for site, prefix in pairs]}


def to_yaml(document: Any) -> str:
    """One stable text form for both sides of a comparison (flow style for short lists)."""
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100)


def run_plan_case(case: str) -> tuple[Any, Any]:
    """(expected document, actual document) for one case folder."""
    folder = GOLDEN / case
    inv = load_inventory(folder / "inventory.yml")
    state = load_state(folder / "state.yml")
    actual = plan_document(inv, plan(inv, state.intent, state.observed, state.now))
    expected_file = folder / "expected.yml"
    expected = (
        yaml.safe_load(expected_file.read_text(encoding="utf-8"))
        if expected_file.exists()
        else None
    )
    return expected, actual


def unified(expected: Any, actual: Any, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            to_yaml(expected).splitlines(keepends=True),
            to_yaml(actual).splitlines(keepends=True),
            fromfile=f"{name}/expected.yml",
            tofile=f"{name} (planner)",
        )
    )


# --- error cases ---------------------------------------------------------------------

REQUEST_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _request(db: Database, request: dict[str, Any]) -> None:
    (kind, spec), *rest = request.items()
    if rest:
        raise ValueError("request.yml holds exactly one request")
    if kind == "divert":
        req = diversions.DivertRequest(
            customer=spec["customer"],
            reason=spec.get("reason", "golden"),
            prefixes=tuple(spec.get("prefixes", ())),
            sites=tuple(spec.get("sites", ())),
            targets=tuple(spec.get("targets", ())),
            more_specifics=bool(spec.get("more_specifics", False)),
        )
        diversions.start(db, req, actor="golden", now=REQUEST_NOW)
    elif kind == "rtbh":
        rtbh.add(
            db,
            spec["host"],
            reason=spec.get("reason", "golden"),
            expires=timedelta(hours=1),
            forced=bool(spec.get("forced", False)),
            actor="golden",
            now=REQUEST_NOW,
        )
    elif kind == "drain":
        sites.drain(
            db,
            spec["site"],
            reason=spec.get("reason", "golden"),
            force=False,
            actor="golden",
            now=REQUEST_NOW,
        )
    else:
        raise ValueError(f"request.yml: unknown request {kind!r}")


def run_error_case(case: str) -> str:
    """The error message the inventory (and request) produce; '' if none."""
    folder = ERRORS / case
    try:
        inv = load_inventory(folder / "inventory.yml")
        request_file = folder / "request.yml"
        if request_file.exists():
            with tempfile.TemporaryDirectory() as tmp:
                db = Database(f"sqlite:///{tmp}/golden.db")
                db.ensure_schema()
                try:
                    inventory_service.apply(
                        db, inv, actor="golden", now=REQUEST_NOW, dry_run=False, source="golden"
                    )
                    _request(db, yaml.safe_load(request_file.read_text(encoding="utf-8")))
                finally:
                    db.dispose()
    except ScrubError as exc:
        return str(exc).replace(f"{folder}/", "")  # file names relative to the case
    return ""


def regenerate(cases: list[str]) -> None:
    for case in cases or plan_cases():
        _expected, actual = run_plan_case(case)
        (GOLDEN / case / "expected.yml").write_text(to_yaml(actual), encoding="utf-8")
        print(f"rewrote {case}/expected.yml: review it by hand")


if __name__ == "__main__":
    regenerate(sys.argv[1:])
