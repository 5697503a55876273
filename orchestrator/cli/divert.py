"""``scrubctl divert start|stop|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import (
    ActorOption,
    DbOption,
    JsonOption,
    ReasonOption,
    actor,
    emit_json,
    guard,
    now,
    open_db,
    say,
    short_time,
    table,
)
from orchestrator.service import diversions as service

app = typer.Typer(
    help="Divert customers' prefixes through the scrubbing sites.", no_args_is_help=True
)


@app.command()
@guard
def start(
    customer: Annotated[str, typer.Argument(help="Customer name from the inventory.")],
    reason: ReasonOption,
    prefix: Annotated[
        list[str] | None,
        typer.Option("--prefix", "-p", help="Divert only this prefix (repeatable; default: all)."),
    ] = None,
    site: Annotated[
        list[str] | None,
        typer.Option(
            "--site", "-s", help="Announce only from this site (repeatable; default: policy)."
        ),
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="Host under attack; blackholed only as last resort."),
    ] = None,
    more_specifics: Annotated[
        bool, typer.Option("--more-specifics", help="Announce each prefix as its two halves.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Start diverting CUSTOMER (idempotent: the same request twice is one diversion)."""
    request = service.DivertRequest(
        customer=customer,
        reason=reason,
        prefixes=tuple(prefix or ()),
        sites=tuple(site or ()),
        targets=tuple(target or ()),
        more_specifics=more_specifics,
    )
    result = service.start(open_db(db), request, actor=actor(who), now=now())
    if as_json:
        emit_json({"created": result.created, "note": result.note, **result.diversion})
    else:
        say(result.note)


@app.command()
@guard
def stop(
    customer: Annotated[str, typer.Argument(help="Customer name.")],
    reason: ReasonOption,
    diversion_id: Annotated[
        int | None, typer.Option("--id", help="Stop only this diversion.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Stop CUSTOMER's diversions (all of them, or one with --id)."""
    stopped = service.stop(
        open_db(db), customer, diversion_id=diversion_id, reason=reason, actor=actor(who), now=now()
    )
    if as_json:
        emit_json(stopped)
    else:
        say("stopped " + ", ".join(f"#{d['id']}" for d in stopped))


@app.command("list")
@guard
def list_(
    include_stopped: Annotated[bool, typer.Option("--all", help="Include stopped ones.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List active diversions (with --all, stopped ones too)."""
    rows = service.list_(open_db(db), include_stopped=include_stopped)
    if as_json:
        emit_json(rows)
        return
    table(
        "Diversions",
        ["id", "customer", "state", "prefixes", "sites", "targets", "requested", "by", "reason"],
        [
            [
                r["id"],
                r["customer"],
                r["state"],
                " ".join(r["prefixes"]) or "all",
                " ".join(r["sites"]) or "policy",
                " ".join(r["targets"]) or "-",
                short_time(r["requested_at"]),
                r["requested_by"],
                r["reason"],
            ]
            for r in rows
        ],
    )
