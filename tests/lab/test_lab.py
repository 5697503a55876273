"""The lab built from containerlab.yml, with real FRR: sessions, routes,
forwarding before any diversion, and RTBH on the transits."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from orchestrator.cli.lab import app
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.peer import StaticPeer, StaticRoute
from orchestrator.lab.traffic import packets

pytestmark = pytest.mark.lab

CE_ROUTE = "64496 64496 64496 64496 64496"  # the CE's own, prepended announcement
RTBH_HOST = "203.0.113.66/32"
FOREIGN_HOST = "198.51.100.10/32"  # the client: not acme's to blackhole
DISCARD = "192.0.2.66"

# (router, neighbor address, peer): every session between two FRR nodes, both ends.
SESSIONS = [
    ("transit1", "192.0.2.130", "transit2"),
    ("transit2", "192.0.2.129", "transit1"),
    ("transit1", "192.0.2.150", "ce"),
    ("ce", "192.0.2.149", "transit1"),
    ("transit2", "192.0.2.154", "ce"),
    ("ce", "192.0.2.153", "transit2"),
]
# Sessions to the scrubbing sites exist but wait for ExaBGP.
SITE_SESSIONS = [
    ("transit1", "192.0.2.134", "fra"),
    ("transit1", "192.0.2.138", "ams"),
    ("transit2", "192.0.2.142", "fra"),
    ("transit2", "192.0.2.146", "ams"),
]
CE_ADDRESS = {"transit1": "192.0.2.150", "transit2": "192.0.2.154"}


def test_up_converges_quickly(lab: LabHandle) -> None:
    assert lab.report.sessions == len(SESSIONS)
    assert lab.report.total_seconds < 30, lab.report.steps


@pytest.mark.parametrize(("router", "neighbor", "peer"), SESSIONS,
                         ids=[f"{r}-{p}" for r, _, p in SESSIONS])  # fmt: skip
def test_session_established(lab: LabHandle, router: str, neighbor: str, peer: str) -> None:
    summary = lab.vtysh_json(router, "show bgp summary json")
    assert summary["ipv4Unicast"]["peers"][neighbor]["state"] == "Established"


@pytest.mark.parametrize(("router", "neighbor", "site"), SITE_SESSIONS,
                         ids=[f"{r}-{s}" for r, _, s in SITE_SESSIONS])  # fmt: skip
def test_site_session_configured_and_waiting(
    lab: LabHandle, router: str, neighbor: str, site: str
) -> None:
    peer = lab.vtysh_json(router, "show bgp summary json")["ipv4Unicast"]["peers"][neighbor]
    assert peer["remoteAs"] == 64500
    assert peer["state"] in ("Idle", "Connect", "Active")


@pytest.mark.parametrize("transit", ["transit1", "transit2"])
def test_customer_prefix_learned_from_ce(lab: LabHandle, transit: str) -> None:
    expected_best = {
        "valid": True,
        "bestpath": True,
        "path": CE_ROUTE,
        "peerId": CE_ADDRESS[transit],
        "nexthops": [{"ip": CE_ADDRESS[transit]}],
    }
    lab.expect_json(
        transit, "show bgp ipv4 unicast json",
        {"routes": {"203.0.113.0/24": [expected_best]}}, timeout=15,
    )  # fmt: skip


def test_ce_learns_client_and_attacker_networks(lab: LabHandle) -> None:
    lab.expect_json(
        "ce", "show bgp ipv4 unicast json",
        {"routes": {"198.51.100.0/25": [{"bestpath": True, "path": "64501"}],
                    "198.51.100.128/25": [{"bestpath": True, "path": "64502"}]}},
        timeout=15,
    )  # fmt: skip


def test_transits_refuse_prefixes_outside_customer_space(lab: LabHandle) -> None:
    rmap = lab.vtysh("transit1", "show route-map FROM-ACME")
    assert "ACME-SPACE" in rmap and "ACME-HOSTS" in rmap
    # the CE only announces its /24: nothing else from it, nothing from the sites
    summary = lab.vtysh_json("transit1", "show bgp summary json")["ipv4Unicast"]["peers"]
    assert summary["192.0.2.150"]["pfxRcd"] == 1


def test_client_reaches_server_on_direct_path(lab: LabHandle) -> None:
    before = lab.counters()
    result = lab.legit(count=20)
    after = lab.counters()
    assert result.ok == 20, result
    assert packets(after, "ce", "lab", "from_transit") > packets(
        before, "ce", "lab", "from_transit"
    )
    assert packets(after, "server", "lab", "legit_arrived") > packets(
        before, "server", "lab", "legit_arrived"
    )
    for site in ("fra", "ams"):  # no diversion: the sites see nothing
        assert packets(after, site, "scrub", "to_customer") == packets(
            before, site, "scrub", "to_customer"
        )


def test_attack_reaches_server_before_diversion(lab: LabHandle) -> None:
    before = lab.counters()
    result = lab.start_attack(count=300, rate=1000, size=1200, duration=10).wait()
    after = lab.counters()
    assert result.sent == 300 and result.errors == 0
    arrived = packets(after, "server", "lab", "attack_arrived") - packets(
        before, "server", "lab", "attack_arrived"
    )
    via_transit2 = packets(after, "transit2", "lab", "attack_to_customer") - packets(
        before, "transit2", "lab", "attack_to_customer"
    )
    assert arrived == 300
    assert via_transit2 == 300
    assert packets(after, "fra", "scrub", "attack_dropped") == packets(
        before, "fra", "scrub", "attack_dropped"
    )


# --- RTBH ----------------------------------------------------------------------------


@pytest.fixture(scope="class")
def rtbh_peer(lab: LabHandle) -> Iterator[StaticPeer]:
    """Raw ExaBGP in fra announcing 203.0.113.66/32 + BLACKHOLE to both transits, and
    the same for a host outside acme's space (which the transits must refuse)."""
    routes = [
        StaticRoute(ipaddress.IPv4Network(RTBH_HOST), ("65535:666",), (64500, 64496)),
        StaticRoute(ipaddress.IPv4Network(FOREIGN_HOST), ("65535:666",), (64500, 64496)),
    ]
    peer: StaticPeer = lab.static_peer("fra", ["transit1", "transit2"], routes,
                                       local_as=64500, router_id="192.0.2.1")  # fmt: skip
    with peer:
        yield peer


