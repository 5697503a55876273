"""The real ICMP prober over a dedicated line (a veth pair) in namespaces the test makes.

The far end stops answering (its address removed, the carrier kept): the path
is down after ``threshold`` probes, and up again ``rise`` probes after it
answers again. The far side's link goes down: the site's side loses its
carrier and the prober reports that at once, before any probe is lost. The
probes are routed with the site's probe rule (the netlink driver builds it)
and bound to the line.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from conftest import sh
from netlink_support import inventory

from orchestrator.domain import Health
from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.pyroute import PyrouteKernel
from orchestrator.drivers.netlink.reconcile import apply
from orchestrator.drivers.probe import IcmpProber, Outcome, ProbeTarget
from orchestrator.site.health import PathHealth, Thresholds, observe, start

INTERVAL = 0.1
LIMITS = Thresholds(fall=3, rise=2)
FAR = ipaddress.ip_address("192.0.2.130")


def line(netns: Callable[[str], str]) -> tuple[str, str]:
    site, cust = netns("site"), netns("cust")
    sh("ip", "link", "add", "line0", "netns", site, "type", "veth", "peer", "cust0", "netns", cust)
    sh("ip", "-n", site, "addr", "add", "192.0.2.129/30", "dev", "line0")
    sh("ip", "-n", cust, "addr", "add", "192.0.2.130/30", "dev", "cust0")
    sh("ip", "-n", site, "link", "set", "line0", "up")
    sh("ip", "-n", cust, "link", "set", "cust0", "up")
    return site, cust


def probe_until(
    prober: IcmpProber, state: PathHealth, want: Health, limit: int = 50
) -> tuple[PathHealth, int, list[float]]:
    """Probe every INTERVAL until the health is ``want``; (state, probes it took, RTTs).

    Link notifications (``link_down``) are left out: this counts probes only."""
    rtts: list[float] = []
    for sent in range(1, limit + 1):
        prober.send("beta")
        deadline = time.monotonic() + INTERVAL
        outcomes: list[Outcome] = []
        while not outcomes:
            found = prober.collect(max(0.0, deadline - time.monotonic()))
            outcomes = [o for o in found if not o.link_down]
        for outcome in outcomes:
            state = observe(state, outcome.ok, outcome.rtt_ms, LIMITS, str(FAR)).state
            if outcome.rtt_ms is not None:
                rtts.append(outcome.rtt_ms)
        time.sleep(max(0.0, deadline - time.monotonic()))
        if state.health is want:
            return state, sent, rtts
    raise AssertionError(f"still {state.health} after {limit} probes")


def test_probe_over_a_dedicated_line_goes_down_and_up(netns: Callable[[str], str]) -> None:
    site, cust = line(netns)
    with PyrouteKernel(netns=site) as kernel:  # the probe rule: fwmark -> the site's table
        apply(kernel, desired_state(inventory(), "fra"))
    prober = IcmpProber(netns=site)
    try:
        prober.configure([ProbeTarget("beta", "line0", FAR, timeout=INTERVAL)])
        state, took, rtts = probe_until(prober, start(None), Health.UP)
        assert took == LIMITS.rise
        assert 0 < max(rtts) < INTERVAL * 1000

        sh("ip", "-n", cust, "addr", "del", "192.0.2.130/30", "dev", "cust0")  # carrier kept
        state, took, _ = probe_until(prober, state, Health.DOWN)
        assert took == LIMITS.fall
        assert state.cause == f"3 probes to {FAR} lost in a row"

        sh("ip", "-n", cust, "addr", "add", "192.0.2.130/30", "dev", "cust0")
        state, took, _ = probe_until(prober, state, Health.UP)
        assert took == LIMITS.rise
    finally:
        prober.close()


def link_outcomes(prober: IcmpProber, seconds: float) -> list[Outcome]:
    """What the prober reports within ``seconds`` with no probe sent: link notifications."""
    found: list[Outcome] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found += prober.collect(max(0.0, deadline - time.monotonic()))
    return found


def test_carrier_loss_is_reported_at_once_and_its_return_is_not(
    netns: Callable[[str], str],
) -> None:
    site, cust = line(netns)
    prober = IcmpProber(netns=site)
    try:
        prober.configure([ProbeTarget("beta", "line0", FAR, timeout=INTERVAL)])
        assert link_outcomes(prober, 0.3) == []  # the dump: line0 is up
        sh("ip", "-n", cust, "link", "set", "cust0", "down")
        started = time.monotonic()
        found = prober.collect(5.0)
        assert time.monotonic() - started < 5.0  # woken by the notification, not a timeout
        assert found == [Outcome("beta", False, detail="line0 lost its carrier", link_down=True)]
        assert link_outcomes(prober, 0.3) == []  # once per change, not per notification

        sh("ip", "-n", cust, "link", "set", "cust0", "up")
        assert link_outcomes(prober, 0.5) == []  # back: up only after `rise` answers

        sh("ip", "-n", site, "link", "set", "line0", "down")
        assert link_outcomes(prober, 0.5) == [
            Outcome("beta", False, detail="line0 is administratively down", link_down=True)
        ]
        prober.configure([ProbeTarget("beta", "line0", FAR, timeout=INTERVAL)])
        assert link_outcomes(prober, 0.5) == [  # a path configured while down: from the dump
            Outcome("beta", False, detail="line0 is administratively down", link_down=True)
        ]
        sh("ip", "-n", site, "link", "del", "line0")
        assert link_outcomes(prober, 0.5) == [
            Outcome("beta", False, detail="line0 was deleted", link_down=True)
        ]
    finally:
        prober.close()


def test_probe_does_not_leave_by_another_interface(netns: Callable[[str], str]) -> None:
    """The far end is reachable over a second link too; the line's probe must fail anyway."""
    site, cust = line(netns)
    sh("ip", "link", "add", "other0", "netns", site, "type", "veth", "peer", "other1",
       "netns", cust)  # fmt: skip
    sh("ip", "-n", site, "addr", "add", "198.18.9.1/30", "dev", "other0")
    sh("ip", "-n", cust, "addr", "add", "198.18.9.2/30", "dev", "other1")
    sh("ip", "-n", site, "link", "set", "other0", "up")
    sh("ip", "-n", cust, "link", "set", "other1", "up")
    sh("ip", "-n", cust, "link", "set", "cust0", "down")
    sh("ip", "-n", site, "route", "add", "192.0.2.130/32", "via", "198.18.9.2")
    sh("ip", "-n", cust, "addr", "add", "192.0.2.130/32", "dev", "lo")
    prober = IcmpProber(netns=site)
    try:
        prober.configure([ProbeTarget("beta", "line0", FAR, timeout=INTERVAL)])
        _, took, _ = probe_until(prober, start(None), Health.DOWN)
        assert took == LIMITS.fall
    finally:
        prober.close()


def test_a_loss_is_reported_when_its_timeout_passes_not_at_the_end_of_the_wait(
    netns: Callable[[str], str],
) -> None:
    site, cust = line(netns)
    sh("ip", "-n", cust, "addr", "del", "192.0.2.130/30", "dev", "cust0")  # nobody answers
    prober = IcmpProber(netns=site)
    try:
        prober.configure([ProbeTarget("beta", "line0", FAR, timeout=0.1)])
        link_outcomes(prober, 0.2)  # the link dump
        prober.send("beta")
        started = time.monotonic()
        found = prober.collect(3.0)
        took = time.monotonic() - started
        assert found == [Outcome("beta", False)]
        assert 0.05 <= took < 1.0  # the wait ended with the timeout (0.1 s), not after 3 s
    finally:
        prober.close()
