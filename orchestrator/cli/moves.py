"""``scrubctl failover|failback``: move a customer away from a site that still works
(make-before-break), and end the move."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.cli import remote, waiting
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

CustomerArg = Annotated[str, typer.Argument(help="Customer name from the inventory.")]


def _show(result: dict[str, Any], wait: dict[str, Any] | None, as_json: bool) -> None:
    """``result``: a ``MoveResult`` as JSON (the service's, or the API's answer)."""
    if as_json:
        emit_json({**result, "wait": wait})
    else:
        waiting.show(result["note"], wait)


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
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Move CUSTOMER away from a site (make-before-break) until `failback`."""
    if api is not None:
        answer = remote.send(api, cacert, f"/api/v1/customers/{remote.part(customer)}/failover",
                             {"from_site": from_site, "to_site": to_site, "reason": reason,
                              "force": force, "wait": wait, "timeout": timeout},
                             db=db, actor=who)  # fmt: skip
        _show(remote.result(answer), answer.get("wait"), as_json)
        remote.raise_late(answer)
        return
    from orchestrator.service import moves as service

    database, moment, by = open_db(db), now(), actor(who)
    result, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.failover(database, customer, from_site, to_site, reason=reason,
                                 force=force, actor=by, now=moment),
    )  # fmt: skip
    _show(result.as_json(), waiting.document(waited), as_json)
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
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """End CUSTOMER's failover: the site it left announces it again."""
    if api is not None:
        answer = remote.send(api, cacert, f"/api/v1/customers/{remote.part(customer)}/failback",
                             {"reason": reason, "wait": wait, "timeout": timeout},
                             db=db, actor=who)  # fmt: skip
        _show(remote.result(answer), answer.get("wait"), as_json)
        remote.raise_late(answer)
        return
    from orchestrator.service import moves as service

    database, moment, by = open_db(db), now(), actor(who)
    result, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.failback(database, customer, reason=reason, actor=by, now=moment),
    )  # fmt: skip
    _show(result.as_json(), waiting.document(waited), as_json)
    waiting.check(waited, timeout)


def register(app: typer.Typer) -> None:
    app.command("failover")(failover)
    app.command("failback")(failback)
