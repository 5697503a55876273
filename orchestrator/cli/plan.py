"""``scrubctl plan``, ``scrubctl status``, ``scrubctl events``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from orchestrator.cli.common import (
    DbOption,
    JsonOption,
    emit_json,
    guard,
    now,
    open_db,
    say,
    table,
)
from orchestrator.domain import Protection
from orchestrator.errors import ExitCode, InvalidInput
from orchestrator.service import status as service
from orchestrator.service.common import DURATION_RE, parse_duration
from orchestrator.service.paths import PathView, list_paths

MAX_SINCE = timedelta(days=36_500)  # a century: reports over years, never before year 1


def plan(
    site: Annotated[str | None, typer.Option("--site", "-s", help="Only this site.")] = None,
    assume_up: Annotated[
        bool, typer.Option("--assume-up", help="What-if: every session and return path healthy.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Exactly what every site announces to which peer, and why."""
    result = service.current_plan(open_db(db), now=now(), assume_up=assume_up)
    view = service.plan_view(result, site)
    if as_json:
        emit_json(view)
        return
    table(
        "Plan" + (" (assuming every session and return path up)" if assume_up else ""),
        ["site", "prefix", "AS path", "communities", "peers", "why"],
        [
            [
                r["site"],
                r["prefix"] + (" RTBH" if r["kind"] == "rtbh" else ""),
                " ".join(map(str, r["as_path"])),
                " ".join(r["communities"] + r["large_communities"]) or "-",
                ", ".join(r["peers"]),
                r["reason"],
            ]
            for r in view["routes"]
        ],
    )
    _customers(view["customers"])
    for violation in view["violations"]:
        say(f"REFUSED: {violation}")


def _customers(customers: dict[str, dict[str, Any]], *, paths: bool = False) -> None:
    """The customers' table; with ``paths`` a column of their return paths' health."""
    columns = ["customer", "state", *(["return paths"] if paths else []), "why"]
    rows = []
    for name, c in customers.items():
        health = [" ".join(f"{s}:{h}" for s, h in c["paths"].items()) or "-"] if paths else []
        rows.append([name, c["state"], *health, c["reason"]])
    table("Customers", columns, rows)


def _with_paths(customers: dict[str, dict[str, Any]], paths: list[PathView]) -> None:
    """Each customer's return-path health per site, as the sites' probes report it."""
    for customer in customers.values():
        customer["paths"] = {}
    for path in paths:
        if path.customer in customers:
            customers[path.customer]["paths"][path.site] = path.health


def status(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 6 if a customer that wants protection has none.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per customer: protected, last resort or unprotected, and why."""
    database = open_db(db)
    view = service.plan_view(service.current_plan(database, now=now()))
    customers = view["customers"]
    _with_paths(customers, list_paths(database))
    if as_json:
        emit_json(
            {
                "customers": customers,
                "routes": len(view["routes"]),
                "violations": view["violations"],
            }
        )
    else:
        _customers(customers, paths=True)
        say(f"{len(view['routes'])} route(s) planned across all sites")
    bad = [
        n
        for n, c in customers.items()
        if c["state"] in (Protection.UNPROTECTED, Protection.LAST_RESORT)
    ]
    if check and bad:
        raise typer.Exit(int(ExitCode.UNPROTECTED))


def parse_since(text: str | None) -> datetime | None:
    """A duration back from now (at most ``MAX_SINCE``) or an aware ISO time, in UTC."""
    if text is None:
        return None
    if DURATION_RE.fullmatch(text.strip()):
        return now() - parse_duration(text, "--since", maximum=MAX_SINCE)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is neither a duration (2h) nor an ISO time", where="--since"
        ) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone (add Z or +00:00)", where="--since")
    try:
        return value.astimezone(UTC)  # the store compares in UTC
    except OverflowError:
        raise InvalidInput(f"{text!r} is out of range in UTC", where="--since") from None


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
    rows = service.events(open_db(db), since=parse_since(since), limit=limit)
    if as_json:
        emit_json(rows)
        return
    table(
        "Events",
        ["id", "time (UTC)", "actor", "action", "target", "reason"],
        [
            [
                r["id"],
                r["at"][:19].replace("T", " "),
                r["actor"],
                r["action"],
                r["target"],
                r["reason"],
            ]
            for r in rows
        ],
    )


def register(app: typer.Typer) -> None:
    for command in (plan, status, events):
        app.command()(guard(command))
