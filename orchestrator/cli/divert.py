"""``scrubctl divert start|stop|list``."""

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
    short_time,
    table,
)

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
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Start diverting CUSTOMER (idempotent: the same request twice is one diversion)."""
    if api is not None:
        answer = remote.send(api, cacert, "/api/v1/diversions",
                             {"customer": customer, "reason": reason, "prefixes": prefix or [],
                              "sites": site or [], "targets": target or [],
                              "more_specifics": more_specifics, "wait": wait,
                              "timeout": timeout}, db=db, actor=who)  # fmt: skip
        _started(answer, answer.get("wait"), as_json)
        remote.raise_late(answer)
        return
    from orchestrator.service import diversions as service

    asked = service.DivertRequest(customer, reason, tuple(prefix or ()), tuple(site or ()),
                                  tuple(target or ()), more_specifics)  # fmt: skip
    database, moment, by = open_db(db), now(), actor(who)
    result, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.start(database, asked, actor=by, now=moment),
    )  # fmt: skip
    _started(result.as_json(), waiting.document(waited), as_json)
    waiting.check(waited, timeout)


def _started(result: dict[str, Any], wait: dict[str, Any] | None, as_json: bool) -> None:
    """``result``: a ``StartResult`` as JSON (the service's, or the API's answer)."""
    if as_json:
        emit_json({"created": result["created"], "note": result["note"],
                   **result["diversion"], "wait": wait})  # fmt: skip
    else:
        waiting.show(result["note"], wait)


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
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Stop CUSTOMER's diversions (all of them, or one with --id)."""
    if api is not None:
        answer = remote.send(api, cacert, "/api/v1/diversions/stop",
                             {"customer": customer, "reason": reason, "id": diversion_id,
                              "wait": wait, "timeout": timeout}, db=db, actor=who)  # fmt: skip
        _stopped(answer["stopped"], answer.get("wait"), wait, as_json)
        remote.raise_late(answer)
        return
    from orchestrator.service import diversions as service

    database, moment, by = open_db(db), now(), actor(who)
    stopped, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.stop(database, customer, diversion_id=diversion_id, reason=reason,
                             actor=by, now=moment),
    )  # fmt: skip
    _stopped([d.as_json() for d in stopped], waiting.document(waited), wait, as_json)
    waiting.check(waited, timeout)


def _stopped(
    views: list[dict[str, Any]], wait: dict[str, Any] | None, waited: bool, as_json: bool
) -> None:
    if as_json:
        # Without --wait the list of stopped diversions, as before; with it, both.
        emit_json({"stopped": views, "wait": wait} if waited else views)
    else:
        waiting.show("stopped " + ", ".join(f"#{d['id']}" for d in views), wait)


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
