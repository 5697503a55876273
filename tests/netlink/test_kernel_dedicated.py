"""The netlink driver on the host kernel: dedicated lines over veth, in namespaces we create.

Topology (three namespaces)::

    up (upstream) --up0-- site --line0-- cust (customer edge, 198.51.100.1, 2001:db8:300::1)

The site's main table sends the customer prefixes nowhere (unreachable), so
only traffic arriving on ``up0`` reaches the customer, through table 4200.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ip_json, kernel_reason, sh

from orchestrator.domain import Health
from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.kernel import KernelError
from orchestrator.drivers.netlink.pyroute import PyrouteKernel
from orchestrator.drivers.netlink.reconcile import ApplyReport, apply
from orchestrator.inventory import Inventory, parse_inventory

INVENTORY: dict[str, Any] = {
    "policy": {"asn": 64500, "allow_reserved_prefixes": True},
    "sites": {
        "fra": {
            "router_id": "192.0.2.1",
            "peers": [{"name": "t1", "address": "198.18.1.2", "asn": 64501}],
            "upstream_interfaces": ["up0"],
        }
    },
    "customers": {
        "beta": {
            "asn": 64497,
            "prefixes": [{"prefix": "198.51.100.0/24"}],
            "sites": [{"site": "fra"}],
            "return_paths": {
                "fra": {"kind": "dedicated", "interface": "line0", "next_hop": "192.0.2.130"}
            },
        },
        "delta": {
            "asn": 64499,
            "prefixes": [{"prefix": "2001:db8:300::/48"}],
            "sites": [{"site": "fra"}],
            "return_paths": {
                "fra": {"kind": "dedicated", "interface": "line0", "next_hop": "2001:db8:2::2"}
            },
        },
    },
}


def inventory(drop: tuple[str, ...] = (), upstream: bool = True, **line: str) -> Inventory:
    data = copy.deepcopy(INVENTORY)
    if not upstream:
        data["sites"]["fra"]["upstream_interfaces"] = []
    for name in drop:
        del data["customers"][name]
    for customer, interface in line.items():
        data["customers"][customer]["return_paths"]["fra"]["interface"] = interface
    return parse_inventory(data)


@dataclass(frozen=True)
class Lab:
    site: str
    up: str
    cust: str

    def apply(self, inv: Inventory) -> tuple[ApplyReport, int]:
        with PyrouteKernel(netns=self.site) as kernel:
            report = apply(kernel, desired_state(inv, "fra"))
            return report, kernel.writes


def veth(a: str, a_if: str, b: str, b_if: str) -> None:
    sh("ip", "-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b)
    sh("ip", "-n", a, "link", "set", a_if, "up")
    sh("ip", "-n", b, "link", "set", b_if, "up")


def addr(ns: str, dev: str, *addresses: str) -> None:
    for address in addresses:
        extra = ["nodad"] if ":" in address else []
        sh("ip", "-n", ns, "addr", "add", address, "dev", dev, *extra)


@pytest.fixture
def lab(netns: Callable[[str], str]) -> Lab:
    site, up, cust = netns("site"), netns("up"), netns("cust")
    veth(site, "up0", up, "eth0")
    veth(site, "line0", cust, "eth0")
    addr(site, "up0", "198.18.1.1/30", "2001:db8:1::1/64")
    addr(up, "eth0", "198.18.1.2/30", "2001:db8:1::2/64")
    addr(site, "line0", "192.0.2.129/30", "2001:db8:2::1/64")
    addr(cust, "eth0", "192.0.2.130/30", "2001:db8:2::2/64")
    addr(cust, "lo", "198.51.100.1/32", "2001:db8:300::1/128")
    sh("ip", "-n", up, "route", "add", "default", "via", "198.18.1.1")
    sh("ip", "-n", up, "-6", "route", "add", "default", "via", "2001:db8:1::1")
    sh("ip", "-n", cust, "route", "add", "default", "via", "192.0.2.129")
    sh("ip", "-n", cust, "-6", "route", "add", "default", "via", "2001:db8:2::1")
    sh("ip", "-n", site, "route", "add", "unreachable", "198.51.100.0/24")
    sh("ip", "-n", site, "-6", "route", "add", "unreachable", "2001:db8:300::/48")
    for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
        sh("ip", "netns", "exec", site, "sysctl", "-qw", key)
    return Lab(site, up, cust)


def routes(ns: str, family: str = "-4", table: str = "4200") -> list[dict[str, Any]]:
    """The table's routes; [] if the kernel has no such table (yet, or any more)."""
    done = sh("ip", "-n", ns, "-j", family, "route", "show", "table", table, check=False)
    if done.returncode != 0 and "does not exist" in done.stderr:
        return []
    done.check_returncode()
    return json.loads(done.stdout) if done.stdout.strip() else []


def our_rules(ns: str, family: str) -> list[dict[str, Any]]:
    return [r for r in ip_json(ns, family, "rule", "show") if r.get("priority") in (17000, 17001)]


def pings(ns: str, target: str) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", target],
        capture_output=True,
        timeout=10,
    )
    return done.returncode == 0


