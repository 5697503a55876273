"""``--wait [--timeout S]`` for commands that change what sites announce: the
service runs the command and waits (``sync.run``); this maps the outcome to
output and an exit code (7 when an affected site did not acknowledge in time).
The service is imported when a command runs, not for ``--help``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from orchestrator.cli.common import say
from orchestrator.defaults import SYNC_TIMEOUT_S

if TYPE_CHECKING:
    from orchestrator.service.sync import WaitResult
    from orchestrator.store.db import Database

T = TypeVar("T")

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
        help=f"With --wait: seconds to wait (default {SYNC_TIMEOUT_S:g}).",
        show_default=False,
    ),
]


def run(
    db: Database, wait: bool, timeout: float | None, now: datetime, command: Callable[[], T]
) -> tuple[T, WaitResult | None]:
    """``command()``, and with ``wait`` the wait for the sites it affects (``sync.run``)."""
    from orchestrator.service import sync

    return sync.run(db, wait, timeout, now, command)


def document(result: WaitResult | None) -> dict[str, Any] | None:
    return None if result is None else result.as_json()


def check(result: WaitResult | None, timeout: float | None) -> None:
    """Raise the timeout error (one line, exit 7) if some site did not acknowledge."""
    if result is None:  # no --wait: nothing to check, and no need to load the service
        return
    from orchestrator.service import sync

    error = sync.timeout_error(result, timeout)
    if error is not None:
        raise error


def summary(document: dict[str, Any] | None) -> str | None:
    """The acknowledgements of a wait (its JSON document: ``document`` here, or the
    service's answer through ``--api``) as one line; None without a wait or on a
    timeout (the error says that)."""
    if document is None or document.get("timed_out"):
        return None
    acknowledged = document.get("acknowledged") or ()
    if not acknowledged:
        return "no site's routes change"
    sites = ", ".join(str(s["site"]) for s in acknowledged)
    return f"acknowledged by {sites} (change {document['generation']})"


def show(note: str, document: dict[str, Any] | None) -> None:
    """A change's note, then its acknowledgements if it waited for them."""
    say(note)
    line = summary(document)
    if line:
        say(line)
