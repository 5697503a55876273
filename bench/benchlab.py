"""Shared pieces of the benchmarks: the bench lab, FRR's vty socket, a netlink
FIB watcher inside a lab namespace, the raw ExaBGP baseline, statistics and tables.

Nothing here sends traffic; every namespace used is one this lab created
(``clab-<lab>-transit``, ``clab-<lab>-site``) and ``BenchLab`` always removes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shlex
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.drivers.exabgp.config import render_env
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.runner import LabRunner, missing_prerequisites
from orchestrator.lab.shell import in_netns
from orchestrator.lab.topology import load_topology

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TOPOLOGY = BENCH / "containerlab.yml"
INVENTORY = BENCH / "inventory.yml"
LAB_NAME = "bench"

TRANSIT = "transit"
SITE = "site"  # lab node and inventory site
TRANSIT_ADDRESS = "192.0.2.1"  # the transit, as the site agent's ExaBGP sees it
AGENT_ADDRESS = "192.0.2.2"  # scrubctl's ExaBGP (site run) at the transit
RAW_TRANSIT_ADDRESS = "192.0.2.5"
RAW_ADDRESS = "192.0.2.6"  # the raw ExaBGP baseline at the transit
TRANSIT_ASN = 64501
SITE_ASN = 64500


class BenchError(RuntimeError):
    pass


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, interval: float = 0.01
) -> float:
    """Poll ``check`` until true; return the monotonic time it first was."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- the lab ------------------------------------------------------------------


@contextlib.contextmanager
def bench_lab(name: str = LAB_NAME, log: Callable[[str], None] = print) -> Iterator[LabHandle]:
    """Build bench/containerlab.yml as namespaces ``clab-<name>-*``; always remove them."""
    reason = missing_prerequisites()
    if reason:
        raise BenchError(reason)
    topology = load_topology(TOPOLOGY)
    if name != topology.name:
        topology = topology.renamed(name)
    runner = LabRunner(topology)
    try:
        report = runner.up()
        log(f"lab {name}: up in {report.total_seconds:.2f} s")
        yield LabHandle(runner, report)
    finally:
        down = runner.down()
        log(
            f"lab {name}: removed {len(down.namespaces)} namespace(s), {down.processes} process(es)"
        )


# --- FRR through its vty socket (no vtysh process per query) ----------------------


class Vty:
    """A client of one FRR daemon's vty socket: send ``COMMAND\\0``, read the output up
    to the ``\\0\\0\\0<status>`` trailer. ~0.1 ms a query instead of ~20 ms for vtysh."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))

    def command(self, command: str) -> str:
        self.sock.sendall(command.encode() + b"\0")
        buf = bytearray()
        while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise BenchError("FRR closed the vty socket")
            buf += chunk
        if buf[-1] != 0:
            raise BenchError(f"FRR refused {command!r}: {buf[:-4].decode(errors='replace')}")
        return buf[:-4].decode(errors="replace")

    def json(self, command: str) -> Any:
        text = self.command(command)
        return json.loads(text) if text.strip() else {}

    def close(self) -> None:
        self.sock.close()


class Transit:
    """The bench transit's BGP view: sessions and received-prefix counts."""

    def __init__(self, lab: LabHandle) -> None:
        self.vty = Vty(lab.runner.frr(TRANSIT).vty_socket("bgpd"))

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = self.vty.json("show bgp summary json").get("ipv4Unicast", {})
        return data

    def peer(self, address: str) -> dict[str, Any]:
        peer: dict[str, Any] = self.summary().get("peers", {}).get(address, {})
        return peer

    def established(self, address: str) -> bool:
        return self.peer(address).get("state") == "Established"

    def received(self, address: str) -> int:
        return int(self.peer(address).get("pfxRcd", 0))

    def rib_count(self) -> int:
        return int(self.summary().get("ribCount", 0))

    def close(self) -> None:
        self.vty.close()


# --- the kernel FIB, watched through netlink -----------------------------------

_CLONE_NEWNET = 0x40000000
_RTMGRP_IPV4_ROUTE = 0x40
_RTM_NEWROUTE, _RTM_DELROUTE, _RTM_GETROUTE = 24, 25, 26
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_RTA_DST, _RTA_TABLE = 1, 15
_NLMSG = struct.Struct("=LHHLL")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")
_MAIN_TABLE = 254


def _netlink_in_netns(namespace: str) -> socket.socket:
    """A NETLINK_ROUTE socket living in ``namespace`` (created by a short-lived thread
    that joins it: a network namespace is per thread, the socket keeps its own)."""
    libc = ctypes.CDLL(None, use_errno=True)
    made: list[socket.socket] = []
    failed: list[str] = []

    def create() -> None:
        fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                failed.append(os.strerror(ctypes.get_errno()))
                return
            made.append(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE))
        finally:
            os.close(fd)

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    if not made:
        raise BenchError(f"cannot open netlink in {namespace}: {failed}")
    return made[0]


