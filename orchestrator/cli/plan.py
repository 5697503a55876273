"""``scrubctl plan``, ``scrubctl status``, ``scrubctl events``."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import (
    DbOption,
    JsonOption,
    emit_json,
    guard,
    guard_with,
    now,
    open_db,
    say,
    short_time,
    table,
)
from orchestrator.errors import ExitCode


def plan(
    site: Annotated[str | None, typer.Option("--site", "-s", help="Only this site.")] = None,
    assume_up: Annotated[
        bool, typer.Option("--assume-up", help="What-if: every session and return path healthy.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Exactly what every site announces to which peer, and why."""
    from orchestrator.service import status as service

    result = service.current_plan(open_db(db), now=now(), assume_up=assume_up)
    view = service.plan_view(result, site)
    if as_json:
        emit_json(view.as_json())
        return
    table(
        "Plan" + (" (assuming every session and return path up)" if assume_up else ""),
        ["site", "prefix", "AS path", "communities", "peers", "why"],
        [
            [
                r.site,
                r.prefix + (" RTBH" if r.kind == "rtbh" else ""),
                " ".join(map(str, r.as_path)),
                " ".join(r.communities + r.large_communities) or "-",
                ", ".join(r.peers),
                r.reason,
            ]
            for r in view.routes
        ],
    )
    table("Customers", ["customer", "state", "why"],
          [[name, c.state, c.reason] for name, c in view.customers.items()])  # fmt: skip
    for violation in view.violations:
        say(f"REFUSED: {violation}")


def status(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 6 if a customer that wants protection has none.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per customer: protected, last resort or unprotected, and why."""
    from orchestrator.service import status as service

    view = service.status(open_db(db), now=now())
    if as_json:
        emit_json(view.as_json())
    else:
        table(
            "Customers",
            ["customer", "state", "return paths", "why"],
            [
                [name, c.state, " ".join(f"{s}:{h}" for s, h in c.paths.items()) or "-", c.reason]
                for name, c in view.customers.items()
            ],
        )
        say(f"{view.routes} route(s) planned across all sites")
    if check and view.unprotected:
        raise typer.Exit(int(ExitCode.UNPROTECTED))


def events(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events newer than this: a duration (2h) or ISO time."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log: who did what, to what, when and why."""
    from orchestrator.service import status as service
    from orchestrator.service.common import parse_since

    rows = service.events(open_db(db), since=parse_since(since, now()), limit=limit)
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    table(
        "Events",
        ["id", "time (UTC)", "actor", "action", "target", "reason"],
        [[r.id, short_time(r.at), r.actor, r.action, r.target, r.reason] for r in rows],
    )


def register(app: typer.Typer) -> None:
    app.command()(guard_with(site="--site")(plan))
    for command in (status, events):
        app.command()(guard(command))