def test_apply_installs_marked_routes_and_rules(lab: Lab) -> None:
    report, writes = lab.apply(inventory())
    assert [(p.customer, p.health) for p in report.paths] == [
        ("beta", Health.UNKNOWN),
        ("delta", Health.UNKNOWN),
    ]
    assert writes == 6  # two routes, two upstream rules, two probe rules
    assert routes(lab.site) == [
        {"dst": "198.51.100.0/24", "gateway": "192.0.2.130", "dev": "line0",
         "protocol": "245", "flags": []},
    ]  # fmt: skip
    v6 = routes(lab.site, "-6")
    assert [(r["dst"], r["gateway"], r["dev"], r["protocol"]) for r in v6] == [
        ("2001:db8:300::/48", "2001:db8:2::2", "line0", "245")
    ]
    for family in ("-4", "-6"):
        rules = our_rules(lab.site, family)
        assert [
            (r.get("iif"), r.get("fwmark"), r["priority"], r["table"], r["protocol"]) for r in rules
        ] == [("up0", None, 17000, "4200", "245"), (None, "0x5c420001", 17001, "4200", "245")]


def test_second_apply_makes_no_netlink_write(lab: Lab) -> None:
    lab.apply(inventory())
    report, writes = lab.apply(inventory())
    assert writes == 0
    assert report.steps == ()


def test_removing_a_path_removes_exactly_its_route(lab: Lab) -> None:
    lab.apply(inventory())
    _, writes = lab.apply(inventory(drop=("beta",)))
    assert writes == 1
    assert routes(lab.site) == []
    assert [r["dst"] for r in routes(lab.site, "-6")] == ["2001:db8:300::/48"]
    assert [r.get("iif") for r in our_rules(lab.site, "-4")] == ["up0", None]  # + probe rule


def test_foreign_objects_survive_apply_and_removal(lab: Lab) -> None:
    sh("ip", "-n", lab.site, "route", "add", "10.0.0.0/8", "via", "192.0.2.130", "table", "4200")
    sh("ip", "-n", lab.site, "rule", "add", "iif", "up0", "priority", "17000", "table", "4200")
    sh("ip", "-n", lab.site, "link", "add", "scr-beta", "type", "veth", "peer", "name", "scr-x")
    before = (routes(lab.site), our_rules(lab.site, "-4"), ip_json(lab.site, "link", "show"))
    lab.apply(inventory(drop=("delta",)))
    lab.apply(inventory(drop=("beta", "delta"), upstream=False))
    assert (routes(lab.site), our_rules(lab.site, "-4"), ip_json(lab.site, "link", "show")) == (
        before
    )


def test_foreign_interface_holding_the_line_name_is_still_only_used(lab: Lab) -> None:
    link_before = ip_json(lab.site, "addr", "show", "dev", "line0")
    lab.apply(inventory())
    lab.apply(inventory(drop=("beta", "delta")))
    assert ip_json(lab.site, "addr", "show", "dev", "line0") == link_before
    assert routes(lab.site) == [] and routes(lab.site, "-6") == []


def test_missing_interface_is_down_with_cause_and_the_rest_is_built(lab: Lab) -> None:
    report, _ = lab.apply(inventory(beta="line9"))
    beta = report.status("beta")
    assert (beta.health, beta.cause) == (Health.DOWN, "interface line9 does not exist")
    assert report.status("delta").health is Health.UNKNOWN
    assert routes(lab.site) == []
    assert len(routes(lab.site, "-6")) == 1


def test_next_hop_outside_the_line_is_down_with_cause(lab: Lab) -> None:
    sh("ip", "-n", lab.site, "addr", "flush", "dev", "line0", "scope", "global")
    sh("ip", "-n", lab.site, "addr", "add", "192.0.2.133/30", "dev", "line0")
    report, _ = lab.apply(inventory(drop=("delta",)))
    assert report.status("beta").cause == (
        "next hop 192.0.2.130 is not in a subnet of line0 (192.0.2.133/30)"
    )
    assert routes(lab.site) == []


def test_line_going_down_and_up_again(lab: Lab) -> None:
    lab.apply(inventory())
    sh("ip", "-n", lab.site, "link", "set", "line0", "down")
    report, _ = lab.apply(inventory())
    assert report.status("beta").cause == "interface line0 is down"
    assert routes(lab.site) == [] and routes(lab.site, "-6") == []
    sh("ip", "-n", lab.site, "link", "set", "line0", "up")
    report, _ = lab.apply(inventory())
    assert report.status("beta").health is Health.UNKNOWN
    assert [r["dst"] for r in routes(lab.site)] == ["198.51.100.0/24"]
    # the kernel removed the line's global IPv6 address when it went down:
    cause = report.status("delta").cause or ""
    assert cause.startswith("next hop 2001:db8:2::2 is not in a subnet of line0 (fe80::")
    addr(lab.site, "line0", "2001:db8:2::1/64")
    report, _ = lab.apply(inventory())
    assert report.status("delta").health is Health.UNKNOWN
    assert [r["dst"] for r in routes(lab.site, "-6")] == ["2001:db8:300::/48"]
    assert lab.apply(inventory())[1] == 0


@pytest.mark.parametrize("target", ["198.51.100.1", "2001:db8:300::1"])
def test_upstream_traffic_goes_into_the_line_own_traffic_uses_main(lab: Lab, target: str) -> None:
    assert not pings(lab.up, target)  # before: main table says unreachable
    lab.apply(inventory())
    assert pings(lab.up, target)  # from the upstream: table 4200, into the line
    assert not pings(lab.site, target)  # the site's own traffic: main table, unreachable


def test_missing_namespace_is_a_kernel_error_and_creates_nothing() -> None:
    if reason := kernel_reason():
        pytest.skip(reason)
    name = "scrt-never-created"
    with pytest.raises(KernelError, match=f"network namespace {name} does not exist"):
        PyrouteKernel(netns=name)
    assert name not in sh("ip", "netns", "list").stdout
