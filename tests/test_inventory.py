"""Inventory validation: every message names its place with a dotted path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestrator.errors import InvalidInput
from orchestrator.inventory import InventoryErrors, parse_inventory

BASE: dict[str, Any] = {
    "policy": {"asn": 64500, "allow_reserved_prefixes": True},
    "sites": {
        "fra": {
            "router_id": "192.0.2.1",
            "peers": [{"name": "t1", "address": "192.0.2.254", "asn": 64501}],
        }
    },
    "customers": {
        "acme": {
            "asn": 64496,
            "prefixes": [{"prefix": "203.0.113.0/24"}, {"prefix": "2001:db8:100::/48"}],
            "sites": [{"site": "fra"}],
            "return_paths": {
                "fra": {"kind": "dedicated", "interface": "eth3", "next_hop": "192.0.2.130"}
            },
        }
    },
}


def errors_for(change: dict[str, Any]) -> list[str]:
    """Apply ``{"a.b[1].c": value}`` edits to a copy of BASE; the error lines."""
    data = copy.deepcopy(BASE)
    for path, value in change.items():
        node: Any = data
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    with pytest.raises(InventoryErrors) as info:
        parse_inventory(data)
    return [str(e) for e in info.value.errors]


def test_the_base_is_valid() -> None:
    inv = parse_inventory(copy.deepcopy(BASE))
    assert inv.customers["acme"].prefixes[1].longest == 48
    assert inv.site_asn("fra") == 64500


CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "bad_prefix": (
        {"customers.acme.prefixes[1].prefix": "2001:db8:100::/129"},
        [
            "customers.acme.prefixes[1].prefix: '2001:db8:100::/129' is not a network with "
            "prefix length ('2001:db8:100::/129' does not appear to be an IPv4 or IPv6 network)"
        ],
    ),
    "v6_too_long": (
        {"customers.acme.prefixes[1].prefix": "2001:db8:100::/56"},
        [
            "customers.acme.prefixes[1].prefix: 2001:db8:100::/56 is longer than /48, "
            "which does not propagate",
            "customers.acme.prefixes[1].max_length: 56 must be between 56 and 48",
        ],
    ),
    "max_length_shorter_than_prefix": (
        {"customers.acme.prefixes[0].max_length": 20},
        ["customers.acme.prefixes[0].max_length: 20 must be between 24 and 24"],
    ),
    "reserved": (
        {
            "policy.allow_reserved_prefixes": False,
            "customers.acme.prefixes": [{"prefix": "fc00::/48"}],
        },
        [
            "customers.acme.prefixes[0].prefix: fc00::/48 overlaps reserved range fc00::/7 "
            "(set policy.allow_reserved_prefixes for a lab)"
        ],
    ),
    "outside_global_unicast": (
        {
            "policy.allow_reserved_prefixes": False,
            "customers.acme.prefixes": [{"prefix": "4000::/48"}],
        },
        [
            "customers.acme.prefixes[0].prefix: 4000::/48 lies outside global unicast 2000::/3 "
            "(set policy.allow_reserved_prefixes for a lab)"
        ],
    ),
    "asn_out_of_range": (
        {"customers.acme.asn": 4294967295},
        ["customers.acme.asn: Input should be less than or equal to 4294967294"],
    ),
    "bad_name": (
        {"customers": {"Acme Corp": BASE["customers"]["acme"]}},
        ["customers.Acme Corp: String should match pattern '^[a-z0-9][a-z0-9_-]{0,62}$'"],
    ),
    "bad_peer_address": (
        {"sites.fra.peers[0].address": "192.0.2.300"},
        ["sites.fra.peers[0].address: '192.0.2.300' is not an IPv4 or IPv6 address"],
    ),
    "no_peers": (
        {"sites.fra.peers": []},
        ["sites.fra.peers: Tuple should have at least 1 item after validation, not 0"],
    ),
    "bad_interface_name": (
        {"customers.acme.return_paths.fra.interface": "eth3; reboot"},
        [
            "customers.acme.return_paths.fra.interface: String should match pattern "
            "'^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$'"
        ],
    ),
    "unknown_return_path_kind": (
        {"customers.acme.return_paths.fra.kind": "vxlan"},
        [
            "customers.acme.return_paths.fra: Input tag 'vxlan' found using 'kind' does not "
            "match any of the expected tags: 'gre', 'dedicated'"
        ],
    ),
    "return_path_at_a_site_not_used": (
        {
            "customers.acme.sites": [{"site": "fra"}],
            "customers.acme.return_paths.ams": {
                "kind": "dedicated",
                "interface": "eth1",
                "next_hop": "192.0.2.1",
            },
        },
        ["customers.acme.return_paths.ams: site 'ams' is not one of the customer's sites"],
    ),
    "md5_both_env_and_file": (
        {"sites.fra.peers[0].md5": {"env": "X", "file": "/run/secret"}},
        ["sites.fra.peers[0].md5: give exactly one of env or file"],
    ),
    "large_community": (
        {"customers.acme.large_communities": ["1:2"]},
        [
            "customers.acme.large_communities[0]: '1:2' is not a large community "
            "(want GLOBAL:LOCAL1:LOCAL2)"
        ],
    ),
    "rtbh_policy_too_wide": (
        {"policy.rtbh": {"min_length_v4": 16}},
        ["policy.rtbh.min_length_v4: Input should be greater than or equal to 24"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_message(case: str) -> None:
    change, expected = CASES[case]
    assert errors_for(change) == expected


def test_every_error_is_reported_at_once() -> None:
    lines = errors_for(
        {"customers.acme.asn": 0, "sites.fra.router_id": "nope", "policy.drain_time": -1}
    )
    assert [line.split(":")[0] for line in lines] == [
        "policy.drain_time",
        "sites.fra.router_id",
        "customers.acme.asn",
    ]


def test_errors_are_one_invalid_input_with_one_line_each() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_inventory({"policy": {"asn": 1}, "customers": {"x": {}}})
    assert str(info.value).splitlines() == [
        "customers.x.asn: Field required",
        "customers.x.prefixes: Field required",
        "customers.x.sites: Field required",
    ]
