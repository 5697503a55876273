"""What every command shares: options, opening the database, printing."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from orchestrator.errors import ScrubError
from orchestrator.service.common import resolve_actor
from orchestrator.store.db import Database, resolve_location

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL or SQLite path (env SCRUBCTL_DB; default: per-user SQLite file).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who is acting, for the audit log (env SCRUBCTL_ACTOR; default: the OS user).",
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why (goes to the audit log).")]

P = ParamSpec("P")
R = TypeVar("R")


def guard(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one line per problem on stderr and the documented exit
    code (see ``orchestrator.errors.ExitCode``); never a traceback for a user mistake."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ScrubError as exc:
            for line in str(exc).splitlines():
                sys.stderr.write(f"error: {line}\n")
            raise typer.Exit(int(exc.exit_code)) from None

    return wrapper


def open_db(db: str | None) -> Database:
    location = resolve_location(db)
    database = Database(location.url, where=location.where)
    database.ensure_schema()
    return database


def now() -> datetime:
    return datetime.now(UTC)


def actor(given: str | None) -> str:
    return resolve_actor(given)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table  # rich costs ~30 ms to import: only when a table is shown

    out = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    _console().print(out)


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def short_time(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
