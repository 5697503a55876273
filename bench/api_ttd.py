"""Time to divert through the HTTP API, beside the CLI's, in the bench lab.

    .venv/bin/python bench/api_ttd.py [--runs 20] [--cli script|module] [--lab bench]

``scrubctl serve`` runs on the host against the database the bench site's agent
uses (``scrubctl site run site`` in the site namespace), with an operator token
made through the service layer. Per API run: a fresh HTTP connection, ``POST
/api/v1/diversions {"customer": "ttd", ...}``; the clock starts just before the
request is sent (connect included). Watched in one ``select`` loop: the answer on
the socket and 198.18.0.0/24 arriving in the transit's kernel FIB (netlink events,
see ``benchlab.FibWatch``). From the database: when the service took the request
(``diversions.requested_at``) and ExaBGP's first ``done`` for the diversion
(``diversion_acks.first_acked_at``, written by the agent right after it). Then
``divert stop`` (service layer, not timed) and a wait until the route is gone.

The same number of CLI runs (``bench/ttd.py``: a fresh ``scrubctl divert start``
process each) go first, against the same site, for the figures side by side:
each run through ``bench/commit_probe.py`` (the CLI's entry point with a
SQLAlchemy ``after_commit`` listener), so launch -> commit is the CLI's start-up
plus its transaction.

Then, with the service still running, the same number of ``scrubctl divert start
--api URL`` runs (token in ``SCRUBCTL_TOKEN``): the CLI posts the request to the
service instead of opening the database. The service answers after its commit,
so launch -> the CLI's first output (the answer printed) bounds launch -> commit
from above.

Last, the floors under a CLI run on this machine: fresh interpreters (the venv's)
that only import what a command must: SQLAlchemy (every command on this machine's
database), and our ``divert`` group with typer and ``http.client`` (``divert
start --api``), ``--runs`` times each.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ modules
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the orchestrator package

import benchlab
import ttd
from benchlab import (
    BenchError,
    FibWatch,
    Stats,
    bench_site,
    ms,
    scrubctl_argv,
    table,
    wait_until,
)

from orchestrator.lab.handle import LabHandle
from orchestrator.service import diversions, tokens
from orchestrator.store.db import Database

PREFIX, CUSTOMER = ttd.PREFIX, ttd.CUSTOMER


@dataclass(frozen=True)
class ApiRun:
    total: float  # request sent -> FIB
    answered: float  # request sent -> HTTP answer readable
    to_request: float  # request sent -> the service took its timestamp (requested_at)
    to_ack: float  # request sent -> ExaBGP's first done (first_acked_at)
    ack_to_fib: float
    stop_to_gone: float


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(db: Database, cli: str, workdir: Path) -> Iterator[tuple[int, str]]:
    """``scrubctl serve`` on a free loopback port with an operator token; always stopped."""
    secret = tokens.create(db, "bench", tokens.Role.OPERATOR, expires=None, actor="bench",
                           now=datetime.now(UTC)).secret  # fmt: skip
    port = _free_port()
    argv = scrubctl_argv(cli, "serve", "--listen", f"127.0.0.1:{port}", "--db", db.url)
    with open(workdir / "serve.log", "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: _get(port, secret, "/api/v1/diversions") == 200,
                   "scrubctl serve to answer", 60, 0.1)  # fmt: skip
        yield port, secret
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(port: int, secret: str, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {secret}"})
        status = conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()
    return status


def one_api_run(db: Database, fib: FibWatch, port: int, secret: str) -> ApiRun:
    body = json.dumps({"customer": CUSTOMER, "reason": "bench: time to divert (API)"})
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    fib.drain()
    answered: list[float] = []
    sent_wall = time.time()
    sent = time.monotonic()
    try:
        conn.request("POST", "/api/v1/diversions", body=body, headers=headers)
        assert conn.sock is not None
        in_fib = fib.wait(PREFIX, True, timeout=30, also=[conn.sock],
                          on_ready=lambda _s: answered.append(time.monotonic()))  # fmt: skip
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    if not answered:
        answered.append(time.monotonic())
    if response.status != 201:
        raise BenchError(f"POST /api/v1/diversions answered {response.status}: {text}")
    requested, acked = ttd._latest(db)
    ack_wall = acked.timestamp() if acked else float("nan")
    stop_at = time.monotonic()
    diversions.stop(db, CUSTOMER, diversion_id=None, reason="bench: run over", actor="bench",
                    now=datetime.now(UTC))  # fmt: skip
    gone = fib.wait(PREFIX, False, timeout=30)
    fib_wall = sent_wall + (in_fib - sent)
    return ApiRun(
        total=in_fib - sent,
        answered=answered[0] - sent,
        to_request=requested.timestamp() - sent_wall,
        to_ack=ack_wall - sent_wall,
        ack_to_fib=fib_wall - ack_wall,
        stop_to_gone=gone - stop_at,
    )


def run(lab: LabHandle, runs: int, cli: str, say: Callable[[str], None] = print) -> str:
    with bench_site(lab, "api", cli, say) as bench:
        db, fib = bench.db, bench.fib
        ttd.start_site(bench)
        say(f"CLI: {runs} run(s) of {' '.join(scrubctl_argv(cli))} divert start")
        cli_runs = []
        for i in range(runs):
            cli_runs.append(ttd.one_run(db, fib, cli, probe=bench.workdir / "commits"))
            say(f"  run {i + 1:2d}: {ms(cli_runs[-1].total)} ms, "
                f"commit at {ms(cli_runs[-1].to_commit)} ms")  # fmt: skip
            time.sleep(0.2)
        with serve(db, cli, bench.workdir) as (port, secret):
            say(f"API: {runs} run(s) of POST /api/v1/diversions to 127.0.0.1:{port}")
            api_runs = []
            for i in range(runs):
                api_runs.append(one_api_run(db, fib, port, secret))
                say(f"  run {i + 1:2d}: {ms(api_runs[-1].total)} ms, "
                    f"ack at {ms(api_runs[-1].to_ack)} ms")  # fmt: skip
                time.sleep(0.2)
            url = f"http://127.0.0.1:{port}"
            say(f"CLI --api: {runs} run(s) of {' '.join(scrubctl_argv(cli))} divert start "
                f"--api {url}")  # fmt: skip
            remote_runs = []
            for i in range(runs):
                remote_runs.append(ttd.one_run(db, fib, cli, api=(url, secret)))
                say(f"  run {i + 1:2d}: {ms(remote_runs[-1].total)} ms, "
                    f"answer at {ms(remote_runs[-1].answered)} ms")  # fmt: skip
                time.sleep(0.2)
        say(f"floor: {runs} run(s) each of {', '.join(FLOORS)}")
        return report(cli_runs, api_runs, remote_runs, runs, floors(runs))


FLOORS = {  # what a running CLI command imports, one fresh interpreter a run
    "python -c pass": "pass",
    # every command on this machine's database (the store)
    "python -c 'import sqlalchemy'": "import sqlalchemy",
    # divert start --api: our CLI group, typer, and the HTTP client
    "python -c 'import orchestrator.cli.divert, http.client'": (
        "import orchestrator.cli.divert, http.client"),
}  # fmt: skip


def floors(runs: int) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in FLOORS}
    for _ in range(runs):
        for name, code in FLOORS.items():  # interleaved: load changes hit all alike
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def report(
    cli_runs: list[ttd.Run],
    api_runs: list[ApiRun],
    remote_runs: list[ttd.Run],
    runs: int,
    floor: dict[str, list[float]],
) -> str:
    def row(name: str, values: list[float]) -> tuple[str, str, str, str]:
        s = Stats(tuple(values))
        return (name, ms(s.median), ms(s.min), ms(s.max))

    rows = [
        row("CLI: launch -> FIB", [r.total for r in cli_runs]),
        row("  launch -> commit", [r.to_commit for r in cli_runs]),
        row("  launch -> CLI exit", [r.cli for r in cli_runs]),
        row("  request -> agent ack recorded", [r.to_ack for r in cli_runs]),
        row("API: request sent -> FIB", [r.total for r in api_runs]),
        row("  request sent -> service call", [r.to_request for r in api_runs]),
        row("  request sent -> HTTP answer", [r.answered for r in api_runs]),
        row("  request sent -> ExaBGP ack", [r.to_ack for r in api_runs]),
        row("  ExaBGP ack -> FIB", [r.ack_to_fib for r in api_runs]),
        row("API: divert stop -> out of FIB", [r.stop_to_gone for r in api_runs]),
        row("CLI --api: launch -> FIB", [r.total for r in remote_runs]),
        row("  launch -> answer (after commit)", [r.answered for r in remote_runs]),
        row("  launch -> CLI exit", [r.cli for r in remote_runs]),
        *(row(f"floor: {name}", values) for name, values in floor.items()),
    ]
    api = Stats(tuple(r.total for r in api_runs))
    ack = Stats(tuple(r.to_ack for r in api_runs))
    commit = Stats(tuple(r.to_commit for r in cli_runs))
    remote = Stats(tuple(r.answered for r in remote_runs))

    def verdict(value: float, limit: float) -> str:
        return f"{'met' if value < limit else 'NOT met'} (median {ms(value)} ms)"

    return "\n".join([
        f"Time to divert, CLI and API, {runs} runs each (ms)",
        table(("figure", "median", "min", "max"), rows),
        f"target: API request -> FIB median under 150 ms: {verdict(api.median, 0.150)}",
        f"target: API request -> ExaBGP ack median under 50 ms: {verdict(ack.median, 0.050)}",
        f"target: CLI launch -> commit median under 250 ms: {verdict(remote.median, 0.250)} "
        "with `divert start --api` (launch -> the service's answer, sent after its commit); "
        f"on this machine's database: {verdict(commit.median, 0.250)}",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/api_ttd.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20, help="runs per side (default 20)")
    p.add_argument("--cli", choices=("script", "module"), default="script")
    p.add_argument("--lab", default=benchlab.LAB_NAME, help="lab name (namespaces clab-LAB-*)")
    args = p.parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])
    print(f"command: {command}")
    print(f"machine: {benchlab.machine_note()}")
    try:
        with benchlab.bench_lab(args.lab) as lab:
            text = run(lab, args.runs, args.cli)
            # Printed before the lab is removed: the figures survive a failing teardown.
            print("=" * 72)
            print(f"command: {command}")
            print(f"machine after: {benchlab.machine_note()}")
            print("\n" + text, flush=True)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
