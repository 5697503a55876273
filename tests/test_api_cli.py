"""The API's command-line side: ``scrubctl token``, ``scrubctl serve`` (its refusals,
and a real server answering), ``scrubctl hook fastnetmon`` locally and via ``--api``
with FastNetMon's argument order and the attack details on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from db_support import dump_db
from serve_support import SCRUBCTL, running_service
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app

INVENTORY = Path(__file__).parent / "data" / "inventory.yml"
Run = Callable[..., Result]


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "scrub.db"
    monkeypatch.setenv("SCRUBCTL_DB", str(path))
    monkeypatch.setenv("SCRUBCTL_ACTOR", "tester")
    return f"sqlite:///{path}"


@pytest.fixture
def run(db_url: str) -> Run:
    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=stdin)

    assert invoke("inventory", "apply", str(INVENTORY)).exit_code == 0
    return invoke


def test_token_create_prints_the_secret_once(run: Run, db_url: str) -> None:
    created = run("token", "create", "fnm", "--role", "operator", "--expires", "30d")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("scrubctl_") and len(secret) > 40
    assert "shown only now" in created.stderr
    assert secret not in repr(dump_db(db_url))
    listed = run("token", "list", "--json")
    assert [(t["name"], t["role"], t["state"]) for t in json.loads(listed.stdout)] == [
        ("fnm", "operator", "active")
    ]
    assert secret not in listed.stdout
    assert run("token", "revoke", "fnm", "-r", "rotated").exit_code == 0
    assert json.loads(run("token", "list", "--json").stdout) == []
    assert json.loads(run("token", "list", "--all", "--json").stdout)[0]["state"] == "revoked"


def test_token_create_scoped_to_a_customer(run: Run) -> None:
    created = run("token", "create", "acme-noc", "--role", "viewer", "--customer", "acme")
    assert created.exit_code == 0, created.output
    assert "(viewer, acme only)" in created.stderr
    listed = json.loads(run("token", "list", "--json").stdout)
    assert [(t["name"], t["customer"]) for t in listed] == [("acme-noc", "acme")]


BAD = {
    "bad_role": (["token", "create", "x", "--role", "root"], 2,
                 "error: --role: 'root' is not a role (viewer, operator, admin)"),
    "bad_name": (["token", "create", "a b", "--role", "viewer"], 2,
                 "error: NAME: 'a b' is not a valid name"),
    "bad_expiry": (["token", "create", "x", "--role", "viewer", "--expires", "1y"], 2,
                   "error: --expires: '1y' is not a duration"),
    "scoped_operator": (["token", "create", "x", "--role", "operator", "--customer", "acme"], 2,
                        "error: --customer: only a viewer can be scoped to a customer, not "
                        "operator (use --role viewer)"),
    "scoped_unknown": (["token", "create", "x", "--role", "viewer", "--customer", "acne"], 3,
                       "error: --customer: unknown customer 'acne'"),
    "revoke_unknown": (["token", "revoke", "nobody"], 3,
                       "error: NAME: no token named 'nobody' is in force"),
    "serve_public_plain": (["serve", "--listen", "0.0.0.0:8180"], 2,
                           "error: --listen: 0.0.0.0 is not a loopback address: serving it "
                           "without TLS sends tokens in the clear (give --tls-cert and "
                           "--tls-key, or --insecure)"),
    "serve_bad_listen": (["serve", "--listen", "localhost"], 2,
                         "error: --listen: 'localhost' is not ADDR:PORT"),
    "serve_host_name": (["serve", "--listen", "example.net:80"], 2,
                        "error: --listen: 'example.net' is not an IP address (or localhost)"),
    "serve_cert_without_key": (["serve", "--tls-cert", "/etc/hostname"], 2,
                               "error: --tls-key: needs --tls-cert and --tls-key together"),
    "serve_unreadable_cert": (["serve", "--tls-cert", "/nonexistent", "--tls-key", "/x"], 2,
                              "error: --tls-cert: cannot read /nonexistent"),
    "serve_bad_hold_down": (["serve", "--hold-down", "2d"], 2,
                            "error: --hold-down: 2d must be more than 0 and at most 1d"),
    "hook_unowned": (["hook", "fastnetmon", "192.0.2.99", "incoming", "5", "ban"], 2,
                     "error: IP: 192.0.2.99 is not inside any customer's prefixes "
                     "(nothing was announced)"),
    "hook_bad_pps": (["hook", "fastnetmon", "203.0.113.10", "incoming", "many", "ban"], 2,
                     "error: PPS: 'many' is not a number of packets per second"),
    "hook_bad_action": (["hook", "fastnetmon", "203.0.113.10", "incoming", "5", "block"], 2,
                        "error: ACTION: 'block' is not ban or unban"),
    "hook_unban_unknown": (["hook", "fastnetmon", "203.0.113.10", "incoming", "5", "unban"], 3,
                           "error: IP: no open detection for 203.0.113.10"),
    "hook_api_without_token": (["hook", "fastnetmon", "203.0.113.10", "incoming", "5", "ban",
                                "--api", "http://127.0.0.1:9"], 2,
                               "error: --api: SCRUBCTL_TOKEN is not set"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_command_is_one_line_and_changes_nothing(
    case: str, run: Run, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRUBCTL_TOKEN", raising=False)
    args, code, line = BAD[case]
    before = dump_db(db_url)
    result = run(*args, stdin="")
    assert result.exit_code == code, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr
    after = dump_db(db_url)
    if case == "hook_unowned":  # the refusal is audited, nothing else is written
        assert after["events"][:-1] == before["events"]
        assert after["events"][-1][3] == "detection.refused"
        after["events"] = before["events"]
    assert after == before


def test_hook_reads_the_details_on_ban_and_diverts_once(run: Run) -> None:
    details = "attack details\n" * 10_000  # more than a pipe holds: must be read to the end
    args = ["hook", "fastnetmon", "203.0.113.10", "incoming", "120000", "ban"]
    first = run(*args, stdin=details)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("acme's 203.0.113.0/24 diverted for 203.0.113.10")
    again = run(*args, stdin=details)
    assert again.stdout.strip() == "203.0.113.10 already diverted by diversion #1"
    rows = json.loads(run("divert", "list", "--json").stdout)
    assert [(r["targets"], r["requested_by"]) for r in rows] == [(["203.0.113.10"], "tester")]
    over = run("hook", "fastnetmon", "203.0.113.10", "incoming", "0", "unban")
    assert over.stdout.strip() == "diversion #1 for 203.0.113.10 stopped"


@pytest.fixture
def served(run: Run, db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real ``scrubctl serve`` on a free loopback port, and an operator's secret."""
    secret = run("token", "create", "fnm", "--role", "operator").stdout.strip()
    with running_service(db_url, tmp_path) as url:
        yield url, secret


