"""``scrubctl divert start|stop|list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli import waiting
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

if TYPE_CHECKING:
    from orchestrator.service.sync import WaitResult

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
    wait: waiting.WaitOption = False,
    timeout: waiting.TimeoutOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Start diverting CUSTOMER (idempotent: the same request twice is one diversion)."""
    from orchestrator.service import diversions as service

    request = service.DivertRequest(
        customer=customer,
        reason=reason,
        prefixes=tuple(prefix or ()),
        sites=tuple(site or ()),
        targets=tuple(target or ()),
        more_specifics=more_specifics,
    )
    database, moment, by = open_db(db), now(), actor(who)
    result, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.start(database, request, actor=by, now=moment),
    )  # fmt: skip
    if as_json:
        emit_json({"created": result.created, "note": result.note,
                   **result.diversion.as_json(), "wait": waiting.document(waited)})  # fmt: skip
    else:
        say(result.note)
        _waited(waited)
    waiting.check(waited, timeout)


def _waited(waited: WaitResult | None) -> None:
    line = waiting.summary(waited)
    if line:
        say(line)


@app.command()
@guard
def stop(
    customer: Annotated[str, typer.Argument(help="Customer name.")],
    reason: ReasonOption,
    diversion_id: Annotated[
        int | None, typer.Option("--id", help="Stop only this diversion.")
    ] = None,
    wait: waiting.WaitOption = False,
    timeout: waiting.TimeoutOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Stop CUSTOMER's diversions (all of them, or one with --id)."""
    from orchestrator.service import diversions as service

    database, moment, by = open_db(db), now(), actor(who)
    stopped, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.stop(database, customer, diversion_id=diversion_id, reason=reason,
                             actor=by, now=moment),
    )  # fmt: skip
    if as_json:
        # Without --wait the list of stopped diversions, as before; with it, both.
        views = [d.as_json() for d in stopped]
        emit_json(views if waited is None else {"stopped": views,
                                                "wait": waiting.document(waited)})  # fmt: skip
    else:
        say("stopped " + ", ".join(f"#{d.id}" for d in stopped))
        _waited(waited)
    waiting.check(waited, timeout)


@app.command("list")
@guard
def list_(
    include_stopped: Annotated[bool, typer.Option("--all", help="Include stopped ones.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List active diversions (with --all, stopped ones too)."""
    from orchestrator.service import diversions as service

    rows = service.list_(open_db(db), include_stopped=include_stopped)
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    table(
        "Diversions",
        ["id", "customer", "state", "prefixes", "sites", "targets", "requested", "by", "reason"],
        [
            [
                r.id,
                r.customer,
                r.state,
                " ".join(r.prefixes) or "all",
                " ".join(r.sites) or "policy",
                " ".join(r.targets) or "-",
                short_time(r.requested_at),
                r.requested_by,
                r.reason,
            ]
            for r in rows
        ],
    )
