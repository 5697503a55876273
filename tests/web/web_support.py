"""The dashboard's test helpers: a loaded database with a token per role (and
acme's customer-scoped viewer), an agent's acknowledgement faked the way the
API tests fake it (writing observed state through the service), and an HTML
check that every form field has a label."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from orchestrator.inventory import load_inventory
from orchestrator.service import inventory, observed, tokens
from orchestrator.service.status import current_plan
from orchestrator.store.db import Database

INVENTORY = Path(__file__).parent.parent / "data" / "inventory.yml"
ALL_PEERS = (("fra", "transit-a"), ("fra", "transit-a-v6"), ("ams", "transit-b"), ("ams", "ix-rs"))
OTHERS = ("pharmanet", "hoster", "loopy")  # acme's viewer must never see these names


@dataclass(frozen=True)
class Tokens:
    viewer: str
    operator: str
    admin: str
    acme: str  # acme's customer-scoped viewer


def loaded_db(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    inventory.apply(db, load_inventory(INVENTORY), actor="setup", now=datetime.now(UTC),
                    dry_run=False, source="setup")  # fmt: skip
    return db


def make_tokens(db: Database) -> Tokens:
    now = datetime.now(UTC)
    made = {r.value: tokens.create(db, r.value, r, expires=None, actor="setup", now=now).secret
            for r in tokens.Role}  # fmt: skip
    acme = tokens.create(db, "acme-view", tokens.Role.VIEWER, expires=None, actor="setup",
                         now=now, customer="acme").secret  # fmt: skip
    return Tokens(made["viewer"], made["operator"], made["admin"], acme)


def sessions_up(db: Database) -> None:
    for site, peer in ALL_PEERS:
        observed.record_session(db, site, peer, "up", "", datetime.now(UTC))


def fake_agent_ack(db: Database, site: str) -> None:
    """What ``site``'s agent records once ExaBGP has acknowledged its whole plan: the
    routes per peer, the first acknowledgement of each diversion, the synced counter."""
    now = datetime.now(UTC)
    generation = db.generation()
    result = current_plan(db, now=now)
    per_peer = result.peer_routes(site)
    for peer, routes in sorted(per_peer.items()):
        observed.record_routes(db, site, peer, sorted(routes), [], now)
    customers = {p.customer for p in result.routes.get(site, ())}
    observed.record_first_acks(db, site, customers, now)
    observed.record_site_sync(db, site, generation, now)


class _Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []  # ids (or names) of the fields that need a label
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"] or "")
        if tag in ("input", "select", "textarea") and a.get("type") not in (
            "hidden", "submit", "button"):  # fmt: skip
            self.fields.append(a.get("id") or f"(no id: {a.get('name')})")


def unlabelled_fields(html: str) -> list[str]:
    parser = _Fields()
    parser.feed(html)
    return [f for f in parser.fields if f not in parser.labelled]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no form token on the page"
    return found[1]


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def log_in(client: Any, secret: str) -> None:
    """Log ``client`` (FastAPI's test client) in with a token's secret."""
    response = client.post("/login", data={"token": secret})
    assert response.status_code == 303, response.text
