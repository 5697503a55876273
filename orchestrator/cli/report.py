"""``scrubctl report ttm``."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import (
    DbOption,
    JsonOption,
    emit_json,
    guard,
    now,
    open_db,
    say,
    short_time,
    table,
)

app = typer.Typer(help="Reports for operators and customers.", no_args_is_help=True)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


@app.command()
@guard
def ttm(
    since: Annotated[str | None, typer.Option("--since",
                     help="Only diversions requested after this: 7d or an ISO time.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Time to mitigate: from `divert start` to the first site's ExaBGP acknowledgement."""
    from orchestrator.service import report as service
    from orchestrator.service.common import parse_since

    report = service.ttm(open_db(db), since=parse_since(since, now()))
    if as_json:
        emit_json(report.as_json())
        return
    table(
        "Time to mitigate",
        ["id", "customer", "requested (UTC)", "first ack", "per site", "withdrawn"],
        [
            [d.id, d.customer, short_time(d.requested_at), _fmt(d.ttm_seconds),
             " ".join(f"{s}:{v:.3f}" for s, v in d.per_site_seconds.items()) or "-",
             short_time(d.withdrawn_at)]
            for d in report.diversions
        ],
    )  # fmt: skip
    s = report.summary
    if s.acknowledged:
        say(f"{s.acknowledged} of {s.diversions} acknowledged: median "
            f"{_fmt(s.median_seconds)}, p95 {_fmt(s.p95_seconds)}, "
            f"max {_fmt(s.max_seconds)}")  # fmt: skip
    else:
        say(f"{s.diversions} diversion(s), none acknowledged by a site yet")
