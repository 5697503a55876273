"""What every request handler needs: the database and the service's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request

from orchestrator.store.db import Database


@dataclass(frozen=True)
class Context:
    db: Database
    hold_down: timedelta  # after a detector's unban, before the diversion stops
    release_every: float = 1.0  # seconds between checks for ended hold-downs


def context(request: Request) -> Context:
    ctx = request.app.state.context
    assert isinstance(ctx, Context)
    return ctx
