"""``scrubctl``: the operator's command line.

Exit codes: 0 ok, 1 unexpected error, 2 invalid input, 3 not found,
4 conflict (refused by current state or limits), 5 database busy,
6 ``status --check`` found an unprotected customer, 7 ``--wait`` timed out.

Only the command group being run is imported (``divert start`` does not load
the lab or ExaBGP's templates): the CLI's start-up is part of time to divert.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.exceptions import (  # typer >= 0.26 ships its own click
    ClickException,
    NoArgsIsHelpError,
)
from typer.core import TyperGroup

GROUPS = {
    "inventory": "orchestrator.cli.inventory",
    "divert": "orchestrator.cli.divert",
    "rtbh": "orchestrator.cli.rtbh",
    "site": "orchestrator.cli.site",
    "customer": "orchestrator.cli.customer",
    "report": "orchestrator.cli.report",
    "lab": "orchestrator.cli.lab",
    "token": "orchestrator.cli.token",
    "hook": "orchestrator.cli.hook",
}
TOP_LEVEL = {  # single commands, by the module that registers them
    "plan": "orchestrator.cli.plan",
    "status": "orchestrator.cli.plan",
    "events": "orchestrator.cli.plan",
    "paths": "orchestrator.cli.paths",
    "failover": "orchestrator.cli.moves",
    "failback": "orchestrator.cli.moves",
    "serve": "orchestrator.cli.serve",
}


class OneLineErrors(TyperGroup):
    """Usage errors (a missing option, a value click cannot convert) as one line on
    stderr and exit 2, like every other invalid input; not a usage box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelpError as exc:  # a bare group: its help, as before
            exc.show()
            code = exc.exit_code
        except ClickException as exc:
            text = " ".join(exc.format_message().split())
            context = getattr(exc, "ctx", None)  # usage errors know their command
            command = context.command_path if context is not None else "scrubctl"
            sys.stderr.write(f"error: {text} (see '{command} --help')\n")
            code = exc.exit_code
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def _group() -> None:
    """BGP diversion orchestrator for routed DDoS scrubbing."""


def build_app(only: str | None = None) -> typer.Typer:
    """The whole CLI, or (``only``) just one group of it."""
    app = typer.Typer(
        name="scrubctl",
        help="BGP diversion orchestrator for routed DDoS scrubbing.",
        no_args_is_help=True,
        add_completion=False,
        cls=OneLineErrors,
        pretty_exceptions_enable=False,
    )
    # A group even when one command is registered (``scrubctl paths``, ``scrubctl
    # serve``): without a callback typer would run that command as the program itself
    # and refuse its own name as an extra argument.
    app.callback()(_group)
    for name, module in GROUPS.items():
        if only in (None, name):
            app.add_typer(importlib.import_module(module).app, name=name)
    wanted = sorted(set(TOP_LEVEL.values())) if only is None else [TOP_LEVEL.get(only, "")]
    for module in filter(None, wanted):
        importlib.import_module(module).register(app)
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the full CLI, for typer's test runner and documentation
        return build_app()
    raise AttributeError(name)


def main() -> None:
    first = sys.argv[1] if len(sys.argv) > 1 else None
    only = first if first in GROUPS or first in TOP_LEVEL else None
    sys.exit(build_app(only)())
