"""``scrubctl rtbh add|remove|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli import remote
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

app = typer.Typer(
    help="Remote-triggered black hole entries: the last resort.", no_args_is_help=True
)


@app.command()
@guard
def add(
    host: Annotated[str, typer.Argument(help="Host address (or prefix if policy widens RTBH).")],
    reason: ReasonOption,
    expires: Annotated[str, typer.Option("--expires", "-e", help="Lifetime: 90s, 30m, 2h, 7d.")],
    force: Annotated[
        bool, typer.Option("--force", help="Announce now, even while scrubbing could carry it.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Add an RTBH entry: forced (now) or standby (only if no site can scrub)."""
    if api is not None:
        answer = remote.send(api, cacert, "/api/v1/rtbh",
                             {"host": host, "reason": reason, "expires": expires, "force": force},
                             db=db, actor=who)  # fmt: skip
    else:
        from orchestrator.service import rtbh as service
        from orchestrator.service.common import parse_duration

        lifetime = parse_duration(expires, "expires")
        answer = service.add(open_db(db), host, reason=reason, expires=lifetime, forced=force,
                             actor=actor(who), now=now()).as_json()  # fmt: skip
    if as_json:
        emit_json({"note": answer["note"], **answer["entry"]})
    else:
        say(answer["note"])


@app.command()
@guard
def remove(
    host: Annotated[str, typer.Argument(help="Host address or prefix of the entry.")],
    reason: ReasonOption,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Remove the RTBH entries for HOST."""
    if api is not None:
        removed = remote.send(api, cacert, "/api/v1/rtbh/remove",
                              {"host": host, "reason": reason}, db=db, actor=who)  # fmt: skip
    else:
        from orchestrator.service import rtbh as service

        removed = [r.as_json() for r in service.remove(open_db(db), host, reason=reason,
                                                       actor=actor(who), now=now())]  # fmt: skip
    if as_json:
        emit_json(removed)
    else:
        say("removed " + ", ".join(f"#{r['id']} {r['prefix']}" for r in removed))


@app.command("list")
@guard
def list_(
    include_ended: Annotated[bool, typer.Option("--all", help="Include removed/expired.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List RTBH entries that are in force."""
    from orchestrator.service import rtbh as service

    rows = service.list_(open_db(db), now=now(), include_ended=include_ended)
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    table(
        "RTBH entries",
        ["id", "prefix", "customer", "kind", "expires", "removed", "by", "reason"],
        [
            [
                r.id,
                r.prefix,
                r.customer,
                "forced" if r.forced else "standby",
                short_time(r.expires_at),
                short_time(r.removed_at),
                r.requested_by,
                r.reason,
            ]
            for r in rows
        ],
    )
