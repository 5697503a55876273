"""Shared pieces of the fuzz suite: hostile values, a database per example, and the
check that whatever was accepted also renders and sends cleanly through the driver.

Every example runs against its own copy of a prepared database, so an accepted
value never leaks into the next example; a refused one must leave its copy
exactly as it was (a dump of every table, compared).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db_support import dump_db
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app
from orchestrator.drivers.exabgp.api import announce_commands, withdraw_commands
from orchestrator.drivers.exabgp.config import render_config
from orchestrator.errors import InvalidInput
from orchestrator.planner import plan
from orchestrator.service import observed
from orchestrator.service.snapshot import snapshot
from orchestrator.store.db import Database

FUZZ_INVENTORY = Path(__file__).parent / "data" / "fuzz_inventory.yml"
REFUSED = {2, 3, 4}  # invalid input, not found, conflict
# Examples per fuzzed argument; SCRUBCTL_FUZZ_EXAMPLES raises it for a longer hunt.
EXAMPLES = int(os.environ.get("SCRUBCTL_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# Values that are close to valid: the shapes that got through before.
_ADDRESSY = [
    "203.0.113.10", "203.0.113.0/24", "2001:db8:100::1", "2001:db8:100::/48", "192.0.2.1",
    "fe80::1", "::", "0.0.0.0/0", "64500", "65535:666", "2h", "30d", "acme", "fra",
]  # fmt: skip
_SUFFIXES = [
    "%0", "%eth0", "%0\n", "% x", "%\u2028", "\n", " ", "\t", "\r\n", ";", '"', "'", "\\",
    "/", "/33", "/129", "/-1", "/024", "\x1b[31m", "\u2029", "\u0085", "\ufeff", "\x7f",
    "0" * 5000, "\n announce route 0.0.0.0/0 next-hop self",
]  # fmt: skip
_NASTY = [
    "", " ", "-", "--", "--help", "0", "-1", "9" * 50, "1e309", "nan", "inf", "None", "null",
    "yes", "true", "2024-13-45", "1:2:3", "99999999999d", "2592000s", "2592001s", "0s",
    "1" * 4400 + "s", "%", "%%", "\u202e", "../../etc/passwd", "$(reboot)", "`id`",
]  # fmt: skip


def hostile_text() -> st.SearchStrategy[str]:
    """Text an operator, a script or an attacker could pass as one argument (no NUL:
    a real command line cannot carry one)."""
    near = st.builds(
        lambda base, suffix: base + suffix, st.sampled_from(_ADDRESSY), st.sampled_from(_SUFFIXES)
    )
    prefixed = st.builds(
        lambda junk, base: junk + base, st.sampled_from(_SUFFIXES), st.sampled_from(_ADDRESSY)
    )
    wild = st.text(st.characters(blacklist_characters="\x00"), max_size=40)
    return st.one_of(near, prefixed, st.sampled_from(_NASTY), wild)


def hostile_value() -> st.SearchStrategy[Any]:
    """A YAML value of any type to put where the inventory expects one field."""
    scalars = st.one_of(
        hostile_text(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0, 1, -1, 2**32, 2**32 - 1, 2**31, 10**400]),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=True, allow_infinity=True),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(hostile_text(), inner, max_size=3)
        ),
        max_leaves=6,
    )


@dataclass
class Template:
    """A prepared database file (inventory applied, every session up) and its dump."""

    path: Path
    dump: dict[str, list[tuple[Any, ...]]]


def prepare(tmp: Path, *, with_diversion: bool) -> Template:
    path = tmp / "template.db"
    url = f"sqlite:///{path}"
    result = CliRunner().invoke(
        app, ["inventory", "apply", str(FUZZ_INVENTORY), "--db", url, "--actor", "fuzz"]
    )
    assert result.exit_code == 0, result.output
    db = Database(url)
    try:
        inv = snapshot_inventory(db)
        now = datetime.now(UTC)
        for name, site in inv.sites.items():
            for peer in site.peers:
                observed.record_session(db, name, peer.name, "up", "", now)
    finally:
        db.dispose()
    if with_diversion:
        args = ["divert", "start", "acme", "--reason", "fuzz", "--db", url, "--actor", "fuzz"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as conn:  # everything into the main file: copies see it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Template(path, dump_db(url))


def snapshot_inventory(db: Database) -> Any:
    with db.read() as session:
        return snapshot(session, datetime.now(UTC)).inventory


@contextmanager
def copy_of(template: Template, tmp: Path, n: int) -> Iterator[str]:
    """A fresh copy of the template database for one example; removed afterwards."""
    work = tmp / f"example-{n}"
    work.mkdir()
    shutil.copy(template.path, work / "scrub.db")
    try:
        yield f"sqlite:///{work / 'scrub.db'}"
    finally:
        shutil.rmtree(work)


def invoke(args: list[str], url: str, env: dict[str, str] | None = None) -> Result:
    base = {"SCRUBCTL_DB": url, "SCRUBCTL_ACTOR": "fuzz"}
    return CliRunner().invoke(app, args, env={**base, **(env or {})})


def assert_clean_outcome(result: Result, url: str, before: dict[str, Any], what: str) -> None:
    """Accepted (exit 0) and then renders and sends cleanly, or refused (2/3/4) with the
    database unchanged and one ``error:`` line per problem; never a traceback."""
    shown = f"{what}\nexit {result.exit_code}\n{result.output}"
    assert not isinstance(result.exception, Exception | RecursionError) or isinstance(
        result.exception, SystemExit
    ), f"{shown}\nexception: {result.exception!r}"
    assert "Traceback" not in result.output, shown
    if result.exit_code == 0:
        assert_sends_cleanly(url)
        return
    assert result.exit_code in REFUSED, shown
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert errors, shown
    assert all(line.startswith("error: ") for line in errors), shown
    assert dump_db(url) == before, f"{shown}\nthe database changed"


def assert_sends_cleanly(url: str) -> None:
    """Everything the database now asks for renders into ExaBGP's configuration and
    into API commands that the driver's own character check accepts."""
    db = Database(url)
    try:
        now = datetime.now(UTC)
        with db.read() as session:
            snap = snapshot(session, now)
        result = plan(snap.inventory, snap.intent, snap.observed, now, check=False)
        for site in snap.inventory.sites:
            with suppress(InvalidInput):  # refused with one line by `site run` (an unset secret)
                render_config(snap.inventory, site)
            addresses = {p.name: p.address for p in snap.inventory.sites[site].peers}
            for planned in result.routes.get(site, ()):
                for peer in planned.peers:
                    announced = announce_commands(addresses[peer], [planned.route])
                    withdrawn = withdraw_commands(addresses[peer], [planned.route.prefix])
                    assert not announced.refused, announced.refused
                    assert not withdrawn.refused, withdrawn.refused
                    assert len(announced.commands) == len(withdrawn.commands) == 1
    finally:
        db.dispose()
