"""``scrubctl``: the operator's command line.

Exit codes: 0 ok, 1 unexpected error, 2 invalid input, 3 not found,
4 conflict (refused by current state or limits), 5 database busy,
6 ``status --check`` found an unprotected customer.
"""

from __future__ import annotations

import sys

import typer

from orchestrator.cli import divert, inventory, lab, plan, report, rtbh, site

app = typer.Typer(
    name="scrubctl",
    help="BGP diversion orchestrator for routed DDoS scrubbing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(inventory.app, name="inventory")
app.add_typer(divert.app, name="divert")
app.add_typer(rtbh.app, name="rtbh")
app.add_typer(site.app, name="site")
app.add_typer(report.app, name="report")
app.add_typer(lab.app, name="lab")

plan.register(app)


def main() -> None:
    sys.exit(app())
