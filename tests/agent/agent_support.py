"""What the agent tests share: a clock to set, a database with tests/agent/inventory.yml,
an agent on a fake ExaBGP, and shortcuts for intent and observed state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.domain import Route
from orchestrator.inventory import load_inventory
from orchestrator.service import diversions, observed
from orchestrator.service import inventory as inventory_service
from orchestrator.site.agent import Agent
from orchestrator.store.db import Database
from orchestrator.testing.exabgp import FakeExaBgp

HERE = Path(__file__).parent
T1, T1V6, T2 = "192.0.2.254", "2001:db8:ffff::1", "192.0.2.250"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def database(path: Path, clock: Clock) -> Iterator[Database]:
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    inv = load_inventory(HERE / "inventory.yml")
    inventory_service.apply(db, inv, actor="t", now=clock(), dry_run=False, source="t")
    yield db
    db.dispose()


def make_agent(db: Database, fake: FakeExaBgp, clock: Clock, site: str = "fra") -> Agent:
    agent = Agent(db, site, fake, clock=clock, poll=0)
    agent.load_peers()
    agent.learn()
    return agent


def divert(db: Database, clock: Clock, customer: str = "acme", **kw: object) -> int:
    request = diversions.DivertRequest(customer=customer, reason="test", **kw)  # type: ignore[arg-type]
    return int(diversions.start(db, request, actor="t", now=clock()).diversion.id)


def routes_at(fake: FakeExaBgp, peer: str) -> list[Route]:
    return [r for p, rib in fake.rib.items() if str(p) == peer for r in rib.values()]


def up(db: Database, clock: Clock, site: str, peer: str) -> None:
    observed.record_session(db, site, peer, "up", "", clock())
