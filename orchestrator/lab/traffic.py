"""Bounded test traffic inside the lab, and the nftables counters that see it.

- ``ensure_server``: the tiny HTTP server on ``server`` (port 8080, stops by
  itself after an hour; ``lab down`` stops it earlier);
- ``legit``: requests from ``client`` to the server, with a success count;
  ``start_legit``: the same as a stream that runs until stopped;
- ``start_attack`` / ``attack``: UDP from source port 123 with large payloads
  from ``attacker``, rate-limited and bounded in count and time;
- ``install_counters`` / ``read_counters``: ``lab/<node>/counters.nft`` (or its
  iptables-legacy twin, ``filters``) loaded into each node at ``lab up``;
  counters of every table in every node (the sites' ``scrub`` filter included).

Traffic only ever starts inside a lab namespace (``worker`` checks) and only
towards an address configured on a lab node (checked here).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.domain import parse_address
from orchestrator.errors import InvalidInput
from orchestrator.lab import filters
from orchestrator.lab.expect import wait_until
from orchestrator.lab.filters import Counters
from orchestrator.lab.rundir import RunDir
from orchestrator.lab.shell import (
    LabError,
    alive,
    in_netns,
    read_pidfile,
    require_namespaces,
    run,
)
from orchestrator.lab.topology import Topology

SERVER, CLIENT, ATTACKER = "server", "client", "attacker"
HTTP_PORT = 8080
ATTACK_PORT = 4444
ATTACK_SPORT = 123  # NTP: the shape of an amplification attack
SERVER_LIFETIME = 3600.0
LIMITS = {"count": 200_000, "rate": 50_000.0, "duration": 120.0, "size": 1472}


@dataclass(frozen=True)
class LegitResult:
    sent: int
    ok: int
    failed: int
    elapsed: float


@dataclass(frozen=True)
class AttackResult:
    sent: int
    errors: int
    elapsed: float


def _worker(topology: Topology, node: str, command: str, **options: object) -> list[str]:
    """``python -m orchestrator.lab.worker`` in ``node``'s namespace; options become
    ``--name value`` arguments."""
    namespace = topology.namespace(node)
    require_namespaces(topology.name, [namespace])
    argv = [sys.executable, "-m", "orchestrator.lab.worker", "--namespace", namespace, command]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return in_netns(namespace, argv)


def server_address(topology: Topology) -> ipaddress.IPv4Address:
    for address in topology.node(SERVER).addresses:
        if isinstance(address.value, ipaddress.IPv4Interface):
            return address.value.ip
    raise InvalidInput("the server node has no IPv4 address in its exec lines", where=SERVER)


def check_target(topology: Topology, target: str) -> str:
    """``target`` must be an address configured on a lab node."""
    try:
        address = parse_address(target)
    except ValueError as exc:
        raise InvalidInput(str(exc), where="--target") from None
    if topology.owner_of(address) is None:
        raise InvalidInput(
            f"{address} is not an address of any lab node", where="--target",
            hint="traffic never leaves the lab",
        )  # fmt: skip
    return str(address)


def _bounded(name: str, value: float, low: float) -> None:
    if not low <= value <= LIMITS[name]:
        raise InvalidInput(f"must be between {low:g} and {LIMITS[name]:g}", where=f"--{name}")


def ensure_server(topology: Topology) -> int:
    """Start the HTTP server on ``server`` unless it runs; return its pid."""
    require_namespaces(topology.name, [topology.namespace(SERVER)])
    pidfile = RunDir(topology.name).node(SERVER) / "http.pid"
    pid = read_pidfile(pidfile)
    if pid is not None and alive(pid):
        return pid
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    bind = str(server_address(topology))
    with open(pidfile.with_suffix(".log"), "ab") as log:
        process = subprocess.Popen(
            _worker(topology, SERVER, "serve", bind=bind, port=HTTP_PORT, lifetime=SERVER_LIFETIME),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    pidfile.write_text(f"{process.pid}\n")
    listening = ["ss", "-Hltn", f"sport = :{HTTP_PORT}"]
    wait_until(
        lambda: bool(run(in_netns(topology.namespace(SERVER), listening)).stdout.strip()),
        timeout=10, interval=0.05, what=f"HTTP server on {bind}:{HTTP_PORT}",
    )  # fmt: skip
    return process.pid


def legit(
    topology: Topology, *, count: int = 20, interval: float = 0.05, timeout: float = 1.0
) -> LegitResult:
    """``count`` HTTP requests from ``client`` to the server, one after the other."""
    _bounded("count", count, 1)
    ensure_server(topology)
    target = str(server_address(topology))
    budget = count * (interval + timeout) + 5
    done = run(
        _worker(
            topology,
            CLIENT,
            "get",
            target=target,
            port=HTTP_PORT,
            count=count,
            interval=interval,
            timeout=timeout,
            max_seconds=min(budget, LIMITS["duration"]),
        ),
        timeout=budget + 10,
    )
    data = json.loads(done.stdout)
    return LegitResult(int(data["sent"]), int(data["ok"]), int(data["failed"]), data["elapsed"])


def _figures(process: subprocess.Popen[str], limit: float, what: str,
             overrun: str) -> dict[str, Any]:  # fmt: skip
    """A worker's JSON figures once it has ended; killed (LabError) if it is still
    running ``limit`` + 15 s later, LabError if it failed."""
    try:
        out, err = process.communicate(timeout=limit + 15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise LabError(f"the {what} {overrun}") from None
    if process.returncode != 0:
        raise LabError(f"{what} failed: {err.strip() or process.returncode}")
    figures: dict[str, Any] = json.loads(out)
    return figures


class LegitStream:
    """Requests running until ``stop()`` (or their count or time limit): what a move
    is measured with. ``stop`` ends the stream after the request in flight."""

    def __init__(self, process: subprocess.Popen[str], limit: float) -> None:
        self.process = process
        self.limit = limit
        self._result: LegitResult | None = None

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> LegitResult:
        """Stop the stream (again: the same result) and return its figures."""
        if self._result is None:
            self._result = self._stop()
        return self._result

    def _stop(self) -> LegitResult:
        if self.process.poll() is None:
            self.process.terminate()
        data = _figures(self.process, self.limit, "request stream", "did not stop")
        return LegitResult(int(data["sent"]), int(data["ok"]), int(data["failed"]),
                           data["elapsed"])  # fmt: skip


def start_legit(
    topology: Topology, *, interval: float = 0.05, timeout: float = 1.0, limit: float = 110.0
) -> LegitStream:
    """Requests from ``client`` to the server every ``interval`` until ``stop()``
    (at most ``limit`` seconds)."""
    _bounded("duration", limit, 1)
    ensure_server(topology)
    limit = min(limit, LIMITS["duration"])
    process = subprocess.Popen(
        _worker(topology, CLIENT, "get", target=str(server_address(topology)), port=HTTP_PORT,
                count=LIMITS["count"], interval=interval, timeout=timeout, max_seconds=limit),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return LegitStream(process, limit + timeout)


class AttackJob:
    """A running attack stream; ``wait()`` returns its result."""

    def __init__(self, process: subprocess.Popen[str], limit: float) -> None:
        self.process = process
        self.limit = limit

    def wait(self) -> AttackResult:
        data = _figures(self.process, self.limit, "attack stream", "did not stop by itself")
        return AttackResult(int(data["sent"]), int(data["errors"]), data["elapsed"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def start_attack(
    topology: Topology,
    *,
    count: int = 1000,
    rate: float = 500.0,
    size: int = 1200,
    duration: float = 30.0,
    target: str | None = None,
) -> AttackJob:
    """UDP from ``attacker`` port 123 to the server (or ``target``); stops by itself."""
    _bounded("count", count, 1)
    _bounded("rate", rate, 1)
    _bounded("size", size, 1)
    _bounded("duration", duration, 0.1)
    dest = check_target(topology, target) if target else str(server_address(topology))
    process = subprocess.Popen(
        _worker(
            topology,
            ATTACKER,
            "flood",
            target=dest,
            port=ATTACK_PORT,
            sport=ATTACK_SPORT,
            size=size,
            count=count,
            rate=rate,
            max_seconds=duration,
        ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return AttackJob(process, duration)


def attack(topology: Topology, **kwargs: Any) -> AttackResult:
    return start_attack(topology, **kwargs).wait()


# --- counters -------------------------------------------------------------------


def counters_file(topology: Topology, node: str) -> Path:
    return filters.counters_file(topology, node, filters.backend())


def install_counters(topology: Topology) -> list[str]:
    """Load ``lab/<node>/counters.nft`` (or its iptables-legacy twin) where present;
    return the nodes instrumented."""
    loaded = []
    chosen = filters.backend()
    for node in topology.nodes:
        path = filters.counters_file(topology, node, chosen)
        if path.exists():
            run(in_netns(topology.namespace(node), filters.load_argv(path, chosen)))
            loaded.append(node)
    return loaded


def read_counters(topology: Topology) -> Counters:
    """Every named counter in every node: node -> table -> counter -> values."""
    result: Counters = {}
    require_namespaces(topology.name, [topology.namespace(n) for n in topology.nodes])
    chosen = filters.backend()
    for node in topology.nodes:
        tables = filters.read_node(topology.namespace(node), chosen)
        if tables:
            result[node] = tables
    return result


def packets(counters: Counters, node: str, table: str, name: str) -> int:
    return counters.get(node, {}).get(table, {}).get(name, {}).get("packets", 0)
