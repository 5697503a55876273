"""``--wait [--timeout S]`` for commands that change what sites announce: the
service runs the command and waits (``sync.run``); this maps the outcome to
output and an exit code (7 when an affected site did not acknowledge in time)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.service import sync

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
        help=f"With --wait: seconds to wait (default {sync.DEFAULT_TIMEOUT:g}).",
        show_default=False,
    ),
]

run = sync.run


def document(result: sync.WaitResult | None) -> dict[str, Any] | None:
    return None if result is None else result.as_json()


def check(result: sync.WaitResult | None, timeout: float | None) -> None:
    """Raise the timeout error (one line, exit 7) if some site did not acknowledge."""
    error = sync.timeout_error(result, timeout)
    if error is not None:
        raise error


def summary(result: sync.WaitResult | None) -> str | None:
    if result is None or not result.ok:
        return None
    if not result.acknowledged:
        return "no site's routes change"
    sites = ", ".join(s.site for s in result.acknowledged)
    return f"acknowledged by {sites} (change {result.generation})"
