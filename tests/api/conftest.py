"""Fixtures of the HTTP API tests: a loaded database, a token per role, and the real
ASGI application behind FastAPI's test client (its lifespan runs: the hold-down loop)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_support import Api

from orchestrator.inventory import load_inventory
from orchestrator.service import inventory, tokens
from orchestrator.store.db import Database

INVENTORY = Path(__file__).parent.parent / "data" / "inventory.yml"

with warnings.catch_warnings():  # starlette's test client warns about httpx's name
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from orchestrator.api.app import create_app  # noqa: E402
from orchestrator.api.context import Context  # noqa: E402


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'api.db'}")
    database.ensure_schema()
    now = datetime.now(UTC)
    inventory.apply(database, load_inventory(INVENTORY), actor="setup", now=now, dry_run=False,
                    source="setup")  # fmt: skip
    yield database
    database.dispose()


@pytest.fixture
def secrets(db: Database) -> dict[str, str]:
    """A token secret per role, and one expired and one revoked (both operators)."""
    now = datetime.now(UTC)
    made = {role.value: tokens.create(db, role.value, role, expires=None, actor="setup",
                                      now=now).secret for role in tokens.Role}  # fmt: skip
    made["expired"] = tokens.create(
        db,
        "old",
        tokens.Role.OPERATOR,
        expires=timedelta(hours=1),
        actor="setup",
        now=now - timedelta(hours=2),
    ).secret
    made["revoked"] = tokens.create(db, "gone", tokens.Role.OPERATOR, expires=None,
                                    actor="setup", now=now).secret  # fmt: skip
    tokens.revoke(db, "gone", reason="left", actor="setup", now=now)
    return made


@pytest.fixture
def hold_down() -> timedelta:
    return timedelta(0)


@pytest.fixture
def api(db: Database, secrets: dict[str, str], hold_down: timedelta) -> Iterator[Api]:
    app = create_app(Context(db, hold_down, release_every=0.05))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, secrets, db)