def test_hook_via_the_api_of_a_running_service(served: tuple[str, str], run: Run) -> None:
    url, secret = served
    env = {**os.environ, "SCRUBCTL_TOKEN": secret, "SCRUBCTL_DB": "/nonexistent/never-used.db"}
    hook = [str(SCRUBCTL), "hook", "fastnetmon", "--api", url]
    banned = subprocess.run([*hook, "203.0.113.10", "incoming", "120000", "ban"], env=env,
                            input="details\n" * 50_000, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert banned.returncode == 0, banned.stderr
    assert "diversion #1 started" in banned.stdout
    refused = subprocess.run([*hook, "192.0.2.99", "incoming", "5", "ban"], env=env, input="",
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: address: 192.0.2.99 is not inside any customer's prefixes (nothing was announced)\n"
    )
    rows = json.loads(run("divert", "list", "--json").stdout)
    assert [(r["targets"], r["requested_by"]) for r in rows] == [(["203.0.113.10"], "fnm")]
    unbanned = subprocess.run([*hook, "203.0.113.10", "incoming", "0", "unban"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert unbanned.returncode == 0, unbanned.stderr
    assert json.loads(run("divert", "list", "--json").stdout) == []


@pytest.mark.parametrize("group", ["divert", "token", "hook", "serve", "status"])
def test_commands_do_not_import_the_web_stack(group: str) -> None:
    """Building any command (``serve`` too: it imports uvicorn only when it runs)
    leaves FastAPI, Starlette and uvicorn unimported: CLI start-up stays fast."""
    code = (
        "import sys; from orchestrator.cli.main import build_app; "
        f"build_app({group!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn', 'httpx')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "[]"
