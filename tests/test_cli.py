"""Every scrubctl command through typer's CliRunner: output, --json shapes, exit codes,
and bad input that must change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from db_support import dump_db
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app
from orchestrator.errors import ExitCode
from orchestrator.files import MAX_YAML_BYTES
from orchestrator.service import observed
from orchestrator.store.db import Database

DATA = Path(__file__).parent / "data"
INVENTORY = DATA / "inventory.yml"
Run = Callable[..., Result]


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "scrub.db"
    monkeypatch.setenv("SCRUBCTL_DB", str(path))
    monkeypatch.setenv("SCRUBCTL_ACTOR", "tester")
    monkeypatch.delenv("SCRUBCTL_BUSY_TIMEOUT", raising=False)
    return f"sqlite:///{path}"


@pytest.fixture
def run(db_url: str) -> Run:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args))

    return invoke


@pytest.fixture
def loaded(run: Run) -> Run:
    result = run("inventory", "apply", str(INVENTORY))
    assert result.exit_code == 0, result.output
    return run


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def generation(url: str) -> int:
    db = Database(url)
    try:
        return db.generation()
    finally:
        db.dispose()


def sessions_up(url: str, *pairs: tuple[str, str]) -> None:
    db = Database(url)
    try:
        for site, peer in pairs:
            observed.record_session(db, site, peer, "up", "", datetime.now(UTC))
    finally:
        db.dispose()


ALL_PEERS = (("fra", "transit-a"), ("fra", "transit-a-v6"), ("ams", "transit-b"), ("ams", "ix-rs"))


# --- inventory ---------------------------------------------------------------------


def test_inventory_dry_run_shows_the_difference_and_changes_nothing(run: Run, db_url: str) -> None:
    run("divert", "list")  # creates the empty schema
    before = dump_db(db_url)
    result = run("inventory", "apply", "--dry-run", str(INVENTORY))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "+ customers.acme",
        "+ customers.hoster",
        "+ customers.loopy",
        "+ customers.pharmanet",
        "+ policy",
        "+ sites.ams",
        "+ sites.fra",
        "7 change(s) not applied (--dry-run)",
    ]
    assert dump_db(db_url) == before


def test_inventory_apply_then_reapply_is_idempotent(run: Run, db_url: str) -> None:
    first = as_json(run("inventory", "apply", "--json", str(INVENTORY)))
    assert first["dry_run"] is False
    assert [(c["op"], c["kind"], c["name"]) for c in first["changes"]] == [
        ("add", "customer", "acme"),
        ("add", "customer", "hoster"),
        ("add", "customer", "loopy"),
        ("add", "customer", "pharmanet"),
        ("add", "policy", "policy"),
        ("add", "site", "ams"),
        ("add", "site", "fra"),
    ]
    after_first = dump_db(db_url)
    again = run("inventory", "apply", str(INVENTORY))
    assert again.exit_code == 0 and again.stdout == "inventory unchanged\n"
    assert dump_db(db_url) == after_first  # no event, no generation bump
    assert generation(db_url) == 1


def test_inventory_apply_shows_changed_fields(loaded: Run, tmp_path: Path) -> None:
    changed = tmp_path / "changed.yml"
    text = INVENTORY.read_text(encoding="utf-8").replace("drain_time: 300", "drain_time: 60")
    changed.write_text(text, encoding="utf-8")
    result = loaded("inventory", "apply", str(changed))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "~ policy",
        "    drain_time: 300 -> 60",
        "1 change(s) applied",
    ]
    events = as_json(loaded("events", "--json"))
    assert [e["action"] for e in events] == ["inventory.apply", "inventory.apply"]
    assert events[1]["detail"]["changes"] == [
        {"op": "change", "kind": "policy", "name": "policy", "fields": ["drain_time: 300 -> 60"]}
    ]


def test_inventory_show_json(loaded: Run) -> None:
    data = as_json(loaded("inventory", "show", "--json"))
    assert data["policy"]["asn"] == 64500
    assert data["customers"]["acme"]["prefixes"] == [
        {"prefix": "203.0.113.0/24", "max_length": None},
        {"prefix": "2001:db8:100::/48", "max_length": None},
    ]
    assert data["sites"]["ams"]["peers"][1]["max_prefix"] == 2
    assert data["sites"]["fra"]["peers"][0]["rtbh"] == {"community": "65535:666"}
    assert sorted(data["customers"]) == ["acme", "hoster", "loopy", "pharmanet"]


def test_inventory_show_table(loaded: Run) -> None:
    result = loaded("inventory", "show")
    assert result.exit_code == 0
    assert "our ASN 64500, drain time 300 s, backup prepend 2" in result.stdout
    assert "203.0.113.0/24(le 24)" in result.stdout


def test_commands_before_any_inventory_say_so(run: Run) -> None:
    result = run("plan")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr == (
        "error: no inventory loaded (run `scrubctl inventory apply FILE` first)\n"
    )


# --- divert ------------------------------------------------------------------------


def test_divert_start_list_stop(loaded: Run) -> None:
    started = as_json(
        loaded("divert", "start", "acme", "-r", "SYN flood", "-p", "203.0.113.0/24", "--json")
    )
    assert started["created"] is True
    assert started["note"] == "diversion #1 started"
    assert {k: started[k] for k in ("id", "customer", "prefixes", "sites", "targets", "state")} == {
        "id": 1,
        "customer": "acme",
        "prefixes": ["203.0.113.0/24"],
        "sites": [],
        "targets": [],
        "state": "active",
    }
    assert started["requested_by"] == "tester" and started["reason"] == "SYN flood"
    same = as_json(
        loaded("divert", "start", "acme", "-r", "again", "-p", "203.0.113.0/24", "--json")
    )
    assert same["created"] is False and same["id"] == 1
    listed = as_json(loaded("divert", "list", "--json"))
    assert [(d["id"], d["customer"], d["state"]) for d in listed] == [(1, "acme", "active")]
    stopped = as_json(loaded("divert", "stop", "acme", "-r", "attack over", "--json"))
    assert [(d["id"], d["state"], d["stopped_by"]) for d in stopped] == [(1, "stopped", "tester")]
    assert as_json(loaded("divert", "list", "--json")) == []
    everything = as_json(loaded("divert", "list", "--all", "--json"))
    assert [(d["id"], d["state"]) for d in everything] == [(1, "stopped")]
    actions = [e["action"] for e in as_json(loaded("events", "--json"))]
    assert actions == ["inventory.apply", "divert.start", "divert.stop"]


def test_divert_start_text_output(loaded: Run) -> None:
    result = loaded("divert", "start", "pharmanet", "-r", "belt and braces")
    assert result.exit_code == 0
    assert result.stdout == (
        "diversion #1 started (the customer is always-on: its prefixes were already diverted)\n"
    )
    assert loaded("divert", "stop", "pharmanet", "-r", "done").stdout == "stopped #1\n"


def test_divert_stop_one_by_id(loaded: Run) -> None:
    loaded("divert", "start", "acme", "-r", "a", "-p", "203.0.113.0/24")
    loaded("divert", "start", "acme", "-r", "b", "-p", "2001:db8:100::/48")
    stopped = as_json(loaded("divert", "stop", "acme", "-r", "v6 calm", "--id", "2", "--json"))
    assert [d["id"] for d in stopped] == [2]
    assert [d["id"] for d in as_json(loaded("divert", "list", "--json"))] == [1]


# --- rtbh --------------------------------------------------------------------------


def test_rtbh_add_list_remove(loaded: Run) -> None:
    added = as_json(
        loaded("rtbh", "add", "203.0.113.7", "-r", "UDP flood", "-e", "1h", "--force", "--json")
    )
    assert (added["id"], added["prefix"], added["customer"], added["forced"]) == (
        1,
        "203.0.113.7/32",
        "acme",
        True,
    )
    created = datetime.fromisoformat(added["created_at"])
    assert (datetime.fromisoformat(added["expires_at"]) - created).total_seconds() == 3600
    standby = as_json(loaded("rtbh", "add", "2001:db8:100::7", "-r", "x", "-e", "30m", "--json"))
    assert (standby["prefix"], standby["forced"]) == ("2001:db8:100::7/128", False)
    assert standby["note"].startswith("RTBH #2 added, standby (used only while no site can scrub)")
    listed = as_json(loaded("rtbh", "list", "--json"))
    assert [(r["id"], r["prefix"]) for r in listed] == [
        (1, "203.0.113.7/32"),
        (2, "2001:db8:100::7/128"),
    ]
    removed = as_json(loaded("rtbh", "remove", "203.0.113.7", "-r", "over", "--json"))
    assert [(r["id"], r["removed_at"] is not None) for r in removed] == [(1, True)]
    assert [r["id"] for r in as_json(loaded("rtbh", "list", "--json"))] == [2]
    assert [r["id"] for r in as_json(loaded("rtbh", "list", "--all", "--json"))] == [1, 2]


def test_rtbh_forced_shows_in_the_plan(loaded: Run, db_url: str) -> None:
    sessions_up(db_url, *ALL_PEERS)
    loaded("rtbh", "add", "203.0.113.7", "-r", "UDP flood", "-e", "1h", "--force")
    routes = as_json(loaded("plan", "--json"))["routes"]
    rtbh = [(r["site"], r["peers"], r["communities"]) for r in routes if r["kind"] == "rtbh"]
    assert rtbh == [
        ("ams", ["transit-b"], ["65535:666", "65535:65281"]),
        ("fra", ["transit-a"], ["65535:666", "65535:65281"]),
    ]


# --- site --------------------------------------------------------------------------


def test_site_drain_undrain_list(loaded: Run, db_url: str) -> None:
    sessions_up(db_url, *ALL_PEERS)
    drained = loaded("site", "drain", "fra", "-r", "line card swap")
    assert drained.exit_code == 0
    assert drained.stdout == "fra draining: GRACEFUL_SHUTDOWN for 300 s, then withdrawn\n"
    again = loaded("site", "drain", "fra", "-r", "twice")
    assert again.exit_code == 0 and again.stdout.startswith("fra is already draining since ")
    sites = {s["site"]: s for s in as_json(loaded("site", "list", "--json"))}
    assert (sites["fra"]["admin_state"], sites["fra"]["admin_reason"]) == (
        "draining",
        "line card swap",
    )
    assert sites["ams"]["admin_state"] == "active"
    assert [(p["name"], p["established"]) for p in sites["ams"]["peers"]] == [
        ("transit-b", True),
        ("ix-rs", True),
    ]
    fra_routes = [r for r in as_json(loaded("plan", "--json", "--site", "fra"))["routes"]]
    assert [(r["prefix"], r["communities"]) for r in fra_routes] == [
        ("198.51.100.0/24", ["64500:100", "65535:0"])
    ]
    assert loaded("site", "undrain", "fra", "-r", "done").stdout == "fra active again\n"
    assert loaded("site", "undrain", "fra", "-r", "done").stdout == "fra is already active\n"
    actions = [e["action"] for e in as_json(loaded("events", "--json"))]
    assert actions[-2:] == ["site.drain", "site.undrain"]


def test_drain_that_leaves_a_customer_unprotected_needs_force(loaded: Run, db_url: str) -> None:
    sessions_up(db_url, *ALL_PEERS)
    loaded("divert", "start", "hoster", "-r", "flood", "-p", "198.18.0.0/24")
    before = dump_db(db_url)
    refused = loaded("site", "drain", "ams", "-r", "maintenance")
    assert_one_clean_error(
        refused,
        ExitCode.CONFLICT,
        "error: SITE: draining ams would leave hoster unprotected "
        "(--force drains anyway; nothing was changed)",
    )
    assert dump_db(db_url) == before
    assert loaded("site", "drain", "ams", "-r", "maintenance", "--force").exit_code == 0
    event = as_json(loaded("events", "--json"))[-1]
    assert (event["action"], event["detail"]) == ("site.drain", {"unprotected_after": ["hoster"]})


# --- plan, status, events -------------------------------------------------------------


def test_plan_json_shape_and_assume_up(loaded: Run) -> None:
    loaded("divert", "start", "acme", "-r", "flood", "-p", "203.0.113.0/24")
    real = as_json(loaded("plan", "--json"))
    assert set(real) == {"routes", "customers", "violations", "next_change_at"}
    assert real["routes"] == []  # no agent has reported a session yet
    assert real["customers"]["acme"]["state"] == "unprotected"
    assert real["customers"]["acme"]["sites"]["fra"] == {
        "eligible": False,
        "draining": False,
        "reason": "no established BGP session",
    }
    what_if = as_json(loaded("plan", "--json", "--assume-up"))
    acme = [
        (r["site"], r["as_path"], r["peers"]) for r in what_if["routes"] if r["customer"] == "acme"
    ]
    assert acme == [
        ("ams", [64500, 64500, 64500, 64496], ["transit-b", "ix-rs"]),
        ("fra", [64500, 64496], ["transit-a"]),
    ]
    first = what_if["routes"][0]
    assert set(first) == {
        "site",
        "prefix",
        "kind",
        "next_hop",
        "as_path",
        "communities",
        "large_communities",
        "med",
        "peers",
        "customer",
        "reason",
    }
    only_fra = as_json(loaded("plan", "--json", "--assume-up", "--site", "fra"))
    assert {r["site"] for r in only_fra["routes"]} == {"fra"}
    assert len(only_fra["routes"]) == 2  # acme and pharmanet


def test_plan_table(loaded: Run) -> None:
    result = loaded("plan", "--assume-up")
    assert result.exit_code == 0
    assert "Plan (assuming every session and return path up)" in result.stdout
    assert "198.51.100.0/24" in result.stdout


def test_status_check_exit_codes(loaded: Run, db_url: str) -> None:
    unprotected = loaded("status", "--check", "--json")
    assert unprotected.exit_code == ExitCode.UNPROTECTED
    body = json.loads(unprotected.stdout)
    assert body["customers"]["pharmanet"]["state"] == "unprotected"
    assert body["routes"] == 0 and body["violations"] == []
    assert loaded("status").exit_code == 0  # without --check it only reports
    sessions_up(db_url, *ALL_PEERS)
    healthy = loaded("status", "--check", "--json")
    assert healthy.exit_code == 0
    states = {n: c["state"] for n, c in json.loads(healthy.stdout)["customers"].items()}
    assert states == {
        "acme": "idle",
        "hoster": "idle",
        "loopy": "idle",
        "pharmanet": "protected",
    }
    assert json.loads(healthy.stdout)["routes"] == 2  # pharmanet at fra and ams


def test_events_since(loaded: Run) -> None:
    loaded("divert", "start", "acme", "-r", "flood")
    recent = as_json(loaded("events", "--since", "1h", "--json"))
    assert [e["action"] for e in recent] == ["inventory.apply", "divert.start"]
    assert recent[1]["actor"] == "tester" and recent[1]["target"] == "acme"
    assert recent[1]["reason"] == "flood"
    assert as_json(loaded("events", "--since", "2099-01-01T00:00:00Z", "--json")) == []
    old = as_json(loaded("events", "--since", "2000-01-01T00:00:00+00:00", "--json"))
    assert len(old) == 2
    assert [e["action"] for e in as_json(loaded("events", "--limit", "1", "--json"))] == [
        "divert.start"
    ]


# --- customer config -----------------------------------------------------------------


def test_customer_config_to_stdout_and_to_a_file(loaded: Run, db_url: str, tmp_path: Path) -> None:
    before = dump_db(db_url)
    shown = loaded("customer", "config", "loopy", "--site", "ams", "--vendor", "cisco-ios")
    assert shown.exit_code == 0, shown.output
    assert "interface Tunnel100\n" in shown.stdout
    assert " tunnel destination 192.0.2.2\n" in shown.stdout
    target = tmp_path / "loopy-ams.sh"
    written = loaded(
        "customer", "config", "loopy", "-s", "ams", "--vendor", "frr", "-o", str(target)
    )
    assert written.exit_code == 0, written.output
    assert written.stdout == f"wrote {target}\n"
    assert "ip link add name scrub-ams type gre local 198.18.1.50 remote 192.0.2.2" in (
        target.read_text(encoding="utf-8")
    )
    assert dump_db(db_url) == before


def test_a_customer_site_without_a_return_path_is_refused(
    run: Run, db_url: str, tmp_path: Path
) -> None:
    """A site the customer may use must have its return path: refused, nothing stored."""
    path = tmp_path / "inv.yml"
    path.write_text(
        _edit(
            "    return_paths:\n"
            "      ams: {kind: dedicated, interface: eth6, next_hop: 192.0.2.154}",
            "    return_paths: {}",
        ),
        encoding="utf-8",
    )
    before = dump_db(db_url)
    result = run("inventory", "apply", str(path))
    assert_one_clean_error(
        result,
        ExitCode.INVALID,
        "error: customers.hoster.sites[0].site: ams has no return path for hoster "
        "(add customers.hoster.return_paths.ams)",
    )
    assert dump_db(db_url) == before


# --- bad input: exit code, one line naming the field, no traceback, nothing changed ----

BAD_COMMANDS = {
    "bad_prefix": (
        ["divert", "start", "acme", "-r", "x", "-p", "203.0.113.0/33"],
        ExitCode.INVALID,
        "error: --prefix[0]: '203.0.113.0/33' is not a prefix",
    ),
    "prefix_outside_customer": (
        ["divert", "start", "acme", "-r", "x", "-p", "198.51.100.0/24"],
        ExitCode.INVALID,
        "error: --prefix[0]: 198.51.100.0/24 is not inside acme's prefixes",
    ),
    "prefix_too_long": (
        ["divert", "start", "acme", "-r", "x", "-p", "203.0.113.0/25"],
        ExitCode.INVALID,
        "error: --prefix[0]: 203.0.113.0/25 is longer than /24",
    ),
    "rtbh_wider_than_host": (
        ["rtbh", "add", "203.0.113.0/28", "-r", "x", "-e", "1h", "--force"],
        ExitCode.INVALID,
        "error: HOST: 203.0.113.0/28 is wider than /32",
    ),
    "rtbh_bad_expiry": (
        ["rtbh", "add", "203.0.113.7", "-r", "x", "-e", "31d", "--force"],
        ExitCode.INVALID,
        "error: --expires: 31d must be more than 0 and at most 30d",
    ),
    "control_character_in_reason": (
        ["divert", "start", "acme", "-r", "flood\x1b[2J"],
        ExitCode.INVALID,
        "error: --reason: contains a control character ('\\x1b')",
    ),
    "newline_in_reason": (
        ["rtbh", "add", "203.0.113.7", "-r", "a\nb", "-e", "1h", "--force"],
        ExitCode.INVALID,
        "error: --reason: contains a control character ('\\n')",
    ),
    "bad_actor": (
        ["divert", "start", "acme", "-r", "x", "--actor", "rm -rf"],
        ExitCode.INVALID,
        "error: --actor: 'rm -rf' is not a valid name",
    ),
    "actor_ending_in_newline": (
        ["divert", "start", "acme", "-r", "x", "--actor", "mallory\n"],
        ExitCode.INVALID,
        "error: --actor: 'mallory\\n' is not a valid name",
    ),
    "line_separator_in_reason": (
        ["divert", "start", "acme", "-r", "flood\u2028forged line"],
        ExitCode.INVALID,
        "error: --reason: contains a control character ('\\u2028')",
    ),
    "paragraph_separator_in_reason": (
        ["rtbh", "add", "203.0.113.7", "-r", "a\u2029b", "-e", "1h", "--force"],
        ExitCode.INVALID,
        "error: --reason: contains a control character ('\\u2029')",
    ),
    "rtbh_expiry_a_second_over_30_days": (
        ["rtbh", "add", "203.0.113.7", "-r", "x", "-e", "2592001s", "--force"],
        ExitCode.INVALID,
        "error: --expires: 2592001s must be more than 0 and at most 30d",
    ),
    "rtbh_expiry_with_13_digits": (
        ["rtbh", "add", "203.0.113.7", "-r", "x", "-e", "9999999999999d", "--force"],
        ExitCode.INVALID,
        "error: --expires: '9999999999999d' is not a duration",
    ),
    "since_a_duration_far_in_the_past": (
        ["events", "--since", "99999999d"],
        ExitCode.INVALID,
        "error: --since: 99999999d must be more than 0 and at most 36500d",
    ),
    "since_twelve_digits_of_days": (
        ["events", "--since", "999999999999d"],
        ExitCode.INVALID,
        "error: --since: 999999999999d must be more than 0 and at most 36500d",
    ),
    "since_a_time_out_of_range_in_utc": (
        ["events", "--since", "0001-01-01T00:00:00+05:00"],
        ExitCode.INVALID,
        "error: --since: '0001-01-01T00:00:00+05:00' is out of range in UTC",
    ),
    "ttm_since_a_time_out_of_range_in_utc": (
        ["report", "ttm", "--since", "9999-12-31T23:59:59-05:00"],
        ExitCode.INVALID,
        "error: --since: '9999-12-31T23:59:59-05:00' is out of range in UTC",
    ),
    "ttm_since_a_duration_far_in_the_past": (
        ["report", "ttm", "--since", "99999999d"],
        ExitCode.INVALID,
        "error: --since: 99999999d must be more than 0 and at most 36500d",
    ),
    "unknown_customer": (
        ["divert", "start", "acne", "-r", "x"],
        ExitCode.NOT_FOUND,
        "error: CUSTOMER: unknown customer 'acne' (known: acme, hoster, loopy, pharmanet)",
    ),
    "unknown_site_in_divert": (
        ["divert", "start", "acme", "-r", "x", "-s", "lon"],
        ExitCode.NOT_FOUND,
        "error: --site[0]: unknown site 'lon'",
    ),
    "unknown_site_drain": (
        ["site", "drain", "lon", "-r", "x"],
        ExitCode.NOT_FOUND,
        "error: SITE: unknown site 'lon' (known: ams, fra)",
    ),
    "unknown_site_plan": (
        ["plan", "--site", "lon"],
        ExitCode.NOT_FOUND,
        "error: --site: no site 'lon' in the plan",
    ),
    "nothing_to_stop": (
        ["divert", "stop", "acme", "-r", "x"],
        ExitCode.NOT_FOUND,
        "error: CUSTOMER: no active diversion for acme",
    ),
    "nothing_to_remove": (
        ["rtbh", "remove", "203.0.113.99", "-r", "x"],
        ExitCode.NOT_FOUND,
        "error: HOST: no active RTBH entry for 203.0.113.99/32",
    ),
    "max_prefix_exceeded": (
        ["divert", "start", "hoster", "-r", "x", "--more-specifics"],
        ExitCode.CONFLICT,
        "error: sites.ams.peers.ix-rs: plan has 3 routes, over its max_prefix 2",
    ),
    "gre_loop": (
        ["divert", "start", "hoster", "-r", "x"],
        ExitCode.CONFLICT,
        "error: customers.loopy.return_paths.ams.remote: GRE endpoint 198.18.1.50 lies inside "
        "198.18.0.0/23, diverted to ams: the tunnel would loop (nothing was changed)",
    ),
    "customer_config_unknown_customer": (
        ["customer", "config", "acne", "--site", "ams", "--vendor", "frr"],
        ExitCode.NOT_FOUND,
        "error: CUSTOMER: unknown customer 'acne' (known: acme, hoster, loopy, pharmanet)",
    ),
    "customer_config_unknown_site": (
        ["customer", "config", "loopy", "--site", "lon", "--vendor", "frr"],
        ExitCode.NOT_FOUND,
        "error: --site: unknown site 'lon' (known: ams, fra)",
    ),
    "customer_config_site_not_used": (
        ["customer", "config", "loopy", "--site", "fra", "--vendor", "frr"],
        ExitCode.NOT_FOUND,
        "error: --site: loopy does not use site fra (its sites: ams)",
    ),
    "customer_config_unknown_vendor": (
        ["customer", "config", "loopy", "--site", "ams", "--vendor", "mikrotik"],
        ExitCode.INVALID,
        "error: --vendor: unknown vendor 'mikrotik' (known: cisco-ios, frr, junos)",
    ),
    "customer_config_bad_interface": (
        ["customer", "config", "loopy", "--site", "ams", "--vendor", "frr", "--interface", "a b"],
        ExitCode.INVALID,
        "error: --interface: 'a b' is not a Linux interface name",
    ),
    "customer_config_interface_for_a_line": (
        ["customer", "config", "acme", "--site", "fra", "--vendor", "junos", "--interface", "x"],
        ExitCode.INVALID,
        "error: --interface: fra reaches acme over a dedicated line: there is no tunnel "
        "interface to name",
    ),
    "customer_config_unwritable_output": (
        ["customer", "config", "loopy", "-s", "ams", "--vendor", "frr", "-o", "/nonexistent/ce"],
        ExitCode.INVALID,
        "error: --output: cannot write /nonexistent/ce: No such file or directory",
    ),
    "bad_since": (
        ["events", "--since", "yesterday"],
        ExitCode.INVALID,
        "error: --since: 'yesterday' is neither a duration (2h) nor an ISO time",
    ),
    "naive_since": (
        ["events", "--since", "2026-01-01T00:00:00"],
        ExitCode.INVALID,
        "error: --since: '2026-01-01T00:00:00' has no time zone (add Z or +00:00)",
    ),
    # An IPv6 zone id (anything after %, newlines too) once passed and crashed every agent.
    "zone_id_in_prefix": (
        ["divert", "start", "acme", "-r", "x", "-p", "2001:db8:100::%0/48"],
        ExitCode.INVALID,
        "error: --prefix[0]: '2001:db8:100::%0/48' has a zone id (%0); give a plain address",
    ),
    "zone_id_in_target": (
        ["divert", "start", "acme", "-r", "x", "-t", "2001:db8:100::7%eth0"],
        ExitCode.INVALID,
        "error: --target[0]: '2001:db8:100::7%eth0' has a zone id (%eth0); give a plain address",
    ),
    "newline_after_zone_in_target": (
        ["divert", "start", "acme", "-r", "x", "-t", "2001:db8:100::7%\nshutdown"],
        ExitCode.INVALID,
        "error: --target[0]: '2001:db8:100::7%\\nshutdown' has a zone id (%\\nshutdown)",
    ),
    "zone_id_in_rtbh_add": (
        ["rtbh", "add", "2001:db8:100::7%eth0", "-r", "x", "-e", "1h", "--force"],
        ExitCode.INVALID,
        "error: HOST: '2001:db8:100::7%eth0' has a zone id (%eth0); give a plain address",
    ),
    "zone_id_in_standby_rtbh_add": (
        ["rtbh", "add", "2001:db8:100::7%0", "-r", "x", "-e", "1h"],
        ExitCode.INVALID,
        "error: HOST: '2001:db8:100::7%0' has a zone id (%0); give a plain address",
    ),
    "zone_id_in_rtbh_remove": (
        ["rtbh", "remove", "203.0.113.7%eth0", "-r", "x"],
        ExitCode.INVALID,
        "error: HOST: '203.0.113.7%eth0' has a zone id (%eth0); give a plain address",
    ),
}


def assert_one_clean_error(result: Result, code: int, line: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(line), lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("case", sorted(BAD_COMMANDS))
def test_bad_command_changes_nothing(case: str, loaded: Run, db_url: str) -> None:
    args, code, line = BAD_COMMANDS[case]
    before = dump_db(db_url)
    result = loaded(*args)
    assert_one_clean_error(result, code, line)
    assert result.stdout == ""
    assert dump_db(db_url) == before


def _edit(old: str, new: str) -> str:
    text = INVENTORY.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


BAD_INVENTORIES = {
    "malformed_yaml": (
        "policy:\n  asn: 64500\n sites: [\n",
        ExitCode.INVALID,
        "error: {file}:3: not valid YAML",
    ),
    "reserved_space_without_policy": (
        "policy: {asn: 64500}\n"
        "sites: {fra: {router_id: 192.0.2.1, peers: [{name: t, address: 192.0.2.254, asn: 1}]}}\n"
        "customers:\n"
        "  x: {asn: 64511, prefixes: [{prefix: 10.1.0.0/16}], sites: [{site: fra}],\n"
        "      return_paths: {fra: {kind: dedicated, interface: eth3, next_hop: 192.0.2.130}}}\n",
        ExitCode.INVALID,
        "error: customers.x.prefixes[0].prefix: 10.1.0.0/16 overlaps reserved range 10.0.0.0/8 "
        "(set policy.allow_reserved_prefixes for a lab)",
    ),
    "gre_loop_always_on": (
        _edit("  hoster:                         # two", "  hoster:\n    mode: always-on  #"),
        ExitCode.INVALID,
        "error: customers.loopy.return_paths.ams.remote: GRE endpoint 198.18.1.50 lies inside "
        "198.18.0.0/23, which hoster always diverts to ams: the tunnel would loop",
    ),
    "max_prefix_exceeded": (
        _edit("max_prefix: 2", "max_prefix: 1")
        .replace("  hoster:                         # two", "  hoster:\n    mode: always-on  #")
        .replace("remote: 198.18.1.50", "remote: 192.0.2.99"),
        ExitCode.CONFLICT,
        "error: sites.ams.peers.ix-rs: plan has 2 routes, over its max_prefix 1 "
        "(nothing was changed)",
    ),
    "unknown_field": (
        _edit("drain_time: 300", "drain_time: 300\n  drain_tme: 30"),
        ExitCode.INVALID,
        "error: policy.drain_tme: Extra inputs are not permitted",
    ),
    "missing_file": (None, ExitCode.INVALID, "error: {file}: cannot read inventory"),
    "zone_id_in_peer_address": (
        _edit('address: "2001:db8:ffff:1::1"', 'address: "2001:db8:ffff:1::1%\\n  x"'),
        ExitCode.INVALID,
        "error: sites.fra.peers[1].address: '2001:db8:ffff:1::1%\\n  x' has a zone id",
    ),
    "not_utf8": (
        _edit("transit-b", "transit-\xe9").encode("latin-1"),
        ExitCode.INVALID,
        "error: {file}:18: not UTF-8 text (byte 0xe9)",
    ),
    "over_the_size_limit": (
        b"#" * MAX_YAML_BYTES + b"\n",
        ExitCode.INVALID,
        "error: {file}: inventory is larger than 4 MiB",
    ),
    "alias_bomb": (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(
            f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for n, p in zip("bcdefghi", "abcdefgh", strict=True)
        ),
        ExitCode.INVALID,
        "error: {file}:1: YAML anchors are not allowed (&a); write the value out",
    ),
    "merge_key": (
        _edit("drain_time: 300", "drain_time: 300\n  <<: {drain_time: 0}"),
        ExitCode.INVALID,
        "error: {file}:7: YAML merge keys (<<) are not allowed",
    ),
    "duplicate_key": (
        _edit("drain_time: 300", "drain_time: 300\n  asn: 64511"),
        ExitCode.INVALID,
        "error: {file}:7: duplicate key 'asn' (first on line 3)",
    ),
    "deep_nesting": (
        "policy: " + "[" * 500 + "]" * 500 + "\n",
        ExitCode.INVALID,
        "error: {file}:1: nested more than 64 levels deep",
    ),
    "huge_integer": (
        _edit("asn: 64500", "asn: " + "9" * 5000),
        ExitCode.INVALID,
        "error: {file}:3: an integer of 5000 characters is too long (at most 100)",
    ),
    "asn_invalid_date": (
        _edit("asn: 64500", "asn: 2024-13-45"),
        ExitCode.INVALID,
        "error: policy.asn: Input should be a valid integer (got str '2024-13-45')",
    ),
    "asn_yes": (
        _edit("asn: 64500", "asn: yes"),
        ExitCode.INVALID,
        "error: policy.asn: Input should be a valid integer (got str 'yes')",
    ),
    "asn_sexagesimal": (
        _edit("asn: 64500", "asn: 1:2:3"),
        ExitCode.INVALID,
        "error: policy.asn: Input should be a valid integer (got str '1:2:3')",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INVENTORIES))
def test_bad_inventory_changes_nothing(case: str, loaded: Run, db_url: str, tmp_path: Path) -> None:
    text, code, line = BAD_INVENTORIES[case]
    path = tmp_path / "bad.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    before = dump_db(db_url)
    result = loaded("inventory", "apply", str(path))
    assert_one_clean_error(result, code, line.format(file=path))
    assert dump_db(db_url) == before


def test_actor_from_the_environment_ending_in_newline_is_refused(
    loaded: Run, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBCTL_ACTOR", "tester\n")
    before = dump_db(db_url)
    result = loaded("divert", "start", "acme", "-r", "x")
    assert_one_clean_error(
        result, ExitCode.INVALID, "error: SCRUBCTL_ACTOR: 'tester\\n' is not a valid name"
    )
    assert dump_db(db_url) == before


def test_endless_inventory_is_read_only_up_to_the_limit(loaded: Run, db_url: str) -> None:
    before = dump_db(db_url)
    result = loaded("inventory", "apply", "/dev/zero")
    assert_one_clean_error(
        result, ExitCode.INVALID, "error: /dev/zero: inventory is larger than 4 MiB"
    )
    assert dump_db(db_url) == before


def test_rtbh_expiry_of_exactly_30_days_in_seconds(loaded: Run) -> None:
    result = loaded("rtbh", "add", "203.0.113.7", "-r", "x", "-e", "2592000s", "--force")
    assert result.exit_code == 0, result.output
    [entry] = as_json(loaded("rtbh", "list", "--json"))
    lifetime = datetime.fromisoformat(entry["expires_at"]) - datetime.fromisoformat(
        entry["created_at"]
    )
    assert lifetime.total_seconds() == 2592000


@pytest.mark.parametrize("command", [["events"], ["report", "ttm"]])
def test_since_accepts_a_duration_longer_than_30_days(loaded: Run, command: list[str]) -> None:
    result = loaded(*command, "--since", "90d", "--json")
    assert result.exit_code == 0, result.output


def test_bad_busy_timeout_setting(loaded: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRUBCTL_BUSY_TIMEOUT", "soon")
    result = loaded("divert", "list")
    assert_one_clean_error(
        result,
        ExitCode.INVALID,
        "error: SCRUBCTL_BUSY_TIMEOUT: 'soon' is not a number of seconds between 0 and 3600",
    )


# --- usage errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["divert", "stop", "acme", "--reason", "r", "--id", "x"],
            "error: Invalid value for '--id': 'x' is not a valid int. "
            "(see 'scrubctl divert stop --help')",
        ),
        (
            ["rtbh", "add", "203.0.113.7", "--expires", "1h"],
            "error: Missing option '--reason' / '-r'. (see 'scrubctl rtbh add --help')",
        ),
        (["bogus"], "error: No such command 'bogus'. (see 'scrubctl --help')"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    loaded: Run, db_url: str, args: list[str], expected: str
) -> None:
    before = dump_db(db_url)
    result = loaded(*args)
    assert result.exit_code == ExitCode.INVALID
    assert result.stderr.strip() == expected
    assert dump_db(db_url) == before


def test_status_shows_each_return_paths_health(loaded: Run, db_url: str) -> None:
    from orchestrator.domain import Health
    from orchestrator.service.observed import PathReading, record_path_health

    db = Database(db_url)
    try:
        now = datetime.now(UTC)
        down = PathReading("acme", Health.DOWN, "3 probes lost", 1.0, None, now, True)
        record_path_health(db, "fra", [down], now)
    finally:
        db.dispose()
    body = as_json(loaded("status", "--json"))
    assert body["customers"]["acme"]["paths"] == {"fra": "down", "ams": "unknown"}
    assert body["customers"]["pharmanet"]["paths"] == {"fra": "unknown", "ams": "unknown"}
    table = loaded("status")
    assert "ams:unknown fra:down" in table.stdout


def test_plan_table_lists_the_customers_without_path_health(loaded: Run) -> None:
    result = loaded("plan")
    assert result.exit_code == 0, result.output
    assert "Customers" in result.stdout and "return paths" not in result.stdout