def _routes(data: bytes) -> Iterator[tuple[int, str, bool]]:
    """(message type, 'a.b.c.d/len', in main table) for each IPv4 route message."""
    offset = 0
    while offset + _NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
        if length < _NLMSG.size:
            break
        if kind in (_RTM_NEWROUTE, _RTM_DELROUTE):
            body = offset + _NLMSG.size
            family, dst_len, _s, _t, table, *_rest = _RTMSG.unpack_from(data, body)
            dst, attr = "0.0.0.0", body + _RTMSG.size
            end = offset + length
            while attr + _RTATTR.size <= end:
                alen, atype = _RTATTR.unpack_from(data, attr)
                if alen < _RTATTR.size:
                    break
                value = data[attr + _RTATTR.size : attr + alen]
                if atype == _RTA_DST and len(value) == 4:
                    dst = socket.inet_ntoa(value)
                elif atype == _RTA_TABLE and len(value) == 4:
                    table = struct.unpack("=I", value)[0]
                attr += (alen + 3) & ~3
            if family == socket.AF_INET:
                yield kind, f"{dst}/{dst_len}", table == _MAIN_TABLE
        offset += (length + 3) & ~3


class FibWatch:
    """Route events from one namespace's kernel (RTMGRP_IPV4_ROUTE): no polling, the
    timestamp is when the kernel announced the change. A full dump answers "is it
    there now" (start state, and the fallback if events were lost)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.events = _netlink_in_netns(namespace)
        self.events.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.events.bind((0, _RTMGRP_IPV4_ROUTE))
        self.dumper = _netlink_in_netns(namespace)
        self.seq = 0

    def table(self) -> set[str]:
        """IPv4 prefixes in the main table now."""
        self.seq += 1
        rtmsg = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        header = _NLMSG.pack(
            _NLMSG.size + len(rtmsg), _RTM_GETROUTE, _NLM_F_REQUEST | _NLM_F_DUMP, self.seq, 0
        )
        self.dumper.send(header + rtmsg)
        found: set[str] = set()
        while True:
            data = self.dumper.recv(1 << 20)
            for kind, prefix, main in _routes(data):
                if kind == _RTM_NEWROUTE and main:
                    found.add(prefix)
            kinds = _message_kinds(data)
            if _NLMSG_DONE in kinds or _NLMSG_ERROR in kinds:
                return found

    def drain(self) -> None:
        """Forget queued events (call just before the action being timed)."""
        while select.select([self.events], [], [], 0)[0]:
            with contextlib.suppress(OSError):  # ENOBUFS: lost events, nothing to keep
                self.events.recv(1 << 20)

    def wait(
        self,
        prefix: str,
        present: bool,
        timeout: float,
        also: Sequence[Any] = (),
        on_ready: Callable[[Any], None] | None = None,
        recheck: float = 0.05,
    ) -> float:
        """Block until ``prefix`` is (``present``) or is not in the main table; return
        the monotonic time it happened. ``also``: more file descriptors to watch (e.g.
        a child's pidfd), passed to ``on_ready`` when they become readable."""
        deadline = time.monotonic() + timeout
        want = _RTM_NEWROUTE if present else _RTM_DELROUTE
        watched = [self.events, *also]
        next_check = time.monotonic() + recheck
        while True:
            now = time.monotonic()
            if now > deadline:
                state = "in" if present else "out of"
                raise BenchError(
                    f"{prefix} not {state} the FIB of {self.namespace} after {timeout:.0f} s"
                )
            ready = select.select(watched, [], [], max(0.0, min(deadline, next_check) - now))[0]
            stamp = time.monotonic()
            for item in ready:
                if item is not self.events:
                    if on_ready is not None:
                        on_ready(item)
                    watched.remove(item)
                    continue
                try:
                    data = self.events.recv(1 << 20)
                except OSError:  # ENOBUFS: fall back to a dump right away
                    next_check = 0.0
                    continue
                for kind, seen, main in _routes(data):
                    if main and seen == prefix and kind == want:
                        return stamp
            if time.monotonic() >= next_check:  # safety net: lost or missed events
                if (prefix in self.table()) == present:
                    return time.monotonic()
                next_check = time.monotonic() + recheck

    def close(self) -> None:
        self.events.close()
        self.dumper.close()


def _message_kinds(data: bytes) -> set[int]:
    kinds, offset = set(), 0
    while offset + _NLMSG.size <= len(data):
        length, kind, *_ = _NLMSG.unpack_from(data, offset)
        kinds.add(kind)
        if length < _NLMSG.size:
            break
        offset += (length + 3) & ~3
    return kinds


# --- the raw ExaBGP baseline ------------------------------------------------------


def raw_config(api_argv: Sequence[str]) -> str:
    """The baseline's ExaBGP config: the same neighbor settings scrubctl renders
    (templates/exabgp/site.conf.j2), our API script instead of the agent."""
    return f"""process raw-api {{
    run {shlex.join(api_argv)};
    encoder json;
}}

neighbor {RAW_TRANSIT_ADDRESS} {{
    description "transit";
    router-id {RAW_ADDRESS};
    local-address {RAW_ADDRESS};
    local-as {SITE_ASN};
    peer-as {TRANSIT_ASN};
    adj-rib-out true;
    group-updates true;

    family {{
        ipv4 unicast;
    }}

    api {{
        processes [ raw-api ];
        neighbor-changes;
    }}
}}
"""


class RawExaBgp:
    """ExaBGP in the site node with ``bench/raw_api.py`` as its API process. The script
    waits for a line on a FIFO, then sends the commands in ``commands`` (one per line),
    each after the previous one's ``done``, and writes its timings to ``result``."""

    def __init__(self, lab: LabHandle, workdir: Path, commands: Sequence[str]) -> None:
        self.lab = lab
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.commands = self.dir / "commands.txt"
        self.commands.write_text("".join(f"{c}\n" for c in commands))
        self.fifo = self.dir / "go"
        self.result = self.dir / "result.json"
        for path in (self.fifo, self.result):
            path.unlink(missing_ok=True)
        os.mkfifo(self.fifo, 0o600)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        api = [
            sys.executable,
            str(BENCH / "raw_api.py"),
            "--fifo",
            str(self.fifo),
            "--commands",
            str(self.commands),
            "--result",
            str(self.result),
        ]
        conf, env = self.dir / "exabgp.conf", self.dir / "exabgp.env"
        conf.write_text(raw_config(api))
        env.write_text(render_env("raw-baseline"))  # the settings scrubctl's sites use
        exabgp = str(Path(sys.executable).with_name("exabgp"))
        environment = dict(os.environ, EXABGP_ENVFILE=str(env))
        with open(self.dir / "exabgp.log", "ab") as log:
            self.process = subprocess.Popen(
                in_netns(self.lab.ns(SITE), [exabgp, "server", str(conf)]),
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def go(self) -> float:
        """Release the API script; return the monotonic time of the release."""
        fd = os.open(self.fifo, os.O_WRONLY)  # blocks until the script has it open
        try:
            started = time.monotonic()
            os.write(fd, b"go\n")
        finally:
            os.close(fd)
        return started

    def timings(self, timeout: float = 120.0) -> dict[str, Any]:
        wait_until(self.result.exists, "the raw API script's result", timeout, 0.05)
        data: dict[str, Any] = json.loads(self.result.read_text())
        return data

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# --- figures --------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def min(self) -> float:
        return min(self.values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def machine_note() -> str:
    load = os.getloadavg()
    cpus = os.cpu_count()
    model = ""
    with contextlib.suppress(OSError):
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                model = text.split(":", 1)[1].strip()
                break
    return f"{cpus} CPU(s) {model}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


# --- scrubctl's side ------------------------------------------------------------


def scrubctl_argv(cli: str, *args: str) -> list[str]:
    """The CLI as an operator runs it: ``script`` is .venv/bin/scrubctl (the console
    entry point), ``module`` is ``python -m orchestrator``."""
    if cli == "script":
        return [str(Path(sys.executable).with_name("scrubctl")), *args]
    return [sys.executable, "-m", "orchestrator", *args]


def session_recorded(db: Any, site: str = SITE, peer: str = TRANSIT) -> bool:
    """The site agent has recorded its session as established (the planner needs it)."""
    from orchestrator.service.snapshot import load_observed

    with db.read() as session:
        return bool(load_observed(session).sessions.get((site, peer), False))


def as_utc(value: Any) -> Any:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass
class BenchSite:
    """What both benchmarks run against: a database with bench/inventory.yml, the
    site's runner (not started), the transit's vty and its FIB watch."""

    workdir: Path
    db: Any
    sites: Any
    transit: Transit
    fib: FibWatch


@contextlib.contextmanager
def bench_site(
    lab: LabHandle, prefix: str, cli: str, log: Callable[[str], None]
) -> Iterator[BenchSite]:
    """Set up a fresh database and the site in ``lab``; always tear it all down."""
    import tempfile

    from orchestrator.lab.sites import LabSites
    from orchestrator.store.db import Database

    workdir = Path(tempfile.mkdtemp(prefix=f"scrubctl-bench-{prefix}-"))
    db = Database(f"sqlite:///{workdir / 'bench.db'}")
    sites = LabSites(lab.topology, db.url, workdir)
    transit = Transit(lab)
    fib = FibWatch(lab.ns(TRANSIT))
    try:
        subprocess.run(
            scrubctl_argv(cli, "inventory", "apply", str(INVENTORY), "--db", db.url),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield BenchSite(workdir, db, sites, transit, fib)
    except BaseException:
        log(sites.log_tail(SITE))
        raise
    finally:
        fib.close()
        transit.close()
        sites.stop_all()
        db.dispose()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
