"""``scrubctl failover|failback`` and ``--wait``: errors (one line, exit code, nothing
changed), idempotence, events, and waiting on a fake agent's sync marks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from db_support import dump_db
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app
from orchestrator.errors import ExitCode
from orchestrator.service import observed
from orchestrator.store.db import Database

INVENTORY = Path(__file__).parent / "data" / "inventory.yml"
ALL_PEERS = (("fra", "transit-a"), ("fra", "transit-a-v6"), ("ams", "transit-b"), ("ams", "ix-rs"))
Run = Callable[..., Result]
V4 = "203.0.113.0/24"  # acme's IPv6 prefix has no peer at ams: only fra can carry it


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "scrub.db"
    monkeypatch.setenv("SCRUBCTL_DB", str(path))
    monkeypatch.setenv("SCRUBCTL_ACTOR", "tester")
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def run(db_url: str, db: Database) -> Run:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    assert invoke("inventory", "apply", str(INVENTORY)).exit_code == 0
    for site, peer in ALL_PEERS:
        observed.record_session(db, site, peer, "up", "", datetime.now(UTC))
    return invoke


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_error(result: Result, code: int, line: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.splitlines() == [line]
    assert result.exception is None or isinstance(result.exception, SystemExit)


BAD = {
    "unknown customer": (
        ["failover", "nope", "--from", "fra", "-r", "x"], ExitCode.NOT_FOUND,
        "error: CUSTOMER: unknown customer 'nope' (known: acme, hoster, loopy, pharmanet)",
    ),
    "unknown from site": (
        ["failover", "acme", "--from", "lon", "-r", "x"], ExitCode.NOT_FOUND,
        "error: --from: unknown site 'lon' (known: ams, fra)",
    ),
    "unknown to site": (
        ["failover", "acme", "--from", "fra", "--to", "lon", "-r", "x"], ExitCode.NOT_FOUND,
        "error: --to: unknown site 'lon' (known: ams, fra)",
    ),
    "not the customer's site": (
        ["failover", "hoster", "--from", "fra", "-r", "x"], ExitCode.INVALID,
        "error: --from: fra is not one of hoster's sites (ams)",
    ),
    "to is from": (
        ["failover", "acme", "--from", "fra", "--to", "fra", "-r", "x"], ExitCode.INVALID,
        "error: --to: is fra, the site being left (--from)",
    ),
    "empty reason": (
        ["failover", "acme", "--from", "fra", "-r", " "], ExitCode.INVALID,
        "error: --reason: must not be empty",
    ),
    "timeout without wait": (
        ["failover", "acme", "--from", "fra", "-r", "x", "--timeout", "3"], ExitCode.INVALID,
        "error: --timeout: only goes with --wait",
    ),
    "timeout not positive": (
        ["site", "drain", "fra", "-r", "x", "--wait", "--timeout", "0"], ExitCode.INVALID,
        "error: --timeout: 0 must be more than 0 and at most 3600",
    ),
    "failback without a move": (
        ["failback", "acme", "-r", "x"], ExitCode.NOT_FOUND,
        "error: CUSTOMER: acme has no active failover",
    ),
    "leaves a prefix no site": (
        ["failover", "acme", "--from", "fra", "-r", "x"], ExitCode.CONFLICT,
        "error: --from: moving acme away from fra would leave it unprotected "
        "(--force moves it anyway; nothing was changed)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_request_is_one_line_and_changes_nothing(case: str, run: Run, db_url: str) -> None:
    assert run("divert", "start", "acme", "-r", "flood").exit_code == 0
    args, code, line = BAD[case]
    before = dump_db(db_url)
    one_error(run(*args), code, line)
    assert dump_db(db_url) == before


def test_move_leaving_no_site_needs_force(run: Run, db_url: str) -> None:
    run("divert", "start", "hoster", "-r", "flood", "-p", "198.18.0.0/24")
    before = dump_db(db_url)
    refused = run("failover", "hoster", "--from", "ams", "-r", "x")
    one_error(refused, ExitCode.CONFLICT,
              "error: --from: moving hoster away from ams would leave it unprotected "
              "(--force moves it anyway; nothing was changed)")  # fmt: skip
    assert dump_db(db_url) == before
    assert run("failover", "hoster", "--from", "ams", "-r", "x", "--force").exit_code == 0
    event = as_json(run("events", "--json"))[-1]
    assert event["action"] == "move.failover" and event["detail"]["unprotected_after"] is True


def test_failover_plans_make_before_break_and_is_idempotent(
    run: Run, db_url: str, db: Database
) -> None:
    run("divert", "start", "acme", "-r", "flood", "-p", V4)
    moved = as_json(run("failover", "acme", "--from", "fra", "--to", "ams", "-r", "maint",
                        "--json"))  # fmt: skip
    assert moved["changed"] and moved["move"]["to_site"] == "ams"
    routes = as_json(run("plan", "--json"))["routes"]
    fra = {(r["prefix"], tuple(r["as_path"]), "65535:0" in r["communities"])
           for r in routes if r["site"] == "fra"}  # fmt: skip
    ams = {(r["prefix"], tuple(r["as_path"])) for r in routes if r["site"] == "ams"}
    # ams has acknowledged nothing yet: fra keeps the prefixes, with GRACEFUL_SHUTDOWN
    assert ("203.0.113.0/24", (64500, 64496), True) in fra
    assert ("203.0.113.0/24", (64500, 64496)) in ams  # ams as primary: no prepend
    before, generation = dump_db(db_url), db.generation()
    again = as_json(run("failover", "acme", "--from", "fra", "--to", "ams", "-r", "x", "--json"))
    assert not again["changed"] and again["move"]["id"] == moved["move"]["id"]
    assert dump_db(db_url) == before and db.generation() == generation
    other = run("failover", "acme", "--from", "ams", "-r", "x")
    number = moved["move"]["id"]
    one_error(
        other,
        ExitCode.CONFLICT,
        f"error: CUSTOMER: acme is already moved away from fra to ams by failover #{number} "
        "(`scrubctl failback acme` first; nothing was changed)",
    )


def test_failback_ends_the_move(run: Run) -> None:
    run("divert", "start", "acme", "-r", "flood", "-p", V4)
    run("failover", "acme", "--from", "fra", "-r", "maint")
    back = run("failback", "acme", "-r", "done")
    assert back.exit_code == 0 and back.stdout.startswith("acme back on fra")
    routes = as_json(run("plan", "--json"))["routes"]
    fra = [r for r in routes if r["site"] == "fra" and r["prefix"] == "203.0.113.0/24"]
    assert [r["communities"] for r in fra] == [["64500:100"]]
    actions = [e["action"] for e in as_json(run("events", "--json"))]
    assert actions[-2:] == ["move.failover", "move.failback"]
    one_error(run("failback", "acme", "-r", "again"), ExitCode.NOT_FOUND,
              "error: CUSTOMER: acme has no active failover")  # fmt: skip


# --- --wait -------------------------------------------------------------------------


class FakeAgents(threading.Thread):
    """Marks ``sites`` synced to the change counter once it moves past ``start``."""

    def __init__(self, url: str, sites: tuple[str, ...]) -> None:
        super().__init__(daemon=True)
        self.db = Database(url)
        self.start_generation = self.db.generation()
        self.sites = sites
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(0.02):
                generation = self.db.generation()
                if generation > self.start_generation:
                    for site in self.sites:
                        observed.record_site_sync(self.db, site, generation, datetime.now(UTC))
                    return
        finally:
            self.db.dispose()


@pytest.fixture
def agents(db_url: str) -> Iterator[Callable[..., FakeAgents]]:
    started: list[FakeAgents] = []

    def start(*sites: str) -> FakeAgents:
        thread = FakeAgents(db_url, sites)
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop.set()
        thread.join(5)


WAITING = {
    "failover": ["failover", "acme", "--from", "fra", "--to", "ams", "-r", "x"],
    "failback": ["failback", "acme", "-r", "x"],
    "drain": ["site", "drain", "fra", "-r", "x"],
    "undrain": ["site", "undrain", "fra", "-r", "x"],
    "divert stop": ["divert", "stop", "acme", "-r", "x"],
}


def _prepare(run: Run, case: str) -> None:
    run("divert", "start", "acme", "-r", "flood", "-p", V4)
    if case == "failback":
        run("failover", "acme", "--from", "fra", "-r", "x")
    if case == "undrain":
        run("site", "drain", "fra", "-r", "x")


@pytest.mark.parametrize("case", sorted(WAITING))
def test_wait_returns_when_every_affected_site_acknowledged(
    case: str, run: Run, agents: Callable[..., FakeAgents]
) -> None:
    _prepare(run, case)
    agents("ams", "fra")
    out = as_json(run(*WAITING[case], "--wait", "--timeout", "10", "--json"))
    assert out["wait"]["timed_out"] == []
    acked = out["wait"]["acknowledged"]
    assert acked and {a["generation"] for a in acked} == {out["wait"]["generation"]}


@pytest.mark.parametrize("case", sorted(WAITING))
def test_wait_times_out_with_exit_7_naming_the_sites(case: str, run: Run) -> None:
    _prepare(run, case)
    result = run(*WAITING[case], "--wait", "--timeout", "0.3", "--json")
    assert result.exit_code == ExitCode.TIMEOUT == 7
    [line] = result.stderr.splitlines()
    waited = json.loads(result.stdout)["wait"]
    missing = ", ".join(waited["timed_out"])
    assert waited["timed_out"] and waited["acknowledged"] == []
    assert line == (
        f"error: --wait: {missing} did not acknowledge change {waited['generation']} within "
        "0.3 s (the change is committed; the site agents apply it when they can)"
    )


def test_wait_for_only_the_affected_site(run: Run, agents: Callable[..., FakeAgents]) -> None:
    agents("ams")  # only ams's plan changes: hoster is at ams alone
    out = as_json(run("divert", "start", "hoster", "-r", "x", "-p", "198.18.0.0/24", "--wait",
                      "--timeout", "10", "--json"))  # fmt: skip
    assert [a["site"] for a in out["wait"]["acknowledged"]] == ["ams"]


def test_wait_with_nothing_affected_returns_at_once(run: Run) -> None:
    result = run("failover", "acme", "--from", "fra", "-r", "x", "--wait", "--timeout", "0.5")
    assert result.exit_code == 0, result.output  # acme is idle: no route changes, no agent
    assert result.stdout.splitlines()[-1] == "no site's routes change"
