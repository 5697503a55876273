"""The whole lab with its GRE return path (runs in a user-mode Linux guest where
this kernel has no GRE; all tests of this module share one guest and one lab).

Asserts on what the routers and real packets say: FRR's JSON, the kernel's
links and routes, and the counters on the customer edge, which count clean
traffic by the interface it arrived on (eth3: fra's dedicated line;
scrub-ams: decapsulated from the GRE tunnel from ams).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from lab_support import RunningSites

from orchestrator.lab.filters import Counters
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.routes import fib
from orchestrator.lab.shell import run
from orchestrator.lab.traffic import packets

pytestmark = [pytest.mark.lab, pytest.mark.uml]

PREFIX = "203.0.113.0/24"
TRANSITS = {  # transit -> the next hop it uses towards each of fra, ams and ce
    "transit1": {"fra": "192.0.2.134", "ams": "192.0.2.138", "ce": "192.0.2.150"},
    "transit2": {"fra": "192.0.2.142", "ams": "192.0.2.146", "ce": "192.0.2.154"},
}
REQUESTS = 20


class Env:
    def __init__(self, running: RunningSites) -> None:
        self.running = running
        self.lab = running.lab
        self.sites = running.sites

    def scrubctl(self, *args: str) -> str:
        return self.running.scrubctl(*args, timeout=60).stdout

    def wait_forwarding(self, site: str) -> None:
        for transit, hops in TRANSITS.items():
            self.running.expect(
                f"{transit} forwarding via {site}",
                lambda t=transit, h=hops[site]: fib(self.lab.runner, t, PREFIX) == h,
                timeout=60,
            )

    def clean_traffic(self) -> tuple[int, Counters, Counters]:
        before = self.lab.counters()
        result = self.lab.legit(count=REQUESTS, interval=0.02)
        return result.ok, before, self.lab.counters()


def delta(before: Counters, after: Counters, node: str, table: str, name: str) -> int:
    return packets(after, node, table, name) - packets(before, node, table, name)


@pytest.fixture(scope="module")
def env(running_sites: RunningSites) -> Env:
    return Env(running_sites)


@pytest.fixture
def diverted(env: Env, request: pytest.FixtureRequest) -> Iterator[Env]:
    """``divert start acme`` with the test's extra arguments; stopped afterwards."""
    site, *extra = request.param
    env.scrubctl("divert", "start", "acme", *extra, "--reason", "gre lab test")
    try:
        env.wait_forwarding(site)
        yield env
    finally:
        env.scrubctl("divert", "stop", "acme", "--reason", "gre lab test over")
        env.wait_forwarding("ce")


def link_info(lab: LabHandle, node: str, name: str) -> dict[str, Any]:
    out = run(["ip", "-n", lab.ns(node), "-d", "-j", "link", "show", name]).stdout
    info: dict[str, Any] = json.loads(out)[0]
    return info


def test_lab_up_builds_both_return_paths(lab: LabHandle) -> None:
    built = {s.site: (s.built, s.down) for s in lab.report.paths}
    assert built == {"fra": (("acme via eth3",), ()), "ams": (("acme via scr-acme",), ())}
    assert lab.report.skipped == []
    assert lab.report.sessions == 6  # transit1-transit2, both transits - ce, both ways


def test_ams_tunnel_is_kernel_gre_with_the_inventory_settings(lab: LabHandle) -> None:
    info = link_info(lab, "ams", "scr-acme")
    data = info["linkinfo"]["info_data"]
    assert info["linkinfo"]["info_kind"] == "gre"
    assert (data["local"], data["remote"]) == ("192.0.2.161", "192.0.2.162")
    assert info["mtu"] == 1472 and data["ttl"] == 64
    route = json.loads(lab.exec("ams", "ip", "-j", "route", "show", "table", "4200").stdout)
    assert [(r["dst"], r["dev"]) for r in route] == [(PREFIX, "scr-acme")]
    assert link_info(lab, "ce", "scrub-ams")["linkinfo"]["info_kind"] == "gre"


def test_gre_tunnel_carries_a_ping(lab: LabHandle) -> None:
    done = lab.exec("ams", "ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.166", check=False)
    assert done.returncode == 0, done.stdout
    assert " 0% packet loss" in done.stdout


@pytest.mark.parametrize("diverted", [("fra",)], indirect=True)
def test_diverted_to_fra_clean_traffic_takes_the_dedicated_line(diverted: Env) -> None:
    ok, before, after = diverted.clean_traffic()
    assert ok == REQUESTS
    assert delta(before, after, "ce", "lab", "from_fra") >= REQUESTS
    assert delta(before, after, "ce", "lab", "from_ams") == 0
    assert delta(before, after, "ce", "lab", "from_transit") == 0
    assert delta(before, after, "fra", "scrub", "misrouted") == 0


@pytest.mark.parametrize("diverted", [("ams", "--site", "ams")], indirect=True)
def test_diverted_only_to_ams_clean_traffic_takes_the_gre_tunnel(diverted: Env) -> None:
    ok, before, after = diverted.clean_traffic()
    assert ok == REQUESTS
    assert delta(before, after, "ams", "scrub", "clean_forwarded") >= REQUESTS
    assert delta(before, after, "ams", "scrub", "misrouted") == 0
    assert delta(before, after, "ce", "lab", "from_ams") >= REQUESTS  # decapsulated
    assert delta(before, after, "ce", "lab", "from_fra") == 0
    assert delta(before, after, "ce", "lab", "from_transit") == 0
