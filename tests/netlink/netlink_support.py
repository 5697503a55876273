"""A small inventory with every return-path kind, shared by the netlink tests."""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.inventory import Inventory, parse_inventory

BASE: dict[str, Any] = {
    "policy": {"asn": 64500, "allow_reserved_prefixes": True},
    "sites": {
        "fra": {
            "router_id": "192.0.2.1",
            "peers": [{"name": "t1", "address": "192.0.2.254", "asn": 64501}],
            "upstream_interfaces": ["up0"],
        }
    },
    "customers": {
        "acme": {  # keyed GRE over IPv4, dual-stack prefixes
            "asn": 64496,
            "prefixes": [{"prefix": "203.0.113.0/24"}, {"prefix": "2001:db8:100::/48"}],
            "sites": [{"site": "fra"}],
            "return_paths": {
                "fra": {
                    "kind": "gre",
                    "local": "192.0.2.1",
                    "remote": "198.18.0.1",
                    "key": 1001,
                    "inner_local": "192.0.2.161/30",
                    "inner_remote": "192.0.2.162",
                }
            },
        },
        "beta": {  # dedicated line
            "asn": 64497,
            "prefixes": [{"prefix": "198.51.100.0/24"}],
            "sites": [{"site": "fra"}],
            "return_paths": {
                "fra": {"kind": "dedicated", "interface": "line0", "next_hop": "192.0.2.130"}
            },
        },
        "gamma": {  # GRE over IPv6, no key
            "asn": 64498,
            "prefixes": [{"prefix": "2001:db8:200::/48"}],
            "sites": [{"site": "fra"}],
            "return_paths": {
                "fra": {
                    "kind": "gre",
                    "local": "2001:db8:ffff::1",
                    "remote": "2001:db8:fffe::1",
                    "inner_local": "2001:db8:ff00::1/64",
                    "inner_remote": "2001:db8:ff00::2",
                    "ttl": 32,
                }
            },
        },
    },
}


def inventory(edit: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> Inventory:
    """BASE without the ``drop``ped customers, with ``{"a.b.c": value}`` edits."""
    data = copy.deepcopy(BASE)
    for name in drop:
        del data["customers"][name]
    for path, value in (edit or {}).items():
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return parse_inventory(data)