@pytest.mark.usefixtures("rtbh_peer")
class TestRtbh:
    @pytest.mark.parametrize("transit", ["transit1", "transit2"])
    def test_host_route_gets_discard_next_hop(self, lab: LabHandle, transit: str) -> None:
        lab.expect_json(
            transit, f"show bgp ipv4 unicast {RTBH_HOST} json",
            {"paths": [{"valid": True, "bestpath": {"overall": True},
                        "nexthops": [{"ip": DISCARD, "accessible": True}],
                        "community": {"list": ["blackhole", "noExport"]}}]},
            timeout=30,
        )  # fmt: skip

    @pytest.mark.parametrize("transit", ["transit1", "transit2"])
    def test_kernel_route_is_blackhole(self, lab: LabHandle, transit: str) -> None:
        # `ip route get` fails on blackhole routes ("Invalid argument"): use show.
        lab.expect_json(
            transit, "show ip route 203.0.113.66/32 json",
            {RTBH_HOST: [{"protocol": "bgp", "installed": True}]}, timeout=30,
        )  # fmt: skip
        shown = lab.exec(transit, "ip", "route", "show", "203.0.113.66").stdout
        assert shown.startswith("blackhole 203.0.113.66"), shown

    def test_not_passed_on_to_the_customer(self, lab: LabHandle) -> None:
        lab.expect_json("transit1", f"show bgp ipv4 unicast {RTBH_HOST} json",
                        {"paths": [{"valid": True}]}, timeout=30)  # fmt: skip
        routes = lab.vtysh_json("ce", "show bgp ipv4 unicast json")["routes"]
        assert RTBH_HOST not in routes

    def test_server_stays_reachable(self, lab: LabHandle) -> None:
        lab.expect_json("transit1", f"show bgp ipv4 unicast {RTBH_HOST} json",
                        {"paths": [{"valid": True}]}, timeout=30)  # fmt: skip
        assert lab.legit(count=10).ok == 10

    @pytest.mark.parametrize(("transit", "fra"), [("transit1", "192.0.2.134"),
                                                  ("transit2", "192.0.2.142")])  # fmt: skip
    def test_host_outside_customer_space_refused(
        self, lab: LabHandle, transit: str, fra: str
    ) -> None:
        lab.expect_json(transit, "show bgp summary json",
                        {"ipv4Unicast": {"peers": {fra: {"state": "Established"}}}},
                        timeout=30)  # fmt: skip
        lab.expect_json(transit, f"show bgp ipv4 unicast {RTBH_HOST} json",
                        {"paths": [{"valid": True}]}, timeout=30)  # fmt: skip
        peers = lab.vtysh_json(transit, "show bgp summary json")["ipv4Unicast"]["peers"]
        assert peers[fra]["pfxRcd"] == 1  # only the customer's host route
        routes = lab.vtysh_json(transit, "show bgp ipv4 unicast json")["routes"]
        assert FOREIGN_HOST not in routes


