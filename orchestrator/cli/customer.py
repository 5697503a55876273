"""``scrubctl customer config``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import DbOption, guard, open_db, say
from orchestrator.errors import InvalidInput

app = typer.Typer(help="Customers: what their side of a return path needs.", no_args_is_help=True)


@app.command()
@guard
def config(
    customer: Annotated[str, typer.Argument(help="Customer name from the inventory.")],
    site: Annotated[str, typer.Option("--site", "-s", help="The site whose return path.")],
    vendor: Annotated[str, typer.Option("--vendor", help="frr, cisco-ios or junos.")],
    interface: Annotated[
        str | None,
        typer.Option(
            "--interface",
            help="Tunnel interface on the customer's router "
            "(default: scrub-SITE, Tunnel100+N, gr-0/0/0.100+N).",
        ),
    ] = None,
    keepalive: Annotated[
        bool,
        typer.Option(
            "--keepalive",
            help="Add GRE keepalives (Cisco, Junos): only if the site returns them.",
        ),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """The customer edge's half of CUSTOMER's return path from SITE, for the customer."""
    from orchestrator.customer_edge.model import Request
    from orchestrator.service import customer_edge as service

    text = service.config(
        open_db(db), Request(customer, site, vendor, interface=interface, keepalive=keepalive)
    )
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc.strerror}", where="--output") from None
    say(f"wrote {output}")
