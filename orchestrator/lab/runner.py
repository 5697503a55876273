"""Build ``containerlab.yml`` into network namespaces, and remove it again.

``up`` is a flat list of named steps (``UP_STEPS``); if one fails, everything
already built is removed before the error is raised. ``down`` removes exactly
what ``up`` creates: the namespaces ``clab-<lab>-<node>`` (with their veths),
every process running inside them (FRR daemons, the traffic server, anything a
test started there) and the run directory ``/run/scrubctl-lab/<lab>/``.
Namespaces and processes outside the lab are never touched.

Kernel differences: on a kernel without GRE (``gre=False``; default: detected)
the exec lines that create or name a GRE tunnel are skipped and listed in the
report, so the rest of the lab runs and the missing tunnel is visible (the
whole lab with its tunnel runs in a user-mode Linux guest: ``lab.guest``).
Where nftables lacks the ip family, ``nft -f X.nft`` lines load X's
iptables-legacy twin (``lab.filters``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import InvalidInput
from orchestrator.lab import filters, frr, returns, traffic
from orchestrator.lab.expect import wait_for
from orchestrator.lab.rundir import BASE, LabLock, RunDir
from orchestrator.lab.shell import (
    LabError,
    in_netns,
    namespace_inode,
    namespace_pids,
    namespaces,
    process_netns_inode,
    read_pidfile,
    run,
    stop_pids,
)
from orchestrator.lab.topology import Topology
from orchestrator.lab.uml import kernel_has_gre

FRR_CRASH_DIR = Path("/var/tmp/frr")


@dataclass
class UpReport:
    lab: str
    cleaned: list[str] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    sessions: int = 0
    skipped: list[str] = field(default_factory=list)  # "node: line" not run (no GRE)
    paths: list[returns.SitePaths] = field(default_factory=list)
    build_seconds: float = 0.0
    converge_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return self.build_seconds + self.converge_seconds


@dataclass
class DownReport:
    lab: str
    namespaces: list[str] = field(default_factory=list)
    processes: int = 0


def missing_prerequisites(*, need_frr: bool = True) -> str | None:
    """Why the lab cannot be built on this machine, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, veths, FRR)"
    for tool in ("ip", "nft", "sysctl", "ss", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/bootstrap.sh installs it)"
    if need_frr and not frr.installed():
        return "FRR is not installed: /usr/lib/frr/bgpd, vtysh (scripts/bootstrap.sh installs it)"
    return None


