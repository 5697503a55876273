"""One lab build shared by the lab test modules, and the site runners they start.

Building the lab costs seconds on a host and most of a minute in the user-mode
Linux guest, so the modules that use the ``lab`` fixture share one build
(``SharedLab``). Each module still starts from the state ``lab up`` leaves:
before a module gets the lab, ``SharedLab.handle`` puts back what the previous
one may have changed and could not have undone itself (a process left in a site
node, a lab link left down, a site's return path changed by its runner) and
then compares the lab with what it was right after ``up`` (every node's links,
their addresses, every FRR node's running configuration); if anything still
differs (a module added addresses or FRR configuration of its own), the lab is
built again from scratch. Then every session between FRR nodes must be
Established again. The lab goes down when the next test does not need it (and
at the end of the session at the latest), so a module that builds labs of its
own never meets it; the lab lock is held while it is up.

``RunningSites`` is what three modules used to start by hand: a fresh database
with an inventory (``lab/inventory.yml``, or ``dedicated_inventory``'s variant of
it), ``scrubctl site run`` for fra and ams, both sessions Established at both
transits.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.errors import ScrubError
from orchestrator.lab import returns
from orchestrator.lab.expect import wait_until
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.runner import LabRunner
from orchestrator.lab.shell import LabError, namespace_pids, stop_pids
from orchestrator.lab.sites import LabSites, scrubctl_argv
from orchestrator.lab.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "containerlab.yml"
LAB_INVENTORY = ROOT / "lab" / "inventory.yml"
AMS_CE_REMOTE = "192.0.2.162"  # ce's address on the ams-ce link (the GRE tunnel's far end)
LOCK_WAIT = 900.0  # another test run may hold the lab that long
CONVERGE = 60.0  # seconds for the FRR sessions after a reset
# transit -> (fra's address there, ams's address there)
SITE_PEERS = {
    "transit1": ("192.0.2.134", "192.0.2.138"),
    "transit2": ("192.0.2.142", "192.0.2.146"),
}


def dedicated_inventory(directory: Path) -> Path:
    """``lab/inventory.yml`` with ams's return path to acme as a dedicated line over
    the ams-ce link (ams eth3 to ce's 192.0.2.162) instead of the GRE tunnel over it,
    written into ``directory``. For the modules that test the agent and the moves
    between sites, not the tunnel: they need no kernel GRE and run on the host; the
    tunnel is tested by ``test_gre_lab``, the demo and the kernel tests in the guest."""
    inventory = yaml.safe_load(LAB_INVENTORY.read_text())
    paths = inventory["customers"]["acme"]["return_paths"]
    gre = paths["ams"]
    assert gre["kind"] == "gre" and gre["remote"] == AMS_CE_REMOTE, gre
    paths["ams"] = {"kind": "dedicated", "interface": "eth3", "next_hop": AMS_CE_REMOTE,
                    "health": gre["health"]}  # fmt: skip
    path = directory / "inventory-dedicated.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def lab_topology(name: str | None = None) -> Topology:
    """containerlab.yml, named ``name`` or ``$SCRUBCTL_LAB_NAME`` if either is given."""
    topo = load_topology(TOPOLOGY)
    name = name or os.environ.get("SCRUBCTL_LAB_NAME")
    return topo.renamed(name) if name else topo


@dataclass(frozen=True)
class LabState:
    """What a module may change and must find as ``lab up`` left it."""

    links: tuple[tuple[str, str, bool, int, str], ...]  # node, link, up, mtu, kind
    addresses: tuple[tuple[str, str, str], ...]  # node, link, address/length (not link-local)
    frr: tuple[tuple[str, str], ...]  # node, running configuration

    def differences(self, other: LabState) -> list[str]:
        found = []
        for name in ("links", "addresses", "frr"):
            mine, theirs = set(getattr(self, name)), set(getattr(other, name))
            found += [f"{name}: gone {item[:3]}" for item in sorted(mine - theirs)]
            found += [f"{name}: new {item[:3]}" for item in sorted(theirs - mine)]
        return found


def lab_state(lab: LabHandle) -> LabState:
    links, addresses = [], []
    for node in sorted(lab.topology.nodes):
        shown = json.loads(lab.exec(node, "ip", "-d", "-j", "address", "show").stdout)
        for link in shown:
            kind = str(link.get("linkinfo", {}).get("info_kind", ""))
            up = "UP" in link.get("flags", [])
            links.append((node, str(link["ifname"]), up, int(link["mtu"]), kind))
            addresses += [
                (node, str(link["ifname"]), f"{a['local']}/{a['prefixlen']}")
                for a in link.get("addr_info", [])
                if a.get("scope") != "link"
            ]
    frr = [
        (name, lab.vtysh(name, "show running-config"))
        for name, node in sorted(lab.topology.nodes.items())
        if node.is_frr
    ]
    return LabState(tuple(links), tuple(addresses), tuple(frr))


class SharedLab:
    """The lab of ``topology``, built on first use and reset for every module."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._runner: LabRunner | None = None
        self._lab: LabHandle | None = None
        self._baseline: LabState | None = None
        self._stack = contextlib.ExitStack()
        self.builds = 0  # how often the lab was built (the tests' own check of the reuse)

    def handle(self) -> LabHandle:
        """The lab as ``lab up`` left it: reset, or built (again) when that fails."""
        if self._lab is not None:
            try:
                self._reset(self._lab)
                return self._lab
            except ScrubError as exc:  # a lab command, the return paths, convergence
                print(f"the shared lab could not be reset ({exc}); building it again")
                self.close()
        return self._build()

    def _build(self) -> LabHandle:
        runner = LabRunner(self.topology)
        self._stack.enter_context(runner.lock.hold(timeout=LOCK_WAIT))
        self._runner = runner
        try:
            report = runner.up()
            lab = LabHandle(runner, report)
            self._baseline = lab_state(lab)
        except BaseException:
            self.close()
            raise
        self._lab = lab
        self.builds += 1
        return lab

    def _reset(self, lab: LabHandle) -> None:
        assert self._baseline is not None
        for site in sorted(
            set(returns.lab_inventory(self.topology).sites) & set(lab.topology.nodes)
        ):
            stop_pids(namespace_pids(lab.ns(site)))  # a runner or ExaBGP left behind
        for link in lab.topology.links:
            for end in (link.a, link.b):
                lab.exec(end.node, "ip", "link", "set", end.interface, "up")
        returns.build_all(lab.topology)  # as `lab up` does: idempotent
        differences = self._baseline.differences(lab_state(lab))
        if differences:
            raise LabError("changed since lab up: " + "; ".join(differences[:5]))
        lab.runner.wait_converged(CONVERGE)

    def close(self) -> None:
        """Remove the lab (if it is up) and release the lock; always safe to call."""
        try:
            if self._runner is not None:
                self._runner.down()
        finally:
            self._runner = self._lab = self._baseline = None
            self._stack.close()


class RunningSites:
    """``scrubctl site run`` for fra and ams in ``lab``, on a database of their own."""

    def __init__(self, lab: LabHandle, workdir: Path) -> None:
        self.lab = lab
        self.workdir = workdir
        self.db_url = f"sqlite:///{workdir / 'lab.db'}"
        self.sites = LabSites(lab.topology, self.db_url, workdir)

    def scrubctl(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*scrubctl_argv(*args), "--db", self.db_url],
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    def sessions_up(self) -> bool:
        """fra's and ams's sessions are Established at both transits."""
        for transit, peers in SITE_PEERS.items():
            shown = self.lab.vtysh_json(transit, "show bgp summary json")["ipv4Unicast"]["peers"]
            if any(shown[a]["state"] != "Established" for a in peers):
                return False
        return True

    def expect(
        self, what: str, check: Callable[[], bool], timeout: float, interval: float = 0.2
    ) -> None:
        """``wait_until``; on a timeout the sites' logs are printed for the report."""
        try:
            wait_until(check, timeout=timeout, interval=interval, what=what)
        except Exception:
            print(self.sites.log_tail("fra"), self.sites.log_tail("ams"), sep="\n---\n")
            raise

    def start(self, inventory: Path, timeout: float) -> None:
        self.scrubctl("inventory", "apply", str(inventory))
        self.sites.start("fra")
        self.sites.start("ams")
        self.expect("ExaBGP sessions of fra and ams at both transits", self.sessions_up, timeout)

    def stop(self) -> None:
        try:
            self.sites.stop_all()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
