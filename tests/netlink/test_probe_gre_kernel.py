"""The real ICMP prober and return-path loop over GRE and ip6gre (run inside user-mode Linux here).

The tunnels are the ones of ``gre_support`` (site built by our netlink driver,
customer edge by iproute2). What is shown, for a keyed ``gre`` and an
``ip6gre`` path:

- the probes are answered with an RTT, and they cross the tunnel: the packet
  counters of both ends of the tunnel grow by at least the number of probes,
  although the site's main table has a more specific route for the target
  over the underlay (only ``SO_BINDTODEVICE`` keeps the probe in the tunnel);
- with the far end of the tunnel gone and the target answering over the
  underlay (an unbound ping with the probes' mark gets its answer), every probe
  is still lost: a probe cannot leak past a broken tunnel;
- ``ReturnPathLoop`` (real kernel, real prober, a SQLite store) records the
  path up, down after ``threshold`` losses once the far end is deleted, and up
  after ``rise`` answers once it is rebuilt, as ``scrubctl paths`` and
  ``scrubctl events`` read them.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ip_json, sh
from gre_support import GRE4, GRE6, PEER4, PEER6, PEER_LINK, Lab, addr, build_lab, inventory, pings

from orchestrator.domain import Health
from orchestrator.drivers.netlink.marks import PROBE_MARK, tunnel_name
from orchestrator.drivers.netlink.pyroute import PyrouteKernel
from orchestrator.drivers.probe import IcmpProber, Outcome, ProbeTarget
from orchestrator.service import inventory as inventory_service
from orchestrator.service import observed
from orchestrator.service.paths import PathView, list_paths
from orchestrator.service.status import events
from orchestrator.site.returnpaths import ReturnPathLoop
from orchestrator.store.db import Database
from orchestrator.store.models import utcnow

pytestmark = pytest.mark.uml

TUNNEL = tunnel_name("acme")  # scr-acme
TIMEOUT = 1.0  # seconds a direct probe may take (the loop's own: its interval)
PROBES = 5
HEALTH = {"interval": 0.1, "threshold": 3, "rise": 2}
PHASE = 20.0  # seconds the loop gets for each transition: a bound against hanging only


@dataclass(frozen=True)
class Case:
    path: dict[str, Any]  # the site's return path in the inventory
    peer: list[str]  # the customer edge's tunnel (ip link add ... ARGS)
    peer_address: str  # its address on the tunnel, with the prefix length
    underlay: str  # the customer edge's address on the link under the tunnel

    @property
    def target(self) -> str:  # the probes' default target: the tunnel's inner_remote
        return str(self.path["inner_remote"])

    @property
    def host(self) -> str:  # the target as a host route
        return f"{self.target}/{ipaddress.ip_address(self.target).max_prefixlen}"


CASES = [
    pytest.param(Case(GRE4, PEER4, "192.0.2.162/30", "198.18.0.2"), id="gre-keyed"),
    pytest.param(Case(GRE6, PEER6, "2001:db8:ff00::2/64", "2001:db8:f::2"), id="ip6gre"),
]


@pytest.fixture
def lab(netns: Callable[[str], str]) -> Lab:
    return build_lab(netns)


def packets(ns: str, dev: str) -> tuple[int, int]:
    """(received, sent) packets of ``dev`` in ``ns``."""
    [link] = ip_json(ns, "-s", "link", "show", "dev", dev)
    return link["stats64"]["rx"]["packets"], link["stats64"]["tx"]["packets"]


def tunnel_packets(lab: Lab) -> tuple[int, int, int, int]:
    """The site's tunnel received, sent; the customer edge's received, sent."""
    return *packets(lab.site, TUNNEL), *packets(lab.ce, PEER_LINK)


def route_target_over_underlay(lab: Lab, case: Case) -> None:
    """The site's main table: the target is reached over ``wan0``, not the tunnel."""
    sh("ip", "-n", lab.site, "route", "add", case.host, "via", case.underlay, "dev", "wan0")


def probe(prober: IcmpProber, count: int) -> list[Outcome]:
    """``count`` probes of acme one after the other: each answered or lost before the next."""
    outcomes: list[Outcome] = []
    for _ in range(count):
        prober.send("acme")
        deadline = time.monotonic() + TIMEOUT
        got: list[Outcome] = []
        while not got:
            got = prober.collect(max(0.0, deadline - time.monotonic()))
        outcomes += got
    return outcomes


def open_prober(lab: Lab, case: Case) -> IcmpProber:
    prober = IcmpProber(netns=lab.site)
    target = ipaddress.ip_address(case.target)
    prober.configure([ProbeTarget("acme", TUNNEL, target, timeout=TIMEOUT)])
    return prober


@pytest.mark.parametrize("case", CASES)
def test_probes_are_answered_through_the_tunnel(lab: Lab, case: Case) -> None:
    lab.apply(inventory(case.path))
    lab.peer(case.peer, case.peer_address)
    route_target_over_underlay(lab, case)  # an unbound probe would leave by wan0
    prober = open_prober(lab, case)
    try:
        before = tunnel_packets(lab)
        outcomes = probe(prober, PROBES)
        after = tunnel_packets(lab)
    finally:
        prober.close()
    assert [o.ok for o in outcomes] == [True] * PROBES, outcomes
    assert all(o.rtt_ms is not None and 0 < o.rtt_ms < TIMEOUT * 1000 for o in outcomes)
    grown = [b - a for a, b in zip(before, after, strict=True)]
    assert min(grown) >= PROBES, f"site rx, tx; ce rx, tx grew by {grown}"


