"""The end-to-end demo: the whole story of a diverted customer, in the real lab.

divert -> fra's return path fails (probes and the kernel notice, the
transits move to ams, clean traffic crosses the GRE tunnel) -> the line is
repaired (fra takes over again) -> a planned failover and failback -> every
return path fails (only the attacked host is blackholed, RTBH as the last
resort) -> the paths recover (RTBH withdrawn, scrubbing resumes) -> divert
stop. Every claim it prints is read from the routers (FRR's BGP table, the
kernel FIB), from packet counters or from requests really sent, never from
scrubctl's own view; a claim that does not hold stops the demo
(``DemoFailed``). A failure is made on the customer edge's side of a lab link
only (``ip link set ... down`` in ce): nothing at the sites is touched.

While a customer moves, a stream of HTTP requests runs from the client to the
attacked server (one after the other, 50 ms apart); a request is lost when it
has no answer within its timeout (3 s for planned moves, 1 s while a path
fails). The report at the end lists each step's time and the requests lost
per move. With ``dashboard`` (ADDR:PORT), ``scrubctl serve`` runs on the demo's
database from the start (``lab.demo_dashboard``), its address is printed, and
after the diversion the demo checks that the service reports acme protected.
The lab, the site runners and the service are always removed at the end
(unless ``keep``), even when a step fails.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from orchestrator.errors import ScrubError
from orchestrator.lab import traffic
from orchestrator.lab.demo_dashboard import DemoDashboard, start_dashboard
from orchestrator.lab.expect import ExpectTimeout, wait_until
from orchestrator.lab.routes import best_path, bgp_paths, fib
from orchestrator.lab.runner import LabRunner
from orchestrator.lab.shell import in_netns, run
from orchestrator.lab.sites import LabSites, scrubctl_argv

PREFIX = "203.0.113.0/24"
TARGET = "203.0.113.10"  # the attacked host: the server
CE_ADDRESS = "203.0.113.1"  # another address of acme's prefix (the customer edge's)
ROUTERS = {"transit1": ("192.0.2.134", "192.0.2.138", "192.0.2.150"),
           "transit2": ("192.0.2.142", "192.0.2.146", "192.0.2.154")}  # fra, ams, ce  # fmt: skip
SITE_OF = {
    address: site
    for fra, ams, ce in ROUTERS.values()
    for address, site in ((fra, "fra"), (ams, "ams"), (ce, "ce (direct)"))
}
FRA_LINE = "eth3"  # ce's side of fra's dedicated line
AMS_OUTER = "eth4"  # ce's side of the ams-ce link carrying the GRE tunnel's outer packets
STREAM_GAP = 0.05  # seconds between two requests of a stream
PLANNED_TIMEOUT = 3.0  # a request of a planned move is lost without an answer in 3 s
FAILURE_TIMEOUT = 1.0


class DemoFailed(ScrubError):
    pass


@dataclass(frozen=True)
class Move:
    """One move of the customer: how long until both transits' FIBs followed, and the
    stream of requests that ran across it."""

    name: str
    seconds: float
    sent: int
    lost: int
    timeout: float


@dataclass
class Demo:
    runner: LabRunner
    say: Callable[[str], None]
    workdir: Path
    dashboard_listen: str | None = None  # ADDR:PORT for ``scrubctl serve``, or none
    sites: LabSites | None = None
    dashboard: DemoDashboard | None = None
    steps: list[tuple[str, float]] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.workdir / 'demo.db'}"

    # --- reading the lab ----------------------------------------------------------

    def scrubctl(self, *args: str, show: bool = True) -> str:
        self.say(f"$ scrubctl {' '.join(args)}")
        done = subprocess.run([*scrubctl_argv(*args), "--db", self.db_url],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
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

    def expect(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> float:
        """Seconds until ``check`` holds; DemoFailed (with the sites' logs) if it never does."""
        started = time.monotonic()
        try:
            wait_until(check, timeout=timeout, interval=0.05, what=what)
        except ExpectTimeout as exc:
            if self.sites is not None:
                self.say(self.sites.log_tail("fra") + "\n---\n" + self.sites.log_tail("ams"))
            raise DemoFailed(str(exc)) from exc
        return time.monotonic() - started

    def forwarding(self, site: str) -> bool:
        index = {"fra": 0, "ams": 1, "ce": 2}[site]
        return all(fib(self.runner, r, PREFIX) == hops[index] for r, hops in ROUTERS.items())

    def wait_forwarding(self, site: str, timeout: float = 60.0) -> float:
        return self.expect(f"both transits forwarding {PREFIX} via {site}",
                           lambda: self.forwarding(site), timeout)  # fmt: skip

    def rtbh(self, router: str) -> tuple[str | None, list[str]]:
        """The attacked host's FIB entry at ``router`` and its BGP paths' communities."""
        host = f"{TARGET}/32"
        paths = bgp_paths(self.runner, router, host)
        return fib(self.runner, router, host), [p.communities for p in paths]

    def blackholed_only(self, router: str) -> bool:
        """The host blackholed at ``router`` and no scrubbing site announcing the prefix."""
        if self.rtbh(router)[0] != "blackhole":
            return False
        return not any(p.aspath.startswith("64500") for p in bgp_paths(self.runner, router, PREFIX))

    def rtbh_gone(self, router: str) -> bool:
        return self.rtbh(router) == (None, [])

    def customer_state(self) -> str:
        status = json.loads(self.scrubctl("status", "--json", show=False))
        return str(status["customers"]["acme"]["state"])

    def link(self, state: str, *names: str) -> None:
        for name in names:
            self.say(f"  [ce] ip link set {name} {state}")
            argv = in_netns(self.runner.namespace("ce"), ["ip", "link", "set", name, state])
            run(argv)

    def ping(self, address: str) -> bool:
        argv = ["ping", "-c", "3", "-i", "0.2", "-W", "1", address]
        done = run(in_netns(self.runner.namespace("client"), argv), check=False)
        return done.returncode == 0

    def traffic(self) -> dict[str, int]:
        """Requests and an attack burst; what the counters saw of them, by short name
        (``attack_at_server``, ``from_fra``, ``from_ams``, ``direct``); every request must
        be answered."""
        topo = self.runner.topology
        before = traffic.read_counters(topo)
        legit = traffic.legit(topo, count=20, interval=0.02)
        attack = traffic.attack(topo, count=500, rate=2000.0, size=1200)
        time.sleep(0.3)
        after = traffic.read_counters(topo)
        delta = {
            (node, table, name): traffic.packets(after, node, table, name)
            - traffic.packets(before, node, table, name)
            for node, table, name in (
                ("server", "lab", "attack_arrived"), ("ce", "lab", "from_fra"),
                ("ce", "lab", "from_ams"), ("ce", "lab", "from_transit"),
                ("fra", "scrub", "to_customer"), ("fra", "scrub", "attack_dropped"),
                ("ams", "scrub", "to_customer"), ("ams", "scrub", "attack_dropped"),
            )
        }  # fmt: skip
        self.say(f"  legitimate: {legit.ok}/{legit.sent} requests answered")
        self.say(f"  attack: {attack.sent} NTP-shaped packets sent; reached the server: "
                 f"{delta['server', 'lab', 'attack_arrived']}")  # fmt: skip
        self.say(f"  at acme's edge: {delta['ce', 'lab', 'from_fra']} packets over fra's "
                 f"dedicated line, {delta['ce', 'lab', 'from_ams']} through the GRE tunnel "
                 f"from ams, {delta['ce', 'lab', 'from_transit']} straight from the "
                 "transits")  # fmt: skip
        for site in ("fra", "ams"):
            self.say(f"  scrubbing site {site}: {delta[site, 'scrub', 'to_customer']} packets "
                     f"in, {delta[site, 'scrub', 'attack_dropped']} attack packets "
                     "dropped")  # fmt: skip
        if legit.ok != legit.sent:
            raise DemoFailed(f"{legit.sent - legit.ok} of {legit.sent} requests unanswered")
        return {
            "attack_at_server": delta["server", "lab", "attack_arrived"],
            "from_fra": delta["ce", "lab", "from_fra"],
            "from_ams": delta["ce", "lab", "from_ams"],
            "direct": delta["ce", "lab", "from_transit"],
        }

    def scrubbed_via(self, site: str) -> None:
        """Traffic now: the attack stopped at the sites, clean requests over ``site``'s path."""
        seen = self.traffic()
        if seen["attack_at_server"] or not seen[f"from_{site}"]:
            raise DemoFailed(f"expected the attack dropped and clean traffic over {site}'s "
                             f"return path; counters saw {seen}")  # fmt: skip

    # --- moves, with a stream of requests across them ------------------------------

    @contextmanager
    def move(self, name: str, site: str, *, timeout: float) -> Iterator[None]:
        """Requests stream while the body makes the move; both FIBs must then point at
        ``site``; the stream stops a second later; the move and its lost requests are
        recorded."""
        requests = traffic.start_legit(self.runner.topology, interval=STREAM_GAP,
                                       timeout=timeout)  # fmt: skip
        try:
            time.sleep(1.0)  # requests are flowing before anything moves
            started = time.monotonic()
            yield
            self.wait_forwarding(site)
            took = time.monotonic() - started
            time.sleep(1.0)  # and still flowing after it
            if not requests.running():
                raise DemoFailed(f"{name}: the request stream ended before the move did")
        finally:
            result = requests.stop()
        self.moves.append(Move(name, took, result.sent, result.failed, timeout))
        self.say(f"  both transits forward via {site} {took:.2f} s after the move began; "
                 f"requests: {result.sent} sent, {result.failed} lost "
                 f"(no answer within {timeout:g} s)")  # fmt: skip

    # --- the steps ---------------------------------------------------------------

    def step_up(self) -> None:
        self.say("== Lab up: real FRR transits and customer edge in namespaces")
        report = self.runner.up()
        self.say(f"  lab {report.lab} up and converged in {report.total_seconds:.1f} s")
        self.scrubctl("inventory", "apply", str(self.runner.topology.directory / "lab" /
                                                 "inventory.yml"))  # fmt: skip
        self.sites = LabSites(self.runner.topology, self.db_url, self.workdir)
        self.sites.start("fra")
        self.sites.start("ams")
        self.expect("ExaBGP sessions of fra and ams", self._sites_established, timeout=120)
        self.expect("both return paths up", lambda: self._paths_up("fra", "ams"), timeout=60)
        self.scrubctl("site", "list")
        traffic.ensure_server(self.runner.topology)
        if self.dashboard_listen:
            self.dashboard = start_dashboard(self.dashboard_listen, self.db_url, self.workdir,
                                             self.say)  # fmt: skip

    def _sites_established(self) -> bool:
        for router, (fra, ams, _ce) in ROUTERS.items():
            peers = self.runner.frr(router).vtysh_json("show bgp summary json")["ipv4Unicast"][
                "peers"
            ]
            if any(peers[a]["state"] != "Established" for a in (fra, ams)):
                return False
        return True

    def _paths_up(self, *sites: str) -> bool:
        rows = json.loads(self.scrubctl("paths", "--json", show=False))
        health = {(p["site"], p["customer"]): p["health"] for p in rows}
        return all(health.get((site, "acme")) == "up" for site in sites)

    def step_before(self) -> None:
        self.say("== Before: the internet reaches acme directly; so does the attack")
        self.routers()
        if not self.traffic()["attack_at_server"]:
            raise DemoFailed("the attack did not reach the server before the diversion")

    def step_divert(self) -> None:
        self.say(f"== Divert: the attack on {TARGET} is reported")
        started = time.monotonic()
        self.scrubctl("divert", "start", "acme", "--target", TARGET,
                      "--reason", f"NTP amplification towards {TARGET}")  # fmt: skip
        self.wait_forwarding("fra")
        self.say(f"  both transits forward via fra {time.monotonic() - started:.2f} s after "
                 "the command was typed")  # fmt: skip
        if self.dashboard is not None:
            state = self.dashboard.api("status")["customers"]["acme"]["state"]
            self.say(f"  the dashboard's service reports acme {state}")
            if state != "protected":
                raise DemoFailed(f"the dashboard's service reports acme {state}, not protected")
        self.scrubctl("plan")
        self.routers()
        self.scrubbed_via("fra")

    def step_line_fails(self) -> None:
        self.say("== fra's return path fails: its dedicated line to acme goes down")
        with self.move("fra's line fails -> ams (GRE)", "ams", timeout=FAILURE_TIMEOUT):
            self.link("down", FRA_LINE)
        self.scrubctl("paths", "--site", "fra")
        self.routers()
        self.say("  clean traffic now reaches acme through the GRE tunnel from ams:")
        self.scrubbed_via("ams")

    def step_line_repaired(self) -> None:
        self.say("== fra's line is repaired: fra takes over again once its probes answer")
        with self.move("fra's line repaired -> fra", "fra", timeout=FAILURE_TIMEOUT):
            self.link("up", FRA_LINE)
        self.scrubctl("paths", "--site", "fra")

    def step_planned(self) -> None:
        self.say("== Planned failover to ams and back (maintenance at fra): make-before-break")
        with self.move("planned failover fra -> ams", "ams", timeout=PLANNED_TIMEOUT):
            self.scrubctl("failover", "acme", "--from", "fra", "--to", "ams",
                          "--reason", "maintenance at fra", "--wait")  # fmt: skip
        with self.move("planned failback ams -> fra", "fra", timeout=PLANNED_TIMEOUT):
            self.scrubctl("failback", "acme", "--reason", "maintenance over", "--wait")
        for planned in self.moves[-2:]:
            if planned.lost:
                raise DemoFailed(f"{planned.name}: {planned.lost} requests lost")
        self.routers()

    def step_all_paths_fail(self) -> None:
        self.say("== Every return path fails: RTBH of the attacked host, as the last resort")
        started = time.monotonic()
        self.link("down", FRA_LINE, AMS_OUTER)
        for router in ROUTERS:
            self.expect(f"{router}: {TARGET}/32 blackholed, no scrubbing site announcing "
                        f"{PREFIX}", partial(self.blackholed_only, router))  # fmt: skip
            communities = self.rtbh(router)[1]
            if not all("65535:666" in c.split() or "blackhole" in c.split() for c in communities):
                raise DemoFailed(f"{router}: {TARGET}/32 without 65535:666: {communities}")
            self.say(f"  {router}: {TARGET}/32 -> blackhole, communities {communities}")
        self.wait_forwarding("ce")
        self.say(f"  blackhole at both transits {time.monotonic() - started:.2f} s after the "
                 "paths failed")  # fmt: skip
        self.routers()
        state = self.customer_state()
        self.say(f"  acme's state: {state}")
        if state != "last-resort":
            raise DemoFailed(f"acme is {state}, not last-resort")
        reachable, attacked = self.ping(CE_ADDRESS), self.ping(TARGET)
        self.say(f"  ping {CE_ADDRESS} (the rest of the prefix, over acme's own route): "
                 f"{'answers' if reachable else 'NO ANSWER'}; ping {TARGET} (blackholed): "
                 f"{'ANSWERS' if attacked else 'no answer'}")  # fmt: skip
        if not reachable or attacked:
            raise DemoFailed("RTBH did not cut exactly the attacked host")

    def step_paths_recover(self) -> None:
        self.say("== The paths recover: RTBH withdrawn, scrubbing resumes")
        started = time.monotonic()
        self.link("up", FRA_LINE, AMS_OUTER)
        for router in ROUTERS:
            self.expect(f"{router}: {TARGET}/32 withdrawn", partial(self.rtbh_gone, router))
        self.wait_forwarding("fra")
        self.say(f"  RTBH gone and both transits via fra {time.monotonic() - started:.2f} s "
                 "after the paths came back")  # fmt: skip
        self.say(f"  acme's state: {self.customer_state()}")
        self.routers()
        self.scrubbed_via("fra")

    def step_withdraw(self) -> None:
        self.say("== divert stop: the attack is over")
        started = time.monotonic()
        self.scrubctl("divert", "stop", "acme", "--reason", "attack over", "--wait")
        took = self.wait_forwarding("ce")
        self.say(f"  both transits use the customer's own route again "
                 f"{time.monotonic() - started:.2f} s after the command ({took:.2f} s after "
                 "its --wait returned)")  # fmt: skip
        self.routers()
        if not self.traffic()["direct"]:
            raise DemoFailed("clean traffic did not come straight from the transits")
        self.scrubctl("report", "ttm")

    def report(self) -> None:
        self.say("== Report")
        width = max(len(name) for name, _ in self.steps)
        for name, seconds in self.steps:
            self.say(f"  {name:<{width}}  {seconds:7.1f} s")
        self.say("  moves (both transits' FIB followed; requests lost / sent):")
        for m in self.moves:
            self.say(f"  {m.name:<32} {m.seconds:6.2f} s  lost {m.lost}/{m.sent} "
                     f"(timeout {m.timeout:g} s)")  # fmt: skip

    def teardown(self, keep: bool) -> None:
        if keep:
            self.say(f"lab, site runners and dashboard left running (--keep); database "
                     f"{self.db_url}")  # fmt: skip
            if self.dashboard is not None:
                self.say(f"dashboard: {self.dashboard.url}/ (operator token "
                         f"{self.dashboard.secret}): try a drain or a failover there")  # fmt: skip
            return
        if self.dashboard is not None:
            self.dashboard.stop()
        if self.sites is not None:
            self.sites.stop_all()
        self.runner.down()
        self.say("lab down: namespaces, daemons and site runners removed")


def run_demo(
    runner: LabRunner,
    say: Callable[[str], None],
    *,
    keep: bool = False,
    dashboard: str | None = None,
) -> list[Move]:
    """Run every step (DemoFailed at the first claim that does not hold); the moves made.
    ``dashboard``: ADDR:PORT for ``scrubctl serve`` during the demo."""
    demo = Demo(runner, say, Path(tempfile.mkdtemp(prefix="scrubctl-demo-")), dashboard)
    steps = (
        ("lab up", demo.step_up), ("before", demo.step_before), ("divert", demo.step_divert),
        ("fra's line fails", demo.step_line_fails),
        ("fra's line repaired", demo.step_line_repaired),
        ("planned failover and back", demo.step_planned),
        ("every path fails: RTBH", demo.step_all_paths_fail),
        ("paths recover", demo.step_paths_recover), ("divert stop", demo.step_withdraw),
    )  # fmt: skip
    try:
        for name, step in steps:
            started = time.monotonic()
            step()
            demo.steps.append((name, time.monotonic() - started))
        demo.report()
        say("demo complete: diverted, failed over and back, blackholed only as the last "
            "resort, recovered and withdrew, on real routers")  # fmt: skip
        return demo.moves
    finally:
        demo.teardown(keep)