@pytest.mark.parametrize("transit", ["transit1", "transit2"])
def test_rtbh_route_gone_when_peer_stops(lab: LabHandle, transit: str) -> None:
    lab.expect_json(transit, "show bgp ipv4 unicast json", {"routes": {RTBH_HOST: None}},
                    timeout=30)  # fmt: skip
    assert lab.exec(transit, "ip", "route", "show", "203.0.113.66").stdout.strip() == ""


# --- a diversion, by hand: raw ExaBGP in both sites ------------------------------------

PRIMARY = (64500, 64496)
BACKUP = (64500, 64500, 64500, 64496)
SITE_ADDRESS = {("transit1", "fra"): "192.0.2.134", ("transit2", "fra"): "192.0.2.142"}


@pytest.fixture(scope="class")
def diversion(lab: LabHandle) -> Iterator[None]:
    """fra (primary) and ams (backup) announce acme's /24 as the agent will."""
    customer = ipaddress.IPv4Network("203.0.113.0/24")
    fra = lab.static_peer("fra", ["transit1", "transit2"], [StaticRoute(customer, (), PRIMARY)],
                          local_as=64500, router_id="192.0.2.1")  # fmt: skip
    ams = lab.static_peer("ams", ["transit1", "transit2"], [StaticRoute(customer, (), BACKUP)],
                          local_as=64500, router_id="192.0.2.2")  # fmt: skip
    with fra, ams:
        for transit in ("transit1", "transit2"):
            lab.expect_json(
                transit, "show bgp ipv4 unicast 203.0.113.0/24 json",
                {"paths": [{"aspath": {"string": "64500 64496"}, "bestpath": {"overall": True}},
                           {"aspath": {"string": "64500 64500 64500 64496"}},
                           {"aspath": {"string": CE_ROUTE}}]},
                timeout=30,
            )  # fmt: skip
        yield


