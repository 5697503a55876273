"""The end-to-end demo: divert, fail over, fall back, withdraw, in the real lab.

Every claim it prints is read from the routers (FRR's BGP table, the kernel
FIB) or from packet counters, never from scrubctl's own view. Steps run in
order; the lab and the site runners are always removed at the end (unless
``keep``), even when a step fails.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ScrubError
from orchestrator.lab import traffic
from orchestrator.lab.expect import wait_until
from orchestrator.lab.routes import best_path, fib
from orchestrator.lab.runner import LabRunner
from orchestrator.lab.sites import LabSites, scrubctl_argv

PREFIX = "203.0.113.0/24"
TARGET = "203.0.113.10"
ROUTERS = {"transit1": ("192.0.2.134", "192.0.2.138", "192.0.2.150"),
           "transit2": ("192.0.2.142", "192.0.2.146", "192.0.2.154")}  # fra, ams, ce  # fmt: skip
SITE_OF = {
    address: site
    for fra, ams, ce in ROUTERS.values()
    for address, site in ((fra, "fra"), (ams, "ams"), (ce, "ce (direct)"))
}


class DemoFailed(ScrubError):
    pass


@dataclass
class Demo:
    runner: LabRunner
    say: Callable[[str], None]
    workdir: Path
    sites: LabSites | None = None

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.workdir / 'demo.db'}"

    # --- helpers -----------------------------------------------------------------

    def scrubctl(self, *args: str, show: bool = True) -> str:
        self.say(f"$ scrubctl {' '.join(args)}")
        done = subprocess.run([*scrubctl_argv(*args), "--db", self.db_url],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        if done.returncode != 0:
            raise DemoFailed(f"scrubctl {' '.join(args)} failed: {done.stderr.strip()}")
        if show and done.stdout.strip():
            self.say(done.stdout.rstrip())
        return done.stdout

    def routers(self) -> None:
        for router in ROUTERS:
            best = best_path(self.runner, router, PREFIX)
            hop = fib(self.runner, router, PREFIX)
            path = f"path [{best.aspath}] {best.communities}".rstrip() if best else "no route"
            self.say(f"  {router}: best {path}; kernel forwards to {hop} "
                     f"({SITE_OF.get(hop or '', '?')})")  # fmt: skip

    def wait_forwarding(self, site: str, timeout: float = 45.0) -> float:
        index = {"fra": 0, "ams": 1, "ce": 2}[site]
        started = time.monotonic()
        for router, hops in ROUTERS.items():
            wait_until(
                self._forwards(router, hops[index]),
                timeout=timeout,
                interval=0.05,
                what=f"{router} forwarding via {site}",
            )
        return time.monotonic() - started

    def _forwards(self, router: str, hop: str) -> Callable[[], bool]:
        return lambda: fib(self.runner, router, PREFIX) == hop

    def traffic(self) -> None:
        topo = self.runner.topology
        before = traffic.read_counters(topo)
        legit = traffic.legit(topo, count=20, interval=0.02)
        attack = traffic.attack(topo, count=500, rate=2000.0, size=1200)
        time.sleep(0.3)
        after = traffic.read_counters(topo)

        def delta(node: str, table: str, name: str) -> int:
            return traffic.packets(after, node, table, name) - traffic.packets(
                before, node, table, name
            )

        self.say(f"  legitimate: {legit.ok}/{legit.sent} requests answered")
        self.say(f"  attack: {attack.sent} NTP-shaped packets sent; reached the server: "
                 f"{delta('server', 'lab', 'attack_arrived')}")  # fmt: skip
        fra, ams = delta("ce", "lab", "from_fra"), delta("ce", "lab", "from_ams")
        direct = delta("ce", "lab", "from_transit")
        self.say(f"  at acme's edge: {fra} packets over fra's dedicated line, {ams} through "
                 f"the GRE tunnel from ams, {direct} straight from the transits")  # fmt: skip
        for site in ("fra", "ams"):
            seen = delta(site, "scrub", "to_customer")
            dropped = delta(site, "scrub", "attack_dropped")
            self.say(
                f"  scrubbing site {site}: {seen} packets in, {dropped} attack packets dropped"
            )

    # --- the steps ---------------------------------------------------------------

    def step_up(self) -> None:
        self.say("== 1. Lab up: real FRR transits and customer edge in namespaces")
        report = self.runner.up()
        self.say(f"  lab {report.lab} up and converged in {report.total_seconds:.1f} s")
        self.scrubctl("inventory", "apply", str(self.runner.topology.directory / "lab" /
                                                 "inventory.yml"))  # fmt: skip
        self.sites = LabSites(self.runner.topology, self.db_url, self.workdir)
        self.sites.start("fra")
        self.sites.start("ams")
        wait_until(self._sites_established, timeout=45, interval=0.25,
                   what="ExaBGP sessions of fra and ams")  # fmt: skip
        self.scrubctl("site", "list")

    def _sites_established(self) -> bool:
        for router, (fra, ams, _ce) in ROUTERS.items():
            peers = self.runner.frr(router).vtysh_json("show bgp summary json")["ipv4Unicast"][
                "peers"
            ]
            if any(peers[a]["state"] != "Established" for a in (fra, ams)):
                return False
        return True

    def step_before(self) -> None:
        self.say("== 2. Before: the internet reaches acme directly; so does the attack")
        self.routers()
        self.traffic()

    def step_divert(self) -> None:
        self.say("== 3. Divert: the attack on 203.0.113.10 is reported")
        started = time.monotonic()
        self.scrubctl("divert", "start", "acme", "--target", TARGET,
                      "--reason", "NTP amplification towards 203.0.113.10")  # fmt: skip
        self.wait_forwarding("fra")
        self.say(f"  both transits forward via fra {time.monotonic() - started:.2f} s after "
                 "the command was typed")  # fmt: skip
        self.scrubctl("plan")
        self.routers()
        self.traffic()

    def step_failover(self) -> None:
        self.say("== 4. Fail over: site fra goes down (its ExaBGP stops)")
        assert self.sites is not None
        self.sites.stop("fra")
        took = self.wait_forwarding("ams")
        self.say(f"  both transits forward via ams (backup, prepended) after {took:.2f} s")
        self.routers()
        self.scrubctl("status")
        self.traffic()

    def step_fallback(self) -> None:
        self.say("== 5. Fall back: fra returns")
        assert self.sites is not None
        self.sites.start("fra")
        # fra's runner, ExaBGP and agent start again first: about 5 s on a host, 30-66 s
        # measured in the user-mode Linux guest on a busy host (transit1 accepted the
        # MD5 session within a second of ExaBGP's connect): wait long enough.
        took = self.wait_forwarding("fra", timeout=120.0)
        self.say(f"  both transits forward via fra again after {took:.2f} s")
        self.routers()

    def step_withdraw(self) -> None:
        self.say("== 6. Withdraw: the attack is over")
        self.scrubctl("divert", "stop", "acme", "--reason", "attack over")
        took = self.wait_forwarding("ce")
        self.say(f"  both transits use the customer's own route again after {took:.2f} s")
        self.routers()
        self.traffic()
        self.scrubctl("report", "ttm")
        self.scrubctl("events")

    def teardown(self, keep: bool) -> None:
        if keep:
            self.say(f"lab left up (--keep); database {self.db_url}; stop with `scrubctl lab "
                     "down` after stopping the site runners")  # fmt: skip
            return
        if self.sites is not None:
            self.sites.stop_all()
        self.runner.down()
        self.say("lab down: namespaces, daemons and site runners removed")


def run_demo(runner: LabRunner, say: Callable[[str], None], *, keep: bool = False) -> None:
    demo = Demo(runner, say, Path(tempfile.mkdtemp(prefix="scrubctl-demo-")))
    steps = (demo.step_up, demo.step_before, demo.step_divert, demo.step_failover,
             demo.step_fallback, demo.step_withdraw)  # fmt: skip
    try:
        for step in steps:
            step()
        say("demo complete: diverted, failed over, fell back and withdrew on real routers")
    finally:
        demo.teardown(keep)
