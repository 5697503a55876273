"""Fixtures of the dashboard tests: the real ASGI application behind FastAPI's test
client (pages, login, actions), and a database with a token per role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from web_support import Tokens, loaded_db, make_tokens

from orchestrator.store.db import Database

with warnings.catch_warnings():  # starlette's test client warns about httpx's name
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.api.context import Context


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = loaded_db(tmp_path / "web.db")
    yield database
    database.dispose()


@pytest.fixture
def secrets(db: Database) -> Tokens:
    return make_tokens(db)


@pytest.fixture
def client(db: Database, secrets: Tokens) -> Iterator[TestClient]:
    app = create_app(Context(db, timedelta(0)))
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        yield c
