"""``scrubctl paths``: every return path with its health, cause, loss and RTT."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.common import DbOption, JsonOption, emit_json, guard_with, open_db, table

if TYPE_CHECKING:
    from orchestrator.service.paths import PathView


def _time(value: datetime | None) -> str:
    return f"{value:%F %T}Z" if value is not None else "-"


def _row(view: PathView) -> list[str]:
    loss = f"{view.loss:.0%}" if view.loss is not None else "-"
    rtt = f"{view.rtt_ms:.1f} ms" if view.rtt_ms is not None else "-"
    return [view.customer, view.site, view.kind, view.interface, view.target, view.health,
            _time(view.since), view.cause, loss, rtt, _time(view.checked_at)]  # fmt: skip


def paths(
    site: Annotated[str | None, typer.Option("--site", "-s", help="Only this site.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every (customer, site) return path: kind, interface, health since when and why."""
    from orchestrator.service.paths import list_paths

    views = list_paths(open_db(db), site)
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    columns = ["customer", "site", "kind", "interface", "target", "health", "since", "cause",
               "loss", "rtt", "last probe"]  # fmt: skip
    table("Return paths", columns, [_row(v) for v in views])


def register(app: typer.Typer) -> None:
    app.command()(guard_with(site="--site")(paths))
