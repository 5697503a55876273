"""What every command shares: options, opening the database, printing.

Light on purpose: ``scrubctl ... --help`` loads this and typer only. SQLAlchemy,
pydantic and the services are imported by the command that runs (see
``orchestrator.cli.main``); a test keeps it so."""

from __future__ import annotations

import functools
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from orchestrator.errors import ScrubError, database_failure

if TYPE_CHECKING:
    from orchestrator.store.db import Database

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


# The services' field paths as this face's flags and arguments. A path is mapped
# when its first name is one of these and it ends there or continues with an index
# (``prefixes[0]`` -> ``--prefix[0]``); inventory paths (``sites.ams.peers``) never.
FLAGS: Mapping[str, str] = {
    "actor": "--actor",
    "address": "IP",
    "direction": "DIRECTION",
    "action": "ACTION",
    "detector": "--detector",
    "customer": "CUSTOMER",
    "expires": "--expires",
    "force": "--force",
    "from_site": "--from",
    "host": "HOST",
    "id": "--id",
    "limit": "--limit",
    "name": "NAME",
    "prefixes": "--prefix",
    "reason": "--reason",
    "role": "--role",
    "since": "--since",
    "site": "SITE",
    "sites": "--site",
    "targets": "--target",
    "timeout": "--timeout",
    "to_site": "--to",
    "wait": "--wait",
}
# Actions the services' hints name, as commands.
COMMANDS: Mapping[str, str] = {
    "apply_inventory": "run `scrubctl inventory apply FILE`",
    "failback": "`scrubctl failback {}`",
}
_PATH_HEAD = re.compile(r"([a-z_]+)(\[.*)?")


def flag_path(path: str, flags: Mapping[str, str] = FLAGS) -> str:
    match = _PATH_HEAD.fullmatch(path)
    if match is None or match[1] not in flags:
        return path
    return flags[match[1]] + (match[2] or "")


def render_error(exc: ScrubError, flags: Mapping[str, str] = FLAGS) -> str:
    """The error in this face's words: flags for fields, commands for actions."""

    def words(term: str, argument: str) -> str:
        if term in COMMANDS:
            return COMMANDS[term].format(argument)
        return flags.get(term, term)

    return exc.render(words, lambda path: flag_path(path, flags))


def guard_with(**overrides: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``guard`` for a command whose field names mean other flags than ``FLAGS``
    says (``site`` is ``--site`` for ``plan``, the argument SITE for ``site drain``)."""
    flags = {**FLAGS, **overrides}

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except ScrubError as exc:
                for line in render_error(exc, flags).splitlines():
                    sys.stderr.write(f"error: {line}\n")
                raise typer.Exit(int(exc.exit_code)) from None
            except Exception as exc:
                failure = database_failure(exc, where="--db")
                if failure is None:
                    raise
                sys.stderr.write(f"error: {render_error(failure, flags)}\n")
                raise typer.Exit(int(failure.exit_code)) from None

        return wrapper

    return decorate


def guard(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one line per problem on stderr, in flags (``FLAGS``), and
    the documented exit code (see ``orchestrator.errors.ExitCode``); never a
    traceback for a user mistake."""
    return guard_with()(func)


def open_db(db: str | None) -> Database:
    from orchestrator.store.db import Database, resolve_location

    location = resolve_location(db)
    database = Database(location.url, where=location.where)
    database.ensure_schema()
    return database


def now() -> datetime:
    return datetime.now(UTC)


def actor(given: str | None) -> str:
    return resolve_actor(given)


def resolve_actor(given: str | None) -> str:
    """``--actor`` > ``SCRUBCTL_ACTOR`` > the OS user; an error names where it came from."""
    from orchestrator.service.common import check_actor

    if given:
        return check_actor(given, "--actor")
    if os.environ.get("SCRUBCTL_ACTOR"):
        return check_actor(os.environ["SCRUBCTL_ACTOR"], "SCRUBCTL_ACTOR")
    return check_actor(_os_user(), "--actor")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


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


def short_time(value: datetime | str | None) -> str:
    if not value:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S")
