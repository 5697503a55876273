"""The desired kernel state, computed from the inventory alone."""

from __future__ import annotations

import ipaddress

import pytest
from netlink_support import inventory

from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.marks import IFNAMSIZ, PROBE_MARK, tunnel_name
from orchestrator.drivers.netlink.state import (
    Line,
    PathRoute,
    PolicyRule,
    Tunnel,
    TunnelParams,
)
from orchestrator.inventory import InventoryErrors, parse_inventory

net = ipaddress.ip_network
addr = ipaddress.ip_address
iface = ipaddress.ip_interface


def test_keyed_gre_over_ipv4() -> None:
    path = desired_state(inventory(), "fra").paths[0]
    assert path.customer == "acme"
    assert path.tunnel == Tunnel(
        name="scr-acme",
        alias="scrubctl site=fra customer=acme",
        params=TunnelParams("gre", addr("192.0.2.1"), addr("198.18.0.1"), key=1001, ttl=64),
        mtu=1472,
        address=iface("192.0.2.161/30"),
    )
    assert path.routes == (
        PathRoute(net("203.0.113.0/24"), "scr-acme", None, 4200),
        PathRoute(net("2001:db8:100::/48"), "scr-acme", None, 4200),
    )


def test_gre_over_ipv6_has_its_mtu_and_ttl() -> None:
    path = desired_state(inventory(), "fra").paths[2]
    assert path.tunnel is not None
    assert (path.tunnel.params.kind, path.tunnel.params.key) == ("ip6gre", None)
    assert (path.tunnel.mtu, path.tunnel.params.ttl) == (1456, 32)


@pytest.mark.parametrize(
    ("edit", "mtu"),
    [
        ({"customers.acme.return_paths.fra.key": None}, 1476),
        ({"customers.acme.return_paths.fra.mtu": 1400}, 1400),
    ],
    ids=["unkeyed", "set_by_inventory"],
)
def test_gre_mtu(edit: dict[str, object], mtu: int) -> None:
    tunnel = desired_state(inventory(edit), "fra").paths[0].tunnel
    assert tunnel is not None and tunnel.mtu == mtu


def test_dedicated_line_routes_via_the_next_hop() -> None:
    path = desired_state(inventory(), "fra").paths[1]
    assert (path.kind, path.tunnel, path.problem) == ("dedicated", None, None)
    assert path.line == Line("line0", (addr("192.0.2.130"),))
    assert path.routes == (PathRoute(net("198.51.100.0/24"), "line0", addr("192.0.2.130"), 4200),)


def test_dedicated_next_hop_of_the_other_family_is_a_problem() -> None:
    edit = {"customers.beta.prefixes": [{"prefix": "198.51.100.0/24"}, {"prefix": "2001:db8::/48"}]}
    path = desired_state(inventory(edit), "fra").paths[1]
    assert path.problem == (
        "the line has a next hop for IPv4 (192.0.2.130) only: it cannot carry 2001:db8::/48"
    )


def test_dual_stack_line_routes_each_family_via_its_own_next_hop() -> None:
    edit = {
        "customers.beta.prefixes": [{"prefix": "198.51.100.0/24"}, {"prefix": "2001:db8::/48"}],
        "customers.beta.return_paths.fra.next_hop_v6": "2001:db8:ffff::2",
    }
    path = desired_state(inventory(edit), "fra").paths[1]
    assert path.problem is None
    assert path.line == Line("line0", (addr("192.0.2.130"), addr("2001:db8:ffff::2")))
    assert path.routes == (
        PathRoute(net("198.51.100.0/24"), "line0", addr("192.0.2.130"), 4200),
        PathRoute(net("2001:db8::/48"), "line0", addr("2001:db8:ffff::2"), 4200),
    )


def test_next_hop_v6_must_be_ipv6_beside_an_ipv4_next_hop() -> None:
    edit = {"customers.beta.return_paths.fra.next_hop_v6": "192.0.2.131"}
    with pytest.raises(InventoryErrors, match="next_hop must be the IPv4 next hop"):
        inventory(edit)


def test_rules_per_upstream_interface_and_family_in_the_sites_table() -> None:
    edit = {"sites.fra.upstream_interfaces": ["up0", "up1"], "sites.fra.return_table": 777}
    desired = desired_state(inventory(edit), "fra")
    assert desired.table == 777
    assert desired.rules == (
        PolicyRule(4, "up0", 17000, 777),
        PolicyRule(6, "up0", 17000, 777),
        PolicyRule(4, "up1", 17000, 777),
        PolicyRule(6, "up1", 17000, 777),
        PolicyRule(4, "", 17001, 777, fwmark=PROBE_MARK),
        PolicyRule(6, "", 17001, 777, fwmark=PROBE_MARK),
    )
    assert {r.table for p in desired.paths for r in p.routes} == {777}
    assert desired.warnings == ()


def test_no_upstream_interfaces_is_a_warning() -> None:
    desired = desired_state(inventory({"sites.fra.upstream_interfaces": []}), "fra")
    assert [rule.iif for rule in desired.rules] == ["", ""]  # the probes' rules only
    assert desired.warnings == (
        "sites.fra.upstream_interfaces: not set, so no traffic is routed by table 4200 "
        "and the return paths carry nothing",
    )


@pytest.mark.parametrize(
    ("customer", "name"),
    [
        ("acme", "scr-acme"),
        ("abcdefghijk", "scr-abcdefghijk"),
        ("pharmacy-shops", "scr-pharma-eb14"),
    ],
)
def test_tunnel_names_fit_ifnamsiz(customer: str, name: str) -> None:
    assert tunnel_name(customer) == name
    assert len(tunnel_name(customer)) <= IFNAMSIZ


def test_long_names_differ_by_their_hash() -> None:
    assert tunnel_name("pharmacy-shops-1") != tunnel_name("pharmacy-shops-2")
    assert tunnel_name("pharmacy-shops-1") == "scr-pharma-7111"


def test_colliding_tunnel_names_make_the_second_path_a_problem() -> None:
    clash = tunnel_name("pharmacy-shops-1").removeprefix("scr-")  # a short name equal to it
    data = inventory().model_dump(mode="json")
    data["customers"][clash] = data["customers"].pop("acme")
    data["customers"]["pharmacy-shops-1"] = data["customers"].pop("gamma")

    paths = {p.customer: p for p in desired_state(parse_inventory(data), "fra").paths}
    assert paths[clash].tunnel is not None
    later = paths["pharmacy-shops-1"]
    assert later.tunnel is None and later.routes == ()
    assert later.problem == f"tunnel name scr-{clash} is already customer {clash}'s"
