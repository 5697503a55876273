"""The site agent against the real FRR transits of the lab (issue 4).

ExaBGP + agent run in the fra and ams namespaces through `scrubctl site run`;
every assertion reads what the routers say (`vtysh ... json`, the kernel FIB)
or what real packets did (nftables counters).
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_support import RunningSites, dedicated_inventory

from orchestrator.lab.routes import bgp_paths, fib
from orchestrator.lab.sites import scrubctl_argv
from orchestrator.lab.traffic import packets

# The backup site ams carries acme only while its return path is up. These tests are
# about the agent, not the tunnel: ams reaches acme over a dedicated line on the ams-ce
# link (``dedicated_inventory``), so they need no kernel GRE and run on the host.
pytestmark = pytest.mark.lab

PREFIX = "203.0.113.0/24"
# (transit, fra's address there, ams's address there, ce's address there)
TRANSITS = [
    ("transit1", "192.0.2.134", "192.0.2.138", "192.0.2.150"),
    ("transit2", "192.0.2.142", "192.0.2.146", "192.0.2.154"),
]
PRIMARY_PATH = "64500 64496"
BACKUP_PATH = "64500 64500 64500 64496"
CE_PATH = "64496 64496 64496 64496 64496"
COMMUNITIES = "64500:100 64500:200"


class Env:
    def __init__(self, running: RunningSites) -> None:
        self.running = running
        self.lab = running.lab
        self.sites = running.sites
        self.db_url = running.db_url

    def scrubctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.running.scrubctl(*args, timeout=30)

    def paths(self, transit: str) -> list[dict[str, Any]]:
        """Every BGP path for PREFIX at ``transit``, as dicts for readable diffs."""
        return [vars(p) for p in bgp_paths(self.lab.runner, transit, PREFIX)]

    def fib_gateway(self, transit: str) -> str | None:
        return fib(self.lab.runner, transit, PREFIX)

    def expect(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        self.running.expect(what, check, timeout)

    def expect_best(self, transit: str, aspath: str, nexthop: str, timeout: float = 30.0) -> None:
        def ok() -> bool:
            return any(
                p["best"] and p["aspath"] == aspath and p["nexthop"] == nexthop
                for p in self.paths(transit)
            )

        self.expect(f"{transit}: best path {aspath} via {nexthop}", ok, timeout)
        self.expect(f"{transit}: FIB via {nexthop}", lambda: self.fib_gateway(transit) == nexthop)

    def session_uptime(self, transit: str, address: str) -> int | None:
        """Milliseconds the session has been Established, None if it is not."""
        peers = self.lab.vtysh_json(transit, "show bgp summary json")["ipv4Unicast"]["peers"]
        peer = peers[address]
        return int(peer["peerUptimeMsec"]) if peer["state"] == "Established" else None

    def scrub_paths(self, transit: str) -> list[dict[str, Any]]:
        return [p for p in self.paths(transit) if p["aspath"].startswith("64500")]


@pytest.fixture(scope="module")
def sites_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dedicated_inventory(tmp_path_factory.mktemp("inventory"))


@pytest.fixture(scope="module")
def env(running_sites: RunningSites) -> Env:
    return Env(running_sites)


@pytest.fixture
def diverted(env: Env) -> Iterator[Env]:
    env.scrubctl("divert", "start", "acme", "--reason", "lab test")
    try:
        for transit, fra, _ams, _ce in TRANSITS:
            env.expect_best(transit, PRIMARY_PATH, fra)
        yield env
    finally:
        subprocess.run([*scrubctl_argv("divert", "stop", "acme", "--reason", "lab test over"),
                        "--db", env.db_url], capture_output=True, timeout=30)  # fmt: skip
        for transit, _fra, _ams, ce in TRANSITS:
            env.expect_best(transit, CE_PATH, ce)


def test_agents_record_their_sessions(env: Env) -> None:
    expected = {
        ("ams", "transit1"): True,
        ("ams", "transit2"): True,
        ("fra", "transit1"): True,
        ("fra", "transit2"): True,
    }

    def recorded() -> dict[tuple[str, str], bool]:
        sites = json.loads(env.scrubctl("site", "list", "--json").stdout)
        return {(s["site"], p["name"]): p["established"] for s in sites for p in s["peers"]}

    # FRR may say Established a moment before the agent has written it down.
    env.expect("agents recorded all four sessions", lambda: recorded() == expected, timeout=15)


def test_before_diversion_the_transits_use_the_customer_edge(env: Env) -> None:
    for transit, _fra, _ams, ce in TRANSITS:
        assert env.scrub_paths(transit) == []
        env.expect_best(transit, CE_PATH, ce)


def test_divert_start_reaches_both_transits_with_planned_attributes(diverted: Env) -> None:
    for transit, fra, ams, _ce in TRANSITS:
        paths = diverted.scrub_paths(transit)
        assert [(p["aspath"], p["nexthop"], p["communities"]) for p in paths] == [
            (PRIMARY_PATH, fra, COMMUNITIES),
            (BACKUP_PATH, ams, COMMUNITIES),
        ]
        assert [p["best"] for p in paths] == [True, False]


def test_client_traffic_enters_the_scrubbing_site(diverted: Env) -> None:
    lab = diverted.lab
    before = lab.counters()
    result = lab.legit(count=20)
    after = lab.counters()
    assert result.ok == 20
    assert (
        packets(after, "fra", "scrub", "to_customer")
        - packets(before, "fra", "scrub", "to_customer")
        >= 20
    )
    assert packets(after, "ams", "scrub", "to_customer") == packets(
        before, "ams", "scrub", "to_customer"
    )


def test_divert_stop_returns_traffic_to_the_direct_path(env: Env) -> None:
    env.scrubctl("divert", "start", "acme", "--reason", "short")
    env.expect_best("transit1", PRIMARY_PATH, "192.0.2.134")
    env.scrubctl("divert", "stop", "acme", "--reason", "over")
    for transit, _fra, _ams, ce in TRANSITS:
        env.expect_best(transit, CE_PATH, ce)
        env.expect(f"{transit}: no scrubbing path", lambda t=transit: env.scrub_paths(t) == [])
    before = env.lab.counters()
    assert env.lab.legit(count=10).ok == 10
    after = env.lab.counters()
    assert packets(after, "fra", "scrub", "to_customer") == packets(
        before, "fra", "scrub", "to_customer"
    )


def test_killed_agent_is_respawned_and_reconciles(diverted: Env) -> None:
    """The agent hangs (SIGSTOP) while the intent changes, then dies (SIGKILL). ExaBGP
    keeps fra's now-stale routes and respawns the agent, which must learn them from
    ExaBGP to withdraw them: nothing else remembers they were sent."""
    frozen = diverted.sites.kill_matching("fra", "orchestrator.site.agent", signal.SIGSTOP)
    assert frozen, "no agent process found in fra"
    diverted.scrubctl("divert", "stop", "acme", "--reason", "change while hung")
    diverted.scrubctl("divert", "start", "acme", "--site", "ams", "--reason", "ams only")
    for transit, fra, _ams, _ce in TRANSITS:  # fra's agent cannot act: its route is stale
        assert any(p["nexthop"] == fra for p in diverted.scrub_paths(transit))
    diverted.sites.kill_matching("fra", "orchestrator.site.agent", signal.SIGKILL)
    for transit, _fra, ams, _ce in TRANSITS:
        diverted.expect(
            f"{transit}: exactly ams's route",
            lambda t=transit, a=ams: (
                [(p["aspath"], p["nexthop"]) for p in diverted.scrub_paths(t)] == [(BACKUP_PATH, a)]
            ),
        )
    diverted.expect(
        "agent respawned",
        lambda: bool(diverted.sites.pids_matching("fra", "orchestrator.site.agent")),
    )
    diverted.scrubctl("divert", "stop", "acme", "--reason", "back to normal")
    diverted.scrubctl("divert", "start", "acme", "--reason", "again")
    for transit, fra, _ams, _ce in TRANSITS:
        diverted.expect_best(transit, PRIMARY_PATH, fra)


def test_killed_exabgp_is_restarted_and_routes_return(diverted: Env) -> None:
    before = {t: diverted.session_uptime(t, fra) for t, fra, _ams, _ce in TRANSITS}
    killed = diverted.sites.kill_matching("fra", "exabgp server")
    assert killed, "no exabgp process found in fra"
    for transit, fra, _ams, _ce in TRANSITS:  # a new session, not the old one still seen
        diverted.expect(
            f"{transit}: new session with fra",
            lambda t=transit, a=fra: (diverted.session_uptime(t, a) or 10**9) < before[t],
            timeout=45,
        )
        diverted.expect_best(transit, PRIMARY_PATH, fra, timeout=45)
    for transit, _fra, _ams, _ce in TRANSITS:
        assert len(diverted.scrub_paths(transit)) == 2


def test_session_cleared_by_the_peer_relearns_routes(diverted: Env) -> None:
    diverted.lab.vtysh("transit1", "clear bgp 192.0.2.134")
    diverted.expect_best("transit1", PRIMARY_PATH, "192.0.2.134", timeout=45)


def test_stop_while_the_peer_is_down_is_right_when_it_returns(diverted: Env) -> None:
    lab = diverted.lab
    lab.exec("transit1", "vtysh", "-c", "configure terminal", "-c", "router bgp 64501",
             "-c", "neighbor 192.0.2.134 shutdown")  # fmt: skip
    diverted.expect("fra path gone at transit1", lambda: all(
        p["nexthop"] != "192.0.2.134" for p in diverted.scrub_paths("transit1")))  # fmt: skip
    diverted.scrubctl("divert", "stop", "acme", "--reason", "stop while down")
    lab.exec("transit1", "vtysh", "-c", "configure terminal", "-c", "router bgp 64501",
             "-c", "no neighbor 192.0.2.134 shutdown")  # fmt: skip
    diverted.expect(
        "fra's session back",
        lambda: (
            lab.vtysh_json("transit1", "show bgp summary json")["ipv4Unicast"]["peers"][
                "192.0.2.134"
            ]["state"]
            == "Established"
        ),
        timeout=45,
    )
    diverted.expect_best("transit1", CE_PATH, "192.0.2.150")
    assert diverted.scrub_paths("transit1") == []
    diverted.scrubctl("divert", "start", "acme", "--reason", "again")


def test_failover_when_a_site_stops_and_fallback_when_it_returns(diverted: Env) -> None:
    diverted.sites.stop("fra")
    for transit, _fra, ams, _ce in TRANSITS:
        diverted.expect_best(transit, BACKUP_PATH, ams)
    status = json.loads(diverted.scrubctl("status", "--json").stdout)
    assert status["customers"]["acme"]["state"] == "protected"
    before = diverted.lab.counters()
    assert diverted.lab.legit(count=10).ok == 10
    after = diverted.lab.counters()
    assert (
        packets(after, "ams", "scrub", "to_customer")
        - packets(before, "ams", "scrub", "to_customer")
        >= 10
    )
    diverted.sites.start("fra")
    # 120 s: fra's runner, ExaBGP and agent start again first, about 5 s on a host and
    # 30-66 s measured in the user-mode Linux guest on a busy host
    for transit, fra, _ams, _ce in TRANSITS:
        diverted.expect_best(transit, PRIMARY_PATH, fra, timeout=120)


def test_time_to_mitigate_is_recorded(diverted: Env) -> None:
    report = json.loads(diverted.scrubctl("report", "ttm", "--json").stdout)
    latest = report["diversions"][-1]
    assert set(latest["per_site_seconds"]) == {"fra", "ams"}
    assert 0 <= latest["ttm_seconds"] < 5
    assert report["summary"]["acknowledged"] >= 1


def test_forced_rtbh_is_installed_as_blackhole_and_removed(env: Env) -> None:
    host = "203.0.113.66"
    env.scrubctl("rtbh", "add", host, "--force", "--expires", "10m", "--reason", "lab test")
    try:
        for transit, _fra, _ams, _ce in TRANSITS:
            env.expect(
                f"{transit}: {host} blackholed",
                lambda t=transit: fib(env.lab.runner, t, f"{host}/32") == "blackhole",
            )
            [path, *_] = bgp_paths(env.lab.runner, transit, f"{host}/32")
            assert "65535:666" in path.communities or "blackhole" in path.communities
        assert env.lab.legit(count=10).ok == 10  # the rest of the prefix stays reachable
    finally:
        env.scrubctl("rtbh", "remove", host, "--reason", "lab test over")
    for transit, _fra, _ams, _ce in TRANSITS:
        env.expect(
            f"{transit}: {host} gone",
            lambda t=transit: fib(env.lab.runner, t, f"{host}/32") is None,
        )


def test_drain_sends_graceful_shutdown_then_withdraws(diverted: Env) -> None:
    """lab/inventory.yml has drain_time 30 s: the agent must wake up by itself when it ends."""
    diverted.scrubctl("site", "drain", "fra", "--reason", "maintenance")

    def fra_gshut(transit: str, fra: str) -> bool:
        return any(
            p["nexthop"] == fra and "graceful-shutdown" in p["communities"].split()
            for p in diverted.scrub_paths(transit)
        )

    for transit, fra, ams, _ce in TRANSITS:
        diverted.expect(f"{transit}: fra's route carries GRACEFUL_SHUTDOWN",
                        lambda t=transit, a=fra: fra_gshut(t, a))  # fmt: skip
        # FRR honours RFC 8326 (local-pref 0): traffic leaves fra before its withdrawal.
        diverted.expect_best(transit, BACKUP_PATH, ams)
        assert fra_gshut(transit, fra)
    for transit, _fra, ams, _ce in TRANSITS:  # after drain_time: withdrawn
        diverted.expect(
            f"{transit}: only ams announces",
            lambda t=transit, a=ams: [p["nexthop"] for p in diverted.scrub_paths(t)] == [a],
            timeout=45,
        )
        diverted.expect_best(transit, BACKUP_PATH, ams)
    diverted.scrubctl("site", "undrain", "fra", "--reason", "maintenance over")
    for transit, fra, _ams, _ce in TRANSITS:
        diverted.expect_best(transit, PRIMARY_PATH, fra)