@pytest.mark.parametrize("case", CASES)
def test_a_probe_does_not_leak_past_a_broken_tunnel(lab: Lab, case: Case) -> None:
    lab.apply(inventory(case.path))
    lab.peer(case.peer, case.peer_address)
    prober = open_prober(lab, case)
    try:
        assert [o.ok for o in probe(prober, 1)] == [True]  # the tunnel works
        sh("ip", "-n", lab.ce, "link", "del", PEER_LINK)  # its far end is gone
        addr(lab.ce, "lo", case.host)  # the target answers over the underlay instead
        route_target_over_underlay(lab, case)
        assert pings(lab.site, case.target, "-m", str(PROBE_MARK))  # unbound: answered
        outcomes = probe(prober, PROBES)
    finally:
        prober.close()
    assert [o.ok for o in outcomes] == [False] * PROBES, outcomes


class Tally:
    """The real prober, passed through, handing the loop one outcome per ``collect``.

    So ``seen`` (the outcomes delivered, in order) is exactly what the loop had
    handled when the store shows a transition: the test can tell after which
    loss or answer it happened. The outcomes themselves are the prober's.
    """

    def __init__(self, prober: IcmpProber) -> None:
        self.prober = prober
        self.sent = 0
        self.seen: list[Outcome] = []
        self.queue: list[Outcome] = []  # from the prober, not yet handed over

    def configure(self, targets: Sequence[ProbeTarget]) -> None:
        self.prober.configure(targets)
        self.queue.clear()
        self.sent = len(self.seen)  # probes in flight are forgotten

    def send(self, key: str) -> None:
        self.sent += 1
        self.prober.send(key)

    def collect(self, wait: float) -> list[Outcome]:
        if not self.queue:
            self.queue += self.prober.collect(wait)
        if not self.queue:
            return []
        self.seen.append(self.queue.pop(0))
        return [self.seen[-1]]

    def close(self) -> None:
        self.prober.close()

    @property
    def in_flight(self) -> int:
        return self.sent - len(self.seen)


def up_at_the_first_streak(oks: list[bool], rise: int) -> bool:
    """Whether the last of ``oks`` completed their first run of ``rise`` answers in a row."""
    run = 0
    for i, ok in enumerate(oks, 1):
        run = run + 1 if ok else 0
        if run == rise:
            return i == len(oks)
    return False


def run_until(loop: ReturnPathLoop, db: Database, want: Health) -> float:
    """Turn the loop until the store holds acme ``want``; the seconds that took."""
    start = time.monotonic()
    while time.monotonic() - start < PHASE:
        loop.step()
        if observed.stored_health(db, "fra")["acme"].health is want:
            return time.monotonic() - start
    raise AssertionError(f"acme not {want} within {PHASE} s: {view(db)}")


def settle(loop: ReturnPathLoop, prober: Tally) -> None:
    """Turn the loop until no probe is in flight (so every later loss is the break's)."""
    start = time.monotonic()
    while prober.in_flight and time.monotonic() - start < PHASE:
        loop.step()
    assert prober.in_flight == 0


def view(db: Database) -> PathView:
    [path] = list_paths(db, "fra")
    return path


def path_events(db: Database) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.target, e.reason)
        for e in events(db, since=None, limit=100)
        if e.action.startswith("path.")
    ]


@pytest.mark.parametrize("case", CASES)
def test_the_loop_records_the_path_down_and_up_again(lab: Lab, case: Case, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'scrubctl.db'}")
    db.ensure_schema()
    inv = inventory(case.path, health=HEALTH)
    inventory_service.apply(db, inv, actor="test", now=utcnow(), dry_run=False, source="test")
    lab.peer(case.peer, case.peer_address)
    prober = Tally(IcmpProber(netns=lab.site))
    answered = f"2 probes to {case.target} answered in a row"
    lost = f"3 probes to {case.target} lost in a row"
    try:
        with PyrouteKernel(netns=lab.site) as kernel:
            loop = ReturnPathLoop(db, "fra", kernel, prober)
            first_up = run_until(loop, db, Health.UP)  # the loop builds the tunnel itself
            assert up_at_the_first_streak([o.ok for o in prober.seen], rise=2), prober.seen
            assert (view(db).interface, view(db).cause) == (TUNNEL, answered)
            settle(loop, prober)

            mark = len(prober.seen)
            sh("ip", "-n", lab.ce, "link", "del", PEER_LINK)
            down = run_until(loop, db, Health.DOWN)
            assert [o.ok for o in prober.seen[mark:]] == [False] * 3  # down at the 3rd loss
            path = view(db)
            assert (path.health, path.cause) == ("down", lost)
            assert path.loss is not None and path.loss >= 3 / 20  # 3 of the last 20 probes

            mark = len(prober.seen)
            lab.peer(case.peer, case.peer_address)
            back = run_until(loop, db, Health.UP)
            assert up_at_the_first_streak([o.ok for o in prober.seen[mark:]], rise=2), prober.seen
            path = view(db)
            assert (path.health, path.cause) == ("up", answered)
            assert path.rtt_ms is not None and 0 < path.rtt_ms < 100  # answered in its interval
        assert path_events(db) == [
            ("path.unknown", "fra/acme", "not probed yet"),
            ("path.up", "fra/acme", answered),
            ("path.down", "fra/acme", lost),
            ("path.up", "fra/acme", answered),
        ]
    finally:
        prober.close()
        db.dispose()
    print(f"{case.target}: up after {first_up:.2f} s; down {down:.2f} s after the break; "
          f"up {back:.2f} s after the repair")  # fmt: skip
