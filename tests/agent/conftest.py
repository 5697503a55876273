"""Fixtures of the agent tests (helpers in agent_support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_support import Clock, database

from orchestrator.store.db import Database


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path, clock: Clock) -> Iterator[Database]:
    yield from database(tmp_path / "agent.db", clock)
