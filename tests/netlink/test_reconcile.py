"""The reconciler against the fake kernel: desired vs existing -> exactly these writes."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from netlink_support import inventory

from orchestrator.domain import Health
from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.marks import PROBE_MARK
from orchestrator.drivers.netlink.ops import (
    AddAddress,
    AddRoute,
    AddRule,
    AddTunnel,
    DeleteAddress,
    DeleteLink,
    DeleteRoute,
    DeleteRule,
    ReplaceRoute,
    SetLink,
)
from orchestrator.drivers.netlink.reconcile import apply
from orchestrator.drivers.netlink.state import PathRoute, PolicyRule, TunnelParams
from orchestrator.inventory import Inventory
from orchestrator.testing.netlink import FakeKernel

net = ipaddress.ip_network
addr = ipaddress.ip_address
iface = ipaddress.ip_interface

ACME_ROUTES = [
    PathRoute(net("203.0.113.0/24"), "scr-acme", None, 4200),
    PathRoute(net("2001:db8:100::/48"), "scr-acme", None, 4200),
]
BETA_ROUTE = PathRoute(net("198.51.100.0/24"), "line0", addr("192.0.2.130"), 4200)
GAMMA_ROUTE = PathRoute(net("2001:db8:200::/48"), "scr-gamma", None, 4200)
RULES = [PolicyRule(4, "up0", 17000, 4200), PolicyRule(6, "up0", 17000, 4200)]
PROBE_RULES = [PolicyRule(f, "", 17001, 4200, fwmark=PROBE_MARK) for f in (4, 6)]


def site_kernel() -> FakeKernel:
    """The interfaces a site has before scrubctl runs, plus a foreign route and rule."""
    kernel = FakeKernel()
    kernel.add_interface("wan0", [iface("192.0.2.1/25"), iface("2001:db8:ffff::1/64")])
    kernel.add_interface("up0", [iface("198.18.1.1/30")])
    kernel.add_interface("line0", [iface("192.0.2.129/30"), iface("fe80::1/64")])
    kernel.add_foreign_route(PathRoute(net("10.0.0.0/8"), "wan0", None, 4200), protocol=4)
    kernel.add_foreign_rule(PolicyRule(4, "up0", 17000, 4200), protocol=0)
    return kernel


def converge(kernel: FakeKernel, inv: Inventory) -> None:
    apply(kernel, desired_state(inv, "fra"))
    kernel.ops.clear()


def test_first_run_builds_every_path_in_order() -> None:
    kernel = site_kernel()
    report = apply(kernel, desired_state(inventory(), "fra"))
    acme, gamma = desired_state(inventory(), "fra").tunnels
    assert kernel.ops == [
        AddTunnel(acme),
        AddAddress("scr-acme", iface("192.0.2.161/30")),
        AddTunnel(gamma),
        AddAddress("scr-gamma", iface("2001:db8:ff00::1/64")),
        AddRoute(BETA_ROUTE),
        AddRoute(ACME_ROUTES[0]),
        AddRoute(ACME_ROUTES[1]),
        AddRoute(GAMMA_ROUTE),
        *(AddRule(rule) for rule in sorted(RULES + PROBE_RULES)),
    ]
    assert [(p.customer, p.health, p.cause) for p in report.paths] == [
        ("acme", Health.UNKNOWN, None),
        ("beta", Health.UNKNOWN, None),
        ("gamma", Health.UNKNOWN, None),
    ]
    assert report.errors == ()


def test_second_run_without_change_writes_nothing() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    report = apply(kernel, desired_state(inventory(), "fra"))
    assert kernel.ops == []
    assert report.steps == ()


def test_removed_customer_removes_exactly_its_objects() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    before = {name: link for name, link in kernel.links.items() if name != "scr-acme"}
    apply(kernel, desired_state(inventory(drop=("acme",)), "fra"))
    assert kernel.ops == [DeleteLink("scr-acme")]  # its routes go with the link
    assert kernel.links == before
    assert sorted(map(str, kernel.owned_routes())) == sorted(map(str, [BETA_ROUTE, GAMMA_ROUTE]))


def test_removed_dedicated_path_removes_only_its_route() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    apply(kernel, desired_state(inventory(drop=("beta",)), "fra"))
    assert kernel.ops == [DeleteRoute(BETA_ROUTE)]
    assert "line0" in kernel.links


def test_foreign_route_and_rule_in_our_table_survive_everything() -> None:
    kernel = site_kernel()
    foreign_routes = [e for e in kernel.routes]
    foreign_rules = [e for e in kernel.rules]
    converge(kernel, inventory())
    apply(
        kernel,
        desired_state(
            inventory({"sites.fra.upstream_interfaces": []}, drop=("acme", "beta", "gamma")), "fra"
        ),
    )
    assert kernel.routes == foreign_routes
    assert kernel.rules == foreign_rules


def test_changed_key_recreates_the_tunnel_and_its_routes() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    inv = inventory({"customers.acme.return_paths.fra.key": 7})
    acme = desired_state(inv, "fra").tunnels[0]
    apply(kernel, desired_state(inv, "fra"))
    assert kernel.ops == [
        DeleteLink("scr-acme"),
        AddTunnel(acme),
        AddAddress("scr-acme", iface("192.0.2.161/30")),
        *(AddRoute(route) for route in ACME_ROUTES),
    ]
    assert kernel.links["scr-acme"].tunnel == TunnelParams(
        "gre", addr("192.0.2.1"), addr("198.18.0.1"), key=7, ttl=64
    )


def test_changed_mtu_is_one_link_write() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    apply(kernel, desired_state(inventory({"customers.acme.return_paths.fra.mtu": 1400}), "fra"))
    assert kernel.ops == [SetLink("scr-acme", 1400)]


def test_changed_inner_address_replaces_only_the_address() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    edit = {
        "customers.acme.return_paths.fra.inner_local": "192.0.2.165/30",
        "customers.acme.return_paths.fra.inner_remote": "192.0.2.166",
    }
    apply(kernel, desired_state(inventory(edit), "fra"))
    assert kernel.ops == [
        DeleteAddress("scr-acme", iface("192.0.2.161/30")),
        AddAddress("scr-acme", iface("192.0.2.165/30")),
    ]


def test_kernel_link_local_address_on_a_tunnel_is_left_alone() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    link = kernel.links["scr-acme"]
    kernel.links["scr-acme"] = link.__class__(
        link.index, link.name, link.up, link.mtu, link.alias, link.tunnel,
        (*link.addresses, iface("fe80::c000:201/64")),
    )  # fmt: skip
    apply(kernel, desired_state(inventory(), "fra"))
    assert kernel.ops == []


def test_moved_next_hop_replaces_the_route() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    apply(
        kernel,
        desired_state(
            inventory({"customers.beta.return_paths.fra.next_hop": "192.0.2.131"}), "fra"
        ),
    )
    assert kernel.ops == [
        ReplaceRoute(PathRoute(net("198.51.100.0/24"), "line0", addr("192.0.2.131"), 4200))
    ]


def test_upstream_interface_change_moves_only_rules() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    apply(kernel, desired_state(inventory({"sites.fra.upstream_interfaces": ["up1"]}), "fra"))
    assert kernel.ops == [
        *(DeleteRule(rule) for rule in RULES),
        AddRule(PolicyRule(4, "up1", 17000, 4200)),
        AddRule(PolicyRule(6, "up1", 17000, 4200)),
    ]


@pytest.mark.parametrize(
    ("prepare", "cause"),
    [
        (lambda k: k.links.pop("line0"), "interface line0 does not exist"),
        (
            lambda k: k.links.update(line0=k.links["line0"].__class__(3, "line0", False, 1500)),
            "interface line0 is down",
        ),
        (
            lambda k: k.add_interface("line0", [iface("192.0.2.133/30")]),
            "next hop 192.0.2.130 is not in a subnet of line0 (192.0.2.133/30)",
        ),
        (
            lambda k: k.add_interface("line0", [iface("fe80::1/64")]),
            "next hop 192.0.2.130 is not in a subnet of line0 (no IPv4 address)",
        ),
    ],
    ids=["missing", "down", "other_subnet", "no_address"],
)
def test_unusable_dedicated_line_is_down_with_its_cause(
    prepare: Callable[[FakeKernel], object], cause: str
) -> None:
    kernel = site_kernel()
    prepare(kernel)
    report = apply(kernel, desired_state(inventory(), "fra"))
    beta = report.status("beta")
    assert (beta.health, beta.cause, beta.interface) == (Health.DOWN, cause, "line0")
    assert BETA_ROUTE not in kernel.owned_routes()
    assert report.status("acme").health is Health.UNKNOWN


def test_line_failing_later_removes_its_route() -> None:
    kernel = site_kernel()
    converge(kernel, inventory())
    kernel.add_interface("line0", [iface("192.0.2.133/30")])  # renumbered: next hop outside
    report = apply(kernel, desired_state(inventory(), "fra"))
    assert kernel.ops == [DeleteRoute(BETA_ROUTE)]
    assert report.status("beta").health is Health.DOWN


def test_foreign_interface_with_our_tunnel_name_is_not_touched() -> None:
    kernel = site_kernel()
    kernel.add_interface("scr-acme", [iface("10.9.9.9/24")], mtu=9000)
    foreign = kernel.links["scr-acme"]
    report = apply(kernel, desired_state(inventory(), "fra"))
    assert report.status("acme").cause == (
        "interface scr-acme exists and is not scrubctl's (no scrubctl alias)"
    )
    assert kernel.links["scr-acme"] == foreign
    assert not any(getattr(op, "name", None) == "scr-acme" for op in kernel.ops)


def test_missing_gre_local_address_is_down() -> None:
    kernel = site_kernel()
    kernel.links.pop("wan0")
    report = apply(kernel, desired_state(inventory(), "fra"))
    assert (
        report.status("acme").cause == "local address 192.0.2.1 is not configured on any interface"
    )
    assert "scr-acme" not in kernel.links


def test_refused_write_makes_that_path_down_and_builds_the_others() -> None:
    kernel = site_kernel()
    kernel.refuse.add("scr-acme")
    report = apply(kernel, desired_state(inventory(), "fra"))
    assert report.status("acme").cause == (
        "add gre scr-acme 192.0.2.1 -> 198.18.0.1 key 1001 ttl 64 mtu 1472: File exists (errno 17)"
    )
    assert not any(isinstance(op, AddAddress) and op.link == "scr-acme" for op in kernel.ops)
    assert report.status("gamma").health is Health.UNKNOWN
    assert GAMMA_ROUTE in kernel.owned_routes()


def test_family_mismatch_on_a_line_is_down_and_builds_nothing() -> None:
    kernel = site_kernel()
    edit = {"customers.beta.prefixes": [{"prefix": "198.51.100.0/24"}, {"prefix": "2001:db8::/48"}]}
    report = apply(kernel, desired_state(inventory(edit), "fra"))
    assert report.status("beta").health is Health.DOWN
    assert BETA_ROUTE not in kernel.owned_routes()
