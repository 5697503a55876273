"""``--wait [--timeout S]`` for commands that change what sites announce: run the
command, then wait (service ``sync.wait_for_sites``) and map the outcome to output
and an exit code (7 when an affected site did not acknowledge in time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from orchestrator.errors import InvalidInput, SyncTimeout
from orchestrator.service import sync
from orchestrator.store.db import Database

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0

WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Block until every site the change affects has acknowledged it (exit 7 on timeout).",
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help=f"With --wait: seconds to wait (default {DEFAULT_TIMEOUT:g}).",
        show_default=False,
    ),
]


def run(
    db: Database, wait: bool, timeout: float | None, now: Any, command: Callable[[], T]
) -> tuple[T, sync.WaitResult | None]:
    """Run ``command``; with ``wait``, block until its affected sites have synced."""
    if timeout is not None and not wait:
        raise InvalidInput("only goes with --wait", where="--timeout")
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    if not 0 < limit <= MAX_TIMEOUT:
        raise InvalidInput(f"{limit:g} must be more than 0 and at most {MAX_TIMEOUT:g}",
                           where="--timeout")  # fmt: skip
    if not wait:
        return command(), None
    outcome, change = sync.tracked(db, now, command)
    return outcome, sync.wait_for_sites(db, change, timeout=limit)


def document(result: sync.WaitResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "generation": result.generation,
        "acknowledged": [
            {"site": s.site, "generation": s.generation, "synced_at": s.synced_at.isoformat()}
            for s in result.acknowledged
        ],
        "timed_out": list(result.timed_out),
    }


def check(result: sync.WaitResult | None, timeout: float | None) -> None:
    """Raise the timeout error (one line, exit 7) if some site did not acknowledge."""
    if result is None or result.ok:
        return
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    raise SyncTimeout(
        f"{', '.join(result.timed_out)} did not acknowledge change {result.generation} "
        f"within {limit:g} s",
        where="--wait",
        hint="the change is committed; the site agents apply it when they can",
    )


def summary(result: sync.WaitResult | None) -> str | None:
    if result is None or not result.ok:
        return None
    if not result.acknowledged:
        return "no site's routes change"
    sites = ", ".join(s.site for s in result.acknowledged)
    return f"acknowledged by {sites} (change {result.generation})"
