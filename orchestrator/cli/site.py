"""``scrubctl site drain|undrain|list|run``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
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
from orchestrator.errors import InvalidInput

app = typer.Typer(
    help="Scrubbing sites: drain for maintenance, show sessions.", no_args_is_help=True
)

SiteArg = Annotated[str, typer.Argument(help="Site name from the inventory.")]


@app.command()
@guard
def drain(
    site: SiteArg,
    reason: ReasonOption,
    force: Annotated[
        bool, typer.Option("--force", help="Drain even if a customer is left unprotected.")
    ] = False,
    wait: waiting.WaitOption = False,
    timeout: waiting.TimeoutOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Drain SITE: GRACEFUL_SHUTDOWN for the drain time, then withdraw once another site
    has each prefix acknowledged (make-before-break)."""
    if api is not None:
        answer = remote.send(api, cacert, f"/api/v1/sites/{remote.part(site)}/drain",
                             {"reason": reason, "force": force, "wait": wait, "timeout": timeout},
                             db=db, actor=who)  # fmt: skip
        _noted(answer["note"], answer.get("wait"), as_json)
        remote.raise_late(answer)
        return
    from orchestrator.service import sites as service

    database, moment, by = open_db(db), now(), actor(who)
    change, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.drain(database, site, reason=reason, force=force, actor=by, now=moment),
    )  # fmt: skip
    _noted(change.note, waiting.document(waited), as_json)
    waiting.check(waited, timeout)


@app.command()
@guard
def undrain(
    site: SiteArg,
    reason: ReasonOption,
    wait: waiting.WaitOption = False,
    timeout: waiting.TimeoutOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
) -> None:
    """Return SITE to service."""
    if api is not None:
        answer = remote.send(api, cacert, f"/api/v1/sites/{remote.part(site)}/undrain",
                             {"reason": reason, "wait": wait, "timeout": timeout},
                             db=db, actor=who)  # fmt: skip
        _noted(answer["note"], answer.get("wait"), as_json)
        remote.raise_late(answer)
        return
    from orchestrator.service import sites as service

    database, moment, by = open_db(db), now(), actor(who)
    change, waited = waiting.run(
        database, wait, timeout, moment,
        lambda: service.undrain(database, site, reason=reason, actor=by, now=moment),
    )  # fmt: skip
    _noted(change.note, waiting.document(waited), as_json)
    waiting.check(waited, timeout)


def _noted(note: str, wait: dict[str, Any] | None, as_json: bool) -> None:
    if as_json:
        emit_json({"note": note, "wait": wait})
    else:
        waiting.show(note, wait)


@app.command("list")
@guard
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Sites with their admin state and BGP sessions as the agents report them."""
    from orchestrator.service import sites as service

    sites = service.list_(open_db(db), now=now())
    if as_json:
        emit_json([s.as_json() for s in sites])
        return
    table(
        "Sites",
        ["site", "admin", "since", "peer", "address", "session", "changed"],
        [
            [
                s.site,
                s.admin_state,
                short_time(s.admin_since),
                p.name,
                p.address,
                p.state,
                short_time(p.since),
            ]
            for s in sites
            for p in s.peers
        ],
    )
    table(
        "Return paths",
        ["site", "customer", "kind", "health", "since", "cause"],
        [
            [s.site, p.customer, p.kind, p.health, short_time(p.since), p.cause]
            for s in sites
            for p in s.return_paths
        ],
    )


@app.command()
@guard
def run(
    site: SiteArg,
    run_dir: Annotated[Path | None, typer.Option("--run-dir",
                       help="Where ExaBGP's files go (default /run/scrubctl/site-SITE).")] = None,
    print_config: Annotated[bool, typer.Option("--print-config",
                            help="Print the ExaBGP configuration that would run, MD5 secrets "
                                 "as their references; writes nothing.")] = False,
    show_secrets: Annotated[bool, typer.Option("--show-secrets",
                            help="With --print-config: print the MD5 secrets themselves.")] = False,
    no_return_paths: Annotated[bool, typer.Option("--no-return-paths",
                               help="Do not build or probe the return paths (another system "
                                    "owns this host's routes); their health stays as stored.")
                               ] = False,
    db: DbOption = None,
) -> None:  # fmt: skip
    """Run ExaBGP for SITE with the agent as its API process; restart it if it dies."""
    from orchestrator.site.supervisor import SiteRunner, default_run_dir

    if show_secrets and not print_config:
        raise InvalidInput("only goes with --print-config", where="--show-secrets")
    database = open_db(db)
    runner = SiteRunner(
        database, site, run_dir or default_run_dir(site), return_paths=not no_return_paths
    )
    if print_config:
        sys.stdout.write(runner.config_text(show_secrets=show_secrets))
        return
    logging.basicConfig(level=logging.INFO, format="site %(levelname)s %(message)s")
    raise typer.Exit(runner.run())
