"""``scrubctl token create|list|revoke``: bearer tokens of the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import (
    ActorOption,
    DbOption,
    JsonOption,
    actor,
    emit_json,
    guard,
    guard_with,
    now,
    open_db,
    say,
    short_time,
    table,
)

app = typer.Typer(help="Bearer tokens of the HTTP API (`scrubctl serve`).", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The token's name: the actor in the audit log.")]


@app.command()
@guard_with(customer="--customer")
def create(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime: 90s, 30m, 2h, 7d (default: never).")
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="A viewer of this customer only (with --role viewer)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Create a token and print its secret (this once: only its SHA-256 is stored)."""
    from orchestrator.service import tokens as service
    from orchestrator.service.common import parse_duration

    parsed = service.parse_role(role)
    lifetime = None if expires is None else parse_duration(
        expires, "expires", maximum=service.MAX_LIFETIME)  # fmt: skip
    created = service.create(open_db(db), name, parsed, expires=lifetime, actor=actor(who),
                             now=now(), customer=customer)  # fmt: skip
    if as_json:
        emit_json(created.as_json())
        return
    say(created.secret)
    until = short_time(created.token.expires_at) if created.token.expires_at else "never"
    scope = f", {customer} only" if customer else ""
    typer.echo(f"token {name!r} ({parsed.value}{scope}) created, expires {until}; the secret above "
               "is shown only now", err=True)  # fmt: skip


@app.command("list")
@guard
def list_(
    include_ended: Annotated[bool, typer.Option("--all", help="Revoked and expired too.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens in force (never their secrets)."""
    from orchestrator.service import tokens as service

    views = service.list_(open_db(db), now=now(), include_ended=include_ended)
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    table("Tokens", ["name", "role", "customer", "state", "created", "by", "expires"],
          [[v.name, v.role.value, v.customer or "all", v.state, short_time(v.created_at),
            v.created_by, short_time(v.expires_at) if v.expires_at else "never"]
           for v in views])  # fmt: skip


@app.command()
@guard
def revoke(
    name: NameArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (audit log).")] = "",
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Revoke the token NAME: the service refuses it from the next request on."""
    from orchestrator.service import tokens as service

    revoked = service.revoke(open_db(db), name, reason=reason, actor=actor(who), now=now())
    if as_json:
        emit_json(revoked.as_json())
    else:
        say(f"token {name!r} revoked")
