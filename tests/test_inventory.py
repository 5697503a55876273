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
            "customers.acme.prefixes[1].prefix: '2001:db8:100::/129' is not a prefix "
            "('2001:db8:100::/129' does not appear to be an IPv4 or IPv6 network)"
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

GRE = {
    "kind": "gre",
    "local": "192.0.2.1",
    "remote": "198.51.100.1",
    "inner_local": "192.0.2.161/30",
    "inner_remote": "192.0.2.162",
}


def _zone(value: str, zone: str = "%eth0") -> str:
    return f"'{value}' has a zone id ({zone}); give a plain address"


# Every field that holds an address refuses an IPv6 zone id (ipaddress accepts any
# character after %, newlines too: one in a peer address broke ExaBGP's config).
CASES.update(
    {
        "zone_peer_address": (
            {"sites.fra.peers[0].address": "fe80::1%eth0"},
            ["sites.fra.peers[0].address: " + _zone("fe80::1%eth0")],
        ),
        "zone_newline_peer_address": (
            {"sites.fra.peers[0].address": "2001:db8::1%\n}"},
            [
                "sites.fra.peers[0].address: '2001:db8::1%\\n}' has a zone id (%\\n}); "
                "give a plain address"
            ],
        ),
        "zone_local_address": (
            {
                "sites.fra.peers[0].address": "2001:db8::1",
                "sites.fra.peers[0].local_address": "fe80::2%1",
            },
            ["sites.fra.peers[0].local_address: " + _zone("fe80::2%1", "%1")],
        ),
        "zone_router_id": (
            {"sites.fra.router_id": "fe80::1%eth0"},
            ["sites.fra.router_id: " + _zone("fe80::1%eth0")],
        ),
        "zone_prefix": (
            {"customers.acme.prefixes[1].prefix": "2001:db8:100::%0/48"},
            ["customers.acme.prefixes[1].prefix: " + _zone("2001:db8:100::%0/48", "%0")],
        ),
        "zone_next_hop": (
            {"customers.acme.return_paths.fra.next_hop": "fe80::1%eth3"},
            ["customers.acme.return_paths.fra.next_hop: " + _zone("fe80::1%eth3", "%eth3")],
        ),
        "zone_health_target": (
            {"customers.acme.return_paths.fra.health": {"target": "fe80::1%eth0"}},
            ["customers.acme.return_paths.fra.health.target: " + _zone("fe80::1%eth0")],
        ),
        "zone_gre_local": (
            {"customers.acme.return_paths.fra": {**GRE, "local": "fe80::1%eth0"}},
            ["customers.acme.return_paths.fra.local: " + _zone("fe80::1%eth0")],
        ),
        "zone_gre_remote": (
            {"customers.acme.return_paths.fra": {**GRE, "remote": "fe80::1%eth0"}},
            ["customers.acme.return_paths.fra.remote: " + _zone("fe80::1%eth0")],
        ),
        "zone_gre_inner_local": (
            {"customers.acme.return_paths.fra": {**GRE, "inner_local": "fe80::1%eth0/64"}},
            ["customers.acme.return_paths.fra.inner_local: " + _zone("fe80::1%eth0/64")],
        ),
        "zone_gre_inner_remote": (
            {"customers.acme.return_paths.fra": {**GRE, "inner_remote": "fe80::2%eth0"}},
            ["customers.acme.return_paths.fra.inner_remote: " + _zone("fe80::2%eth0")],
        ),
        "address_as_number": (
            {"sites.fra.peers[0].address": 1},
            [
                "sites.fra.peers[0].address: 1 is not an IPv4 or IPv6 address "
                "(got int; write it as text, e.g. 192.0.2.1)"
            ],
        ),
        "prefix_as_number": (
            {"customers.acme.prefixes[0].prefix": 3405803776},
            [
                "customers.acme.prefixes[0].prefix: 3405803776 is not a prefix "
                "(got int; write it as text, e.g. 192.0.2.0/24)"
            ],
        ),
        "router_id_v6": (
            {"sites.fra.router_id": "2001:db8::1"},
            [
                "sites.fra.router_id: 2001:db8::1 is not an IPv4 address "
                "(a BGP router id is 32 bits)"
            ],
        ),
        "community_with_newline": (
            {"customers.acme.communities": ["64500:1\n"]},
            [
                "customers.acme.communities[0]: '64500:1\\n' is not a community "
                "(want ASN:VALUE or a well-known name)"
            ],
        ),
        "community_as_number": (
            {"customers.acme.communities": [64500]},
            [
                "customers.acme.communities[0]: 64500 is not a community "
                "(write it as text, e.g. '64500:100')"
            ],
        ),
    }
)

# Strict types: YAML 1.1 reads `asn: yes` as true, which pydantic took for AS 1.
STRICT = {
    "customers.acme.asn": ("integer", [True, 64496.0, "64496", "yes"]),
    "sites.fra.peers[0].max_prefix": ("integer", [True, 10.0, "10"]),
    "customers.acme.med": ("integer", [False, "5"]),
    "customers.acme.prefixes[0].max_length": ("integer", [24.0]),
    "policy.drain_time": ("integer", ["300"]),
    "customers.acme.origin_preserving": ("boolean", ["yes", 1, "true"]),
    "policy.allow_reserved_prefixes": ("boolean", [1]),
    "sites.fra.capacity_gbps": ("number", [True, "10"]),
}
for path, (kind, values) in STRICT.items():
    for value in values:
        got = f"{type(value).__name__} {value!r}"
        CASES[f"strict_{path}={value!r}"] = (
            {path: value},
            [f"{path}: Input should be a valid {kind} (got {got})"],
        )


def test_whole_numbers_are_fine_floats() -> None:
    data = copy.deepcopy(BASE)
    data["sites"]["fra"]["capacity_gbps"] = 10
    data["customers"]["acme"]["return_paths"]["fra"]["health"] = {
        "target": "192.0.2.130",
        "interval": 2,
    }
    inv = parse_inventory(data)
    assert inv.sites["fra"].capacity_gbps == 10.0


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_floats_must_be_finite(value: float) -> None:
    assert errors_for({"sites.fra.capacity_gbps": value}) == [
        "sites.fra.capacity_gbps: Input should be a finite number"
    ]


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