class LabRunner:
    def __init__(
        self,
        topology: Topology,
        *,
        base: Path = BASE,
        lock: LabLock | None = None,
        log: Callable[[str], None] | None = None,
        gre: bool | None = None,
    ) -> None:
        self.topology = topology
        self.gre = gre
        self.rundir = RunDir(topology.name, base)
        self.lock = lock or LabLock(base)
        self.log = log or (lambda _msg: None)

    # --- queries ------------------------------------------------------------------

    def namespace(self, node: str) -> str:
        return self.topology.namespace(node)

    def frr(self, node: str) -> frr.Frr:
        return frr.Frr(self.namespace(node), self.rundir.node(node), hostname=node)

    def existing_namespaces(self) -> list[str]:
        mine = {self.namespace(n) for n in self.topology.nodes} | set(self._recorded())
        return sorted(mine & namespaces())

    def is_up(self) -> bool:
        return bool(self.existing_namespaces())

    def _recorded(self) -> list[str]:
        try:
            state = json.loads((self.rundir.root / "lab.json").read_text())
        except (OSError, ValueError):
            return []
        return [str(ns) for ns in state.get("namespaces", [])]

    # --- up -------------------------------------------------------------------------

    def up(self, *, converge_timeout: float = 60.0) -> UpReport:
        report = UpReport(self.topology.name)
        self._check_prerequisites()  # before anything is built or locked
        with self.lock.hold():
            start = time.monotonic()
            for name, step in self.up_steps(report, converge_timeout):
                began = time.monotonic()
                try:
                    step()
                except BaseException:
                    self.log(f"step {name!r} failed; removing what was built")
                    self._down()
                    raise
                report.steps[name] = time.monotonic() - began
            report.build_seconds = time.monotonic() - start - report.steps["converge"]
            report.converge_seconds = report.steps["converge"]
        return report

    def up_steps(
        self, report: UpReport, converge_timeout: float
    ) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("clean", lambda: report.cleaned.extend(self._down().namespaces)),
            ("namespaces", self._create_namespaces),
            ("links", self._create_links),
            ("exec", lambda: self._run_exec(report, vtysh=False)),
            ("return-paths", lambda: self._build_return_paths(report)),
            ("frr", self._start_frr),
            ("exec-vtysh", lambda: self._run_exec(report, vtysh=True)),
            ("counters", self._install_counters),
            ("converge", lambda: self._converge(report, converge_timeout)),
        ]

    def _check_prerequisites(self) -> None:
        need_frr = any(n.is_frr for n in self.topology.nodes.values())
        missing = missing_prerequisites(need_frr=need_frr)
        if missing:
            raise LabError(missing)

    def _create_namespaces(self) -> None:
        self.rundir.root.mkdir(parents=True, exist_ok=True)
        created: list[str] = []
        for node in self.topology.nodes:
            ns = self.namespace(node)
            run(["ip", "netns", "add", ns])
            created.append(ns)
            self._record(created)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def _record(self, created: list[str]) -> None:
        state = {"topology": str(self.topology.path), "namespaces": created}
        (self.rundir.root / "lab.json").write_text(json.dumps(state, indent=2) + "\n")

    def _create_links(self) -> None:
        for link in self.topology.links:
            a, b = link.a, link.b
            ns_a, ns_b = self.namespace(a.node), self.namespace(b.node)
            run(["ip", "link", "add", a.interface, "netns", ns_a, "type", "veth",
                 "peer", "name", b.interface, "netns", ns_b])  # fmt: skip
            run(["ip", "-n", ns_a, "link", "set", a.interface, "up"])
            run(["ip", "-n", ns_b, "link", "set", b.interface, "up"])

    def has_gre(self) -> bool:
        if self.gre is None:
            self.gre = kernel_has_gre()
        return self.gre

    def _run_exec(self, report: UpReport, *, vtysh: bool) -> None:
        """The nodes' exec lines, bind targets replaced by their sources. vtysh
        lines run after FRR has started (as in containerlab), pointed at the node's
        vty sockets; every other line runs before."""
        backend = filters.backend()
        for node in self.topology.nodes.values():
            env = dict(os.environ, **dict(node.env))
            for i, argv in enumerate(node.exec):
                if (argv[0] == "vtysh") != vtysh:
                    continue
                if not self.has_gre() and node.needs_gre(argv):
                    report.skipped.append(f"{node.name}: {' '.join(argv)}")
                    self.log(f"{node.name}: skipped (this kernel has no GRE): {' '.join(argv)}")
                    continue
                line = list(filters.exec_line(node.translate(argv), backend))
                if vtysh:
                    line = [*self.frr(node.name).vtysh_argv(), *line[1:]]
                try:
                    run(in_netns(self.namespace(node.name), line), env=env)
                except LabError as exc:
                    raise InvalidInput(
                        str(exc), where=f"topology.nodes.{node.name}.exec[{i}]"
                    ) from None

    def _build_return_paths(self, report: UpReport) -> None:
        """The sites' return paths before any site runs: see ``lab.returns``."""
        if not returns.inventory_path(self.topology).is_file():
            return
        report.paths = returns.build_all(self.topology)
        for site in report.paths:
            for text in (*site.built, *(f"DOWN {d}" for d in site.down), *site.warnings):
                self.log(f"{site.site}: return path {text}")

    def _install_counters(self) -> None:
        nodes = traffic.install_counters(self.topology)
        self.log(f"nftables counters loaded in {', '.join(nodes) or 'no node'}")

    def _start_frr(self) -> None:
        for node in self.topology.nodes.values():
            if node.frr_config is None:
                continue
            daemons = node.frr_daemons
            router = self.frr(node.name)
            router.prepare()
            router.start(daemons)
            router.configure(node.frr_config)
            self.log(f"{node.name}: FRR {', '.join(daemons)} started and configured")

    def _router_json(self, router: str, command: str) -> Any:
        return self.frr(router).vtysh_json(command)

    def _converge(self, report: UpReport, timeout: float) -> None:
        report.sessions = self.wait_converged(timeout)

    def wait_converged(self, timeout: float) -> int:
        """Wait until every session between two FRR nodes is Established and every
        prefix an FRR node originates (``network``) is in every FRR node's table."""
        sessions: dict[str, dict[str, dict[str, str]]] = {}
        for router, neighbor, _peer in self.topology.expected_sessions():
            sessions.setdefault(router, {})[str(neighbor.address)] = {"state": "Established"}
        routers = [n for n in self.topology.nodes.values() if n.is_frr]
        originated = {p: [{"valid": True}] for n in routers for p in n.bgp_networks}
        deadline = time.monotonic() + timeout
        checks: list[tuple[str, str, Any]]
        checks = [(r, "show bgp summary json", {"ipv4Unicast": {"peers": p}})
                  for r, p in sessions.items()]  # fmt: skip
        checks += [(n.name, "show bgp ipv4 unicast json", {"routes": originated})
                   for n in routers]  # fmt: skip
        for router, command, expected in checks:
            wait_for(
                functools.partial(self._router_json, router, command),
                expected,
                timeout=max(0.0, deadline - time.monotonic()),
                what=f"{router}: {command}",
            )
        return sum(len(p) for p in sessions.values())

    # --- down -----------------------------------------------------------------------

    def down(self) -> DownReport:
        with self.lock.hold():
            return self._down()

    def _down(self) -> DownReport:
        report = DownReport(self.topology.name, namespaces=self.existing_namespaces())
        inodes = {i for ns in report.namespaces if (i := namespace_inode(ns)) is not None}
        daemons = self._daemon_pids(inodes)
        inside = {p for ns in report.namespaces for p in namespace_pids(ns)}
        pids = sorted(set(daemons) | inside)
        stop_pids(pids)
        report.processes = len(pids)
        for pid, name in daemons.items():  # FRR leaves these behind when killed hard
            shutil.rmtree(FRR_CRASH_DIR / f"{name}.{pid}", ignore_errors=True)
        for ns in report.namespaces:
            run(["ip", "netns", "delete", ns])
        shutil.rmtree(self.rundir.root, ignore_errors=True)
        return report

    def _daemon_pids(self, inodes: set[int]) -> dict[int, str]:
        """pid -> daemon for pidfiles in the run dir whose process sits in one of our
        namespaces (a stale pidfile naming someone else's process is ignored)."""
        found: dict[int, str] = {}
        if not self.rundir.root.is_dir():
            return found
        for pidfile in self.rundir.root.glob("*/*.pid"):
            pid = read_pidfile(pidfile)
            if pid is not None and process_netns_inode(pid) in inodes:
                found[pid] = pidfile.stem
        return found
