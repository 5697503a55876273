"""``scrubctl failover|failback``: move a customer away from a site that still works
(make-before-break), and end the move."""

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
)

if TYPE_CHECKING:
    from orchestrator.service.moves import MoveResult
    from orchestrator.service.sync import WaitResult

CustomerArg = Annotated[str, typer.Argument(help="Customer name from the inventory.")]


def _show(result: MoveResult, wait: WaitResult | None, as_json: bool) -> None:
    if as_json:
        emit_json({**result.as_json(), "wait": waiting.document(wait)})
    else:
        waiting.show(result.note, waiting.document(wait))


@guard
def failover(
    customer: CustomerArg,
    from_site: Annotated[str, typer.Option("--from", help="The site CUSTOMER leaves.")],
    reason: ReasonOption,
    to_site: Annotated[
        str | None,
        typer.Option("--to", help="One of CUSTOMER's sites to announce as primary meanwhile."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Move even if no eligible site is left.")
    ] = False,
    wait: waiting.WaitOption = False,
    timeout: waiting.TimeoutOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Move CUSTOMER away from a site (make-before-break) until `failback`."""
    from orchestrator.service import moves as service

    database, moment, by = open_db(db), now(), actor(who)
    result, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.failover(database, customer, from_site, to_site, reason=reason,
                                 force=force, actor=by, now=moment),
    )  # fmt: skip
    _show(result, waited, as_json)
    waiting.check(waited, timeout)


@guard
def failback(
    customer: CustomerArg,
    reason: ReasonOption,
    wait: waiting.WaitOption = False,
    timeout: waiting.TimeoutOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """End CUSTOMER's failover: the site it left announces it again."""
    from orchestrator.service import moves as service

    database, moment, by = open_db(db), now(), actor(who)
    result, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.failback(database, customer, reason=reason, actor=by, now=moment),
    )  # fmt: skip
    _show(result, waited, as_json)
    waiting.check(waited, timeout)


def register(app: typer.Typer) -> None:
    app.command("failover")(failover)
    app.command("failback")(failback)
