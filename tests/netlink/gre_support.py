"""The GRE/ip6gre return-path set-up shared by the real-kernel GRE tests (run in UML here).

Topology (three namespaces the test creates with the ``netns`` fixture)::

    up --up0-- site ==scr-acme (GRE over wan0)==> ce (hand-made peer: ip link add ... type gre)
                                                  203.0.113.1, 2001:db8:100::1 on lo

The site's side is built by our netlink driver from ``inventory(GRE4)`` or
``inventory(GRE6)``; the peer with iproute2, not with our driver, so key, TTL
and the encapsulation are checked against an independent implementation.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conftest import sh

from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.pyroute import PyrouteKernel
from orchestrator.drivers.netlink.reconcile import ApplyReport, apply
from orchestrator.inventory import Inventory, parse_inventory

GRE4 = {
    "kind": "gre",
    "local": "198.18.0.1",
    "remote": "198.18.0.2",
    "key": 1001,
    "inner_local": "192.0.2.161/30",
    "inner_remote": "192.0.2.162",
}
GRE6 = {
    "kind": "gre",
    "local": "2001:db8:f::1",
    "remote": "2001:db8:f::2",
    "inner_local": "2001:db8:ff00::1/64",
    "inner_remote": "2001:db8:ff00::2",
    "ttl": 32,
}
PEER4 = ["type", "gre", "local", "198.18.0.2", "remote", "198.18.0.1", "key", "1001", "ttl", "64"]
PEER6 = ["type", "ip6gre", "local", "2001:db8:f::2", "remote", "2001:db8:f::1", "hoplimit", "32"]
PEER_LINK = "gre-site"  # the customer edge's end of the tunnel


def inventory(path: dict[str, Any] | None, **edit: Any) -> Inventory:
    """Site fra (upstream ``up0``) and, unless ``path`` is None, acme with that return path."""
    data: dict[str, Any] = {
        "policy": {"asn": 64500, "allow_reserved_prefixes": True},
        "sites": {
            "fra": {
                "router_id": "192.0.2.1",
                "peers": [{"name": "t1", "address": "198.18.1.2", "asn": 64501}],
                "upstream_interfaces": ["up0"],
            }
        },
        "customers": {},
    }
    if path is not None:
        data["customers"]["acme"] = {
            "asn": 64496,
            "prefixes": [{"prefix": "203.0.113.0/24"}, {"prefix": "2001:db8:100::/48"}],
            "sites": [{"site": "fra"}],
            "return_paths": {"fra": copy.deepcopy(path) | edit},
        }
    return parse_inventory(data)


@dataclass(frozen=True)
class Lab:
    site: str
    up: str
    ce: str

    def apply(self, inv: Inventory) -> tuple[ApplyReport, int]:
        with PyrouteKernel(netns=self.site) as kernel:
            report = apply(kernel, desired_state(inv, "fra"))
            return report, kernel.writes

    def peer(self, args: list[str], address: str) -> None:
        """The customer edge's end of the tunnel, made with iproute2; replies go back in it."""
        sh("ip", "-n", self.ce, "link", "add", PEER_LINK, *args)
        sh("ip", "-n", self.ce, "addr", "add", address, "dev", PEER_LINK)
        sh("ip", "-n", self.ce, "link", "set", PEER_LINK, "up")
        sh("ip", "-n", self.ce, "route", "add", "default", "dev", PEER_LINK)
        sh("ip", "-n", self.ce, "-6", "route", "add", "default", "dev", PEER_LINK)


def veth(a: str, a_if: str, b: str, b_if: str) -> None:
    sh("ip", "-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b)
    sh("ip", "-n", a, "link", "set", a_if, "up")
    sh("ip", "-n", b, "link", "set", b_if, "up")


def addr(ns: str, dev: str, *addresses: str) -> None:
    for address in addresses:
        sh("ip", "-n", ns, "addr", "add", address, "dev", dev)


def build_lab(netns: Callable[[str], str]) -> Lab:
    """The three namespaces of the picture above, addressed; no tunnel yet."""
    site, up, ce = netns("site"), netns("up"), netns("ce")
    veth(site, "up0", up, "eth0")
    veth(site, "wan0", ce, "eth0")
    addr(site, "up0", "198.18.1.1/30", "2001:db8:1::1/64")
    addr(up, "eth0", "198.18.1.2/30", "2001:db8:1::2/64")
    addr(site, "wan0", "198.18.0.1/30", "2001:db8:f::1/64")
    addr(ce, "eth0", "198.18.0.2/30", "2001:db8:f::2/64")
    addr(ce, "lo", "203.0.113.1/32", "2001:db8:100::1/128")
    sh("ip", "-n", up, "route", "add", "default", "via", "198.18.1.1")
    sh("ip", "-n", up, "-6", "route", "add", "default", "via", "2001:db8:1::1")
    for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
        sh("ip", "netns", "exec", site, "sysctl", "-qw", key)
    return Lab(site, up, ce)


def pings(ns: str, target: str, *args: str) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", *args, target],
        capture_output=True,
        timeout=10,
    )
    return done.returncode == 0
