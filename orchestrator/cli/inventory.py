"""``scrubctl inventory apply|show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import (
    ActorOption,
    DbOption,
    JsonOption,
    actor,
    emit_json,
    guard,
    now,
    open_db,
    say,
    table,
)

app = typer.Typer(
    help="Load and show the inventory (sites, peers, customers, policy).", no_args_is_help=True
)


@app.command()
@guard
def apply(
    file: Annotated[Path, typer.Argument(help="Inventory YAML file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the difference only.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
    who: ActorOption = None,
) -> None:
    """Validate FILE, show how it differs from the database, and apply it in one transaction."""
    from orchestrator.inventory import load_inventory
    from orchestrator.service import inventory as service

    inv = load_inventory(file)
    database = open_db(db)
    changes = service.apply(
        database, inv, actor=actor(who), now=now(), dry_run=dry_run, source=str(file)
    )
    if as_json:
        emit_json({"dry_run": dry_run, "changes": [c.as_json() for c in changes]})
        return
    if not changes:
        say("inventory unchanged")
        return
    for change in changes:
        sign = {"add": "+", "remove": "-", "change": "~"}[change.op]
        say(f"{sign} {change.target}")
        for line in change.fields:
            say(f"    {line}")
    say(f"{len(changes)} change(s) " + ("not applied (--dry-run)" if dry_run else "applied"))


@app.command()
@guard
def show(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the inventory stored in the database (secrets are references only)."""
    from orchestrator.service import inventory as service

    inv = service.show(open_db(db))
    if as_json:
        emit_json(inv.model_dump(mode="json"))
        return
    say(
        f"our ASN {inv.policy.asn}, drain time {inv.policy.drain_time} s, "
        f"backup prepend {inv.policy.backup_prepend}, "
        f"reserved prefixes {'allowed' if inv.policy.allow_reserved_prefixes else 'refused'}"
    )
    table(
        "Sites",
        ["site", "ASN", "router id", "peer", "address", "peer ASN", "max-prefix", "RTBH", "MD5"],
        [
            [
                name,
                inv.site_asn(name),
                site.router_id,
                p.name,
                p.address,
                p.asn,
                p.max_prefix,
                p.rtbh.community if p.rtbh else "-",
                (f"env:{p.md5.env}" if p.md5.env else f"file:{p.md5.file}") if p.md5 else "-",
            ]
            for name, site in inv.sites.items()
            for p in site.peers
        ],
    )
    table(
        "Customers",
        ["customer", "ASN", "mode", "prefixes", "sites", "return paths", "RTBH last resort"],
        [
            [
                name,
                c.asn,
                c.mode.value,
                " ".join(f"{e.prefix}(le {e.longest})" for e in c.prefixes),
                " ".join(f"{s.site}({s.role.value})" for s in c.sites),
                " ".join(f"{s}:{p.kind}" for s, p in c.return_paths.items()) or "-",
                "yes" if c.rtbh_last_resort else "no",
            ]
            for name, c in inv.customers.items()
        ],
    )
