"""The API's command-line side: ``scrubctl token``, ``scrubctl serve`` (its refusals,
and a real server answering), ``scrubctl hook fastnetmon`` locally and via ``--api``
with FastNetMon's argument order and the attack details on stdin."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from db_support import dump_db
from serve_support import SCRUBCTL, free_port, running_service
from test_cli import ALL_PEERS, sessions_up
from test_cli_imports import loaded_modules
from typer.testing import CliRunner, Result

from orchestrator.cli import remote
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
    "hook_api_with_db": (["hook", "fastnetmon", "203.0.113.10", "incoming", "5", "ban",
                          "--api", "http://127.0.0.1:9", "--db", "/tmp/other.db"], 2,
                         "error: --db: not with --api"),
    "hook_api_without_token": (["hook", "fastnetmon", "203.0.113.10", "incoming", "5", "ban",
                                "--api", "http://127.0.0.1:9"], 2,
                               "error: --api: SCRUBCTL_TOKEN is not set"),
    "divert_api_without_token": (["divert", "start", "acme", "-r", "x", "--api",
                                  "http://127.0.0.1:9"], 2,
                                 "error: --api: SCRUBCTL_TOKEN is not set"),
    "divert_api_with_db": (["divert", "start", "acme", "-r", "x", "--api", "http://127.0.0.1:9",
                            "--db", "/tmp/other.db"], 2,
                           "error: --db: not with --api (the service uses its own database)"),
    "divert_api_with_actor": (["divert", "stop", "acme", "-r", "x", "--api", "http://127.0.0.1:9",
                               "--actor", "bob"], 2,
                              "error: --actor: not with --api (the token's name is the actor)"),
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
        "error: IP: 192.0.2.99 is not inside any customer's prefixes (nothing was announced)\n"
    )
    rows = json.loads(run("divert", "list", "--json").stdout)
    assert [(r["targets"], r["requested_by"]) for r in rows] == [(["203.0.113.10"], "fnm")]
    unbanned = subprocess.run([*hook, "203.0.113.10", "incoming", "0", "unban"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert unbanned.returncode == 0, unbanned.stderr
    assert json.loads(run("divert", "list", "--json").stdout) == []


def _remote(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRUBCTL), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.fixture
def remote_env(served: tuple[str, str]) -> dict[str, str]:
    """``--api`` from SCRUBCTL_API; a database path that must never be opened."""
    url, secret = served
    return {**os.environ, "SCRUBCTL_API": url, "SCRUBCTL_TOKEN": secret,
            "SCRUBCTL_DB": "/nonexistent/never-used.db"}  # fmt: skip


def test_divert_via_the_api_answers_as_the_local_command(
    remote_env: dict[str, str], run: Run
) -> None:
    started = _remote(remote_env, "divert", "start", "acme", "-r", "attack", "--json")
    assert started.returncode == 0, started.stderr
    remote = json.loads(started.stdout)
    assert (remote["created"], remote["customer"], remote["requested_by"]) == (True, "acme", "fnm")
    assert remote["wait"] is None
    local = json.loads(run("divert", "start", "acme", "-r", "attack", "--json").stdout)
    assert local["created"] is False  # the same request: the diversion the API started
    assert sorted(local) == sorted(remote)
    assert {k: v for k, v in local.items() if k not in ("created", "note")} == {
        k: v for k, v in remote.items() if k not in ("created", "note")
    }
    again = _remote(remote_env, "divert", "start", "acme", "-r", "attack")
    assert (again.returncode, again.stdout) == (0, local["note"] + "\n")
    stopped = _remote(remote_env, "divert", "stop", "acme", "-r", "over")
    assert (stopped.returncode, stopped.stdout, stopped.stderr) == (0, "stopped #1\n", "")
    assert json.loads(run("divert", "list", "--json").stdout) == []
    events = json.loads(run("events", "--json").stdout)
    assert [e["action"] for e in events if e["actor"] == "fnm"] == ["divert.start", "divert.stop"]


SEQUENCE = [  # every change command that takes --api, in an order each one can run
    ["divert", "start", "acme", "-r", "flood", "-t", "203.0.113.10"],
    ["site", "drain", "fra", "-r", "maintenance", "--force"],
    ["site", "undrain", "fra", "-r", "done"],
    ["failover", "acme", "--from", "fra", "--to", "ams", "-r", "upstream trouble", "--force"],
    ["failback", "acme", "-r", "fixed"],
    ["rtbh", "add", "203.0.113.7", "-r", "last resort", "--expires", "2h", "--force"],
    ["rtbh", "remove", "203.0.113.7", "-r", "over"],
    ["divert", "stop", "acme", "-r", "over"],
]
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


def _same_but_times(text: str) -> str:
    return _TIME.sub("TIME", text).replace('"fnm"', '"ACTOR"').replace('"tester"', '"ACTOR"')


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_each_change_via_the_api_prints_what_the_local_command_prints(
    as_json: bool, remote_env: dict[str, str], run: Run, db_url: str, tmp_path: Path
) -> None:
    """The same commands, one by one, on the service's database through --api and on a
    twin database locally: the same output (times and the actor aside) and exit code."""
    twin = f"sqlite:///{tmp_path / 'twin.db'}"
    assert run("inventory", "apply", str(INVENTORY), "--db", twin).exit_code == 0
    for url in (db_url, twin):
        sessions_up(url, *ALL_PEERS)
    for args in SEQUENCE:
        args = [*args, *(["--json"] if as_json else [])]
        local = run(*args, "--db", twin)
        assert local.exit_code == 0, (args, local.output)
        remote = _remote(remote_env, *args)
        assert (remote.returncode, remote.stderr) == (0, ""), (args, remote.stderr)
        assert _same_but_times(remote.stdout) == _same_but_times(local.stdout), args
    events = json.loads(run("events", "--json", "--limit", "100").stdout)
    people = [e["actor"] for e in events if e["actor"] != "agent"]  # sessions_up: bgp.up
    assert people[:2] == ["tester", "tester"]  # inventory.apply, token.create
    assert people[2:] == ["fnm"] * len(SEQUENCE)


REMOTE_BAD = {
    "unknown_customer": ["divert", "start", "nope", "-r", "x"],
    "prefix_outside": ["divert", "start", "acme", "-r", "x", "-p", "10.0.0.0/8"],
    "too_long": ["divert", "start", "acme", "-r", "x", "-p", "203.0.113.0/25"],
    "empty_reason": ["divert", "start", "acme", "-r", " "],
    "unknown_site": ["divert", "start", "acme", "-r", "x", "-s", "nowhere"],
    "nothing_to_stop": ["divert", "stop", "acme", "-r", "x"],
    "unknown_id": ["divert", "stop", "acme", "-r", "x", "--id", "99"],
    "drain_unknown_site": ["site", "drain", "nowhere", "-r", "x"],
    "drain_no_reason": ["site", "drain", "fra", "-r", ""],
    "failover_unknown_site": ["failover", "acme", "--from", "nowhere", "-r", "x"],
    "failover_to_itself": ["failover", "acme", "--from", "fra", "--to", "fra", "-r", "x"],
    "failback_without_move": ["failback", "acme", "-r", "x"],
    "rtbh_bad_host": ["rtbh", "add", "not-an-ip", "-r", "x", "--expires", "2h"],
    "rtbh_bad_expiry": ["rtbh", "add", "203.0.113.7", "-r", "x", "--expires", "forever"],
    "rtbh_too_long": ["rtbh", "add", "203.0.113.7", "-r", "x", "--expires", "31d"],
    "rtbh_not_ours": ["rtbh", "add", "192.0.2.99", "-r", "x", "--expires", "2h", "--force"],
    "rtbh_remove_none": ["rtbh", "remove", "203.0.113.7", "-r", "x"],
    "site_with_slash": ["site", "drain", "fra/../x", "-r", "x"],
}


def test_a_refusal_via_the_api_is_the_local_line_and_changes_nothing(
    remote_env: dict[str, str], run: Run, db_url: str
) -> None:
    """Every case against one service (each leaves the database as it was, which is
    checked): a service process per case would cost the suite a minute here."""
    for case, args in sorted(REMOTE_BAD.items()):
        local = run(*args)
        assert local.exit_code not in (0, 1), (case, local.output)  # a refusal, not a crash
        before = dump_db(db_url)
        remote = _remote(remote_env, *args)
        assert (remote.returncode, remote.stdout, remote.stderr) == (
            local.exit_code, "", local.stderr), case  # fmt: skip
        assert dump_db(db_url) == before, case


def test_a_change_no_site_acknowledges_is_committed_and_exits_7(
    remote_env: dict[str, str], run: Run, db_url: str
) -> None:
    sessions_up(db_url, *ALL_PEERS)  # the sites would announce: the change affects them
    late = _remote(remote_env, "divert", "start", "acme", "-r", "x", "--wait", "--timeout", "0.5")
    assert late.returncode == 7, late.stderr
    assert late.stdout.startswith("diversion #1 started")
    assert re.fullmatch(r"error: --wait: (\S+, )*\S+ did not acknowledge change \d+ within 0.5 s "
                        r"\(the change is committed; the site agents apply it when they can\)\n",
                        late.stderr), late.stderr  # fmt: skip
    assert [r["id"] for r in json.loads(run("divert", "list", "--json").stdout)] == [1]


def test_the_api_refuses_a_viewer_and_an_unreachable_service_is_one_line(
    remote_env: dict[str, str], run: Run, db_url: str
) -> None:
    viewer = run("token", "create", "eyes", "--role", "viewer").stdout.strip()
    before = dump_db(db_url)
    refused = _remote(
        {**remote_env, "SCRUBCTL_TOKEN": viewer}, "divert", "start", "acme", "-r", "x"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    assert "operator" in refused.stderr, refused.stderr
    wrong = _remote({**remote_env, "SCRUBCTL_TOKEN": "scrubctl_not-a-token"},
                    "divert", "stop", "acme", "-r", "x")  # fmt: skip
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1, wrong.stderr
    closed = f"http://127.0.0.1:{free_port()}"
    away = _remote({**remote_env, "SCRUBCTL_API": closed}, "divert", "start", "acme", "-r", "x")
    assert away.returncode == 1
    assert away.stderr.startswith(f"error: --api: cannot reach {closed}/api/v1/diversions: ")
    assert away.stderr.count("\n") == 1
    not_url = _remote(remote_env, "divert", "start", "acme", "-r", "x", "--api", "ftp://x")
    assert (not_url.returncode, not_url.stderr) == (
        2,
        "error: --api: 'ftp://x' is not an http:// or https:// URL\n",
    )
    assert dump_db(db_url) == before


def test_divert_via_the_api_loads_neither_the_store_nor_pydantic(
    remote_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes it fast: the service has the store loaded; the CLI needs none of it."""
    for name in ("SCRUBCTL_API", "SCRUBCTL_TOKEN", "SCRUBCTL_DB"):
        monkeypatch.setenv(name, remote_env[name])
    code, modules = loaded_modules(tmp_path, ["divert", "start", "acme", "-r", "import budget"])
    assert code == 0  # with SCRUBCTL_DB nowhere: only the service can have done it
    assert sorted(m for m in modules if m.split(".")[0] in ("sqlalchemy", "pydantic", "rich")) == []
    assert sorted(m for m in modules if m.startswith("orchestrator.service")) == []


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


def test_a_service_that_takes_the_request_and_never_answers_is_one_line(
    run: Run, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent but unanswered: the change may have been made, and the line says so."""
    monkeypatch.setattr(remote, "TIMEOUT_S", 0.5)
    monkeypatch.setenv("SCRUBCTL_TOKEN", "scrubctl_whatever")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts; nobody ever answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        before = dump_db(db_url)
        result = run("divert", "start", "acme", "-r", "x", "--api", url)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --api: no answer from {url}/api/v1/diversions: timed out (the service may "
        "have made the change: look before sending it again)\n"
    )
    assert dump_db(db_url) == before


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ({"wait": False, "timeout": 100.0}, 0.0),
        ({"wait": True, "timeout": None}, 30.0),
        ({"wait": True, "timeout": 120.0}, 120.0),
        ({"wait": True, "timeout": float("nan")}, 30.0),
        ({"wait": True, "timeout": 1e308}, 30.0),
        ({"wait": True, "timeout": -1.0}, 30.0),
    ],
)
def test_the_answer_is_awaited_as_long_as_the_service_may_wait(
    body: dict[str, object], seconds: float
) -> None:
    assert remote._waits(body) == seconds