@pytest.mark.usefixtures("diversion")
class TestDivertedByHand:
    @pytest.mark.parametrize("transit", ["transit1", "transit2"])
    def test_primary_site_wins(self, lab: LabHandle, transit: str) -> None:
        routes = lab.vtysh_json(transit, "show bgp ipv4 unicast json")["routes"]
        best = [p for p in routes["203.0.113.0/24"] if p.get("bestpath")]
        assert [p["path"] for p in best] == ["64500 64496"]
        assert best[0]["peerId"] == SITE_ADDRESS[(transit, "fra")]

    def test_clean_traffic_goes_through_fra_and_the_dedicated_line(self, lab: LabHandle) -> None:
        before = lab.counters()
        assert lab.legit(count=20).ok == 20
        after = lab.counters()

        def delta(node: str, table: str, name: str) -> int:
            return packets(after, node, table, name) - packets(before, node, table, name)

        assert delta("fra", "scrub", "clean_forwarded") >= 20
        assert delta("ce", "lab", "from_fra") >= 20
        assert delta("ce", "lab", "from_transit") == 0
        assert delta("fra", "scrub", "misrouted") == 0

    def test_attack_is_scrubbed_at_fra(self, lab: LabHandle) -> None:
        before = lab.counters()
        result = lab.start_attack(count=300, rate=1000, duration=10).wait()
        after = lab.counters()
        assert result.sent == 300
        dropped = packets(after, "fra", "scrub", "attack_dropped") - packets(
            before, "fra", "scrub", "attack_dropped"
        )
        arrived = packets(after, "server", "lab", "attack_arrived") - packets(
            before, "server", "lab", "attack_arrived"
        )
        assert dropped == 300
        assert arrived == 0


@pytest.mark.parametrize("transit", ["transit1", "transit2"])
def test_ce_route_takes_over_after_withdrawal(lab: LabHandle, transit: str) -> None:
    lab.expect_json(
        transit, "show bgp ipv4 unicast json",
        {"routes": {"203.0.113.0/24": [{"bestpath": True, "path": CE_ROUTE}]}}, timeout=30,
    )  # fmt: skip
    paths = lab.vtysh_json(transit, "show bgp ipv4 unicast json")["routes"]["203.0.113.0/24"]
    assert all("64500" not in p["path"] for p in paths)


# --- the CLI against the running lab ------------------------------------------------


def test_cli_status_json(lab: LabHandle) -> None:
    result = CliRunner().invoke(app, ["status", "--name", lab.topology.name, "--json"])
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["up"] is True
    assert all(link["state_a"] == "UP" and link["state_b"] == "UP" for link in state["links"])
    expected = {(s["router"], s["peer_node"]): s for s in state["sessions"] if s["expected"]}
    assert len(expected) == len(SESSIONS)
    assert all(s["state"] == "Established" for s in expected.values())
    assert expected[("transit1", "ce")]["prefixes_received"] == 1


def test_cli_exec_vtysh_uses_the_nodes_frr(
    lab: LabHandle, capfd: pytest.CaptureFixture[str]
) -> None:
    args = ["exec", "--name", lab.topology.name, "ce", "--", "vtysh", "-c", "show bgp summary json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
    summary = json.loads(capfd.readouterr().out)
    assert summary["ipv4Unicast"]["as"] == 64496


def test_cli_exec_passes_exit_code(lab: LabHandle) -> None:
    result = CliRunner().invoke(app, ["exec", "--name", lab.topology.name, "fra", "--", "false"])
    assert result.exit_code == 1


def test_return_paths_as_this_kernel_allows(lab: LabHandle) -> None:
    """fra's dedicated line always; ams's GRE tunnel only where the kernel has GRE,
    else its exec lines are listed as skipped and the driver says why it is down."""
    paths = {p.site: p for p in lab.report.paths}
    assert paths["fra"].built == ("acme via eth3",)
    route = lab.exec("fra", "ip", "route", "show", "table", "4200").stdout.split()
    assert route[:5] == ["203.0.113.0/24", "via", "192.0.2.158", "dev", "eth3"]
    if lab.runner.has_gre():
        assert lab.report.skipped == []
        assert paths["ams"].built == ("acme via scr-acme",)
    else:
        assert [line.split(": ", 1)[0] for line in lab.report.skipped] == ["ce"] * 5
        assert paths["ams"].built == ()
        (cause,) = paths["ams"].down
        assert cause.startswith("acme: add gre scr-acme 192.0.2.161 -> 192.0.2.162 key 100")
        assert cause.endswith("Operation not supported (errno 95)")
