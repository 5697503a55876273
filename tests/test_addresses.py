"""The strict address parsers every outside value goes through (orchestrator.domain).

``ipaddress`` alone accepts IPv6 zone ids with any character after ``%``
(newlines too), integers, bytes and netmask notation; these must not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from orchestrator.domain import PrefixIndex, parse_address, parse_interface, parse_network

Parser = Callable[[object], object]

ACCEPTED: dict[str, tuple[Parser, str, object]] = {
    "v4_address": (parse_address, "192.0.2.1", ipaddress.IPv4Address("192.0.2.1")),
    "v6_address": (parse_address, "2001:DB8::1", ipaddress.IPv6Address("2001:db8::1")),
    "v4_mapped": (parse_address, "::ffff:192.0.2.1", ipaddress.IPv6Address("::ffff:c000:201")),
    "v4_network": (parse_network, "203.0.113.0/24", ipaddress.IPv4Network("203.0.113.0/24")),
    "v6_network": (parse_network, "2001:db8::/48", ipaddress.IPv6Network("2001:db8::/48")),
    "host_network": (parse_network, "192.0.2.7/32", ipaddress.IPv4Network("192.0.2.7/32")),
    "interface": (parse_interface, "192.0.2.1/30", ipaddress.IPv4Interface("192.0.2.1/30")),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_plain_text_is_accepted(case: str) -> None:
    parser, text, expected = ACCEPTED[case]
    assert parser(text) == expected


REFUSED: dict[str, tuple[Parser, object, str]] = {
    "zone_id": (
        parse_address,
        "fe80::1%eth0",
        "'fe80::1%eth0' has a zone id (%eth0); give a plain address",
    ),
    "zone_id_numeric": (
        parse_address,
        "2001:db8::1%0",
        "'2001:db8::1%0' has a zone id (%0); give a plain address",
    ),
    "newline_after_percent": (
        parse_address,
        "2001:db8::1%\nneighbor 192.0.2.9 teardown",
        "'2001:db8::1%\\nneighbor 192.0.2.9 teardown' has a zone id "
        "(%\\nneighbor 192.0.2.9 teardown); give a plain address",
    ),
    "space_after_percent": (
        parse_address,
        "2001:db8::1% x",
        "'2001:db8::1% x' has a zone id (% x); give a plain address",
    ),
    "empty_zone": (parse_address, "fe80::1%", "'fe80::1%' has a zone id (%); give a plain address"),
    "zone_in_prefix": (
        parse_network,
        "2a0c:9a40:1::%0/48",
        "'2a0c:9a40:1::%0/48' has a zone id (%0); give a plain address",
    ),
    "zone_in_interface": (
        parse_interface,
        "fe80::1%eth0/64",
        "'fe80::1%eth0/64' has a zone id (%eth0); give a plain address",
    ),
    "leading_space": (
        parse_address,
        " 192.0.2.1",
        "' 192.0.2.1' contains whitespace or a control character",
    ),
    "trailing_newline": (
        parse_network,
        "203.0.113.0/24\n",
        "'203.0.113.0/24\\n' contains whitespace or a control character",
    ),
    "integer": (
        parse_address,
        1,
        "1 is not an IPv4 or IPv6 address (got int; write it as text, e.g. 192.0.2.1)",
    ),
    "boolean": (
        parse_address,
        True,
        "True is not an IPv4 or IPv6 address (got bool; write it as text, e.g. 192.0.2.1)",
    ),
    "bytes": (
        parse_address,
        b"\xc0\x00\x02\x01",
        "b'\\xc0\\x00\\x02\\x01' is not an IPv4 or IPv6 address (got bytes; "
        "write it as text, e.g. 192.0.2.1)",
    ),
    "tuple_network": (
        parse_network,
        ("192.0.2.0", 24),
        "('192.0.2.0', 24) is not a prefix (got tuple; write it as text, e.g. 192.0.2.0/24)",
    ),
    "integer_network": (
        parse_network,
        3221225984,
        "3221225984 is not a prefix (got int; write it as text, e.g. 192.0.2.0/24)",
    ),
    "network_without_length": (
        parse_network,
        "203.0.113.0",
        "'203.0.113.0' has no prefix length (want ADDRESS/LENGTH)",
    ),
    "netmask_notation": (
        parse_network,
        "203.0.113.0/255.255.255.0",
        "'203.0.113.0/255.255.255.0' is not a prefix (want ADDRESS/LENGTH, the length in decimal)",
    ),
    "host_bits": (
        parse_network,
        "203.0.113.1/24",
        "'203.0.113.1/24' is not a prefix (203.0.113.1/24 has host bits set)",
    ),
    "address_with_length": (
        parse_address,
        "192.0.2.1/32",
        "'192.0.2.1/32' is not an IPv4 or IPv6 address",
    ),
    "interface_without_length": (
        parse_interface,
        "192.0.2.1",
        "'192.0.2.1' has no prefix length (want ADDRESS/LENGTH)",
    ),
    "unicode_digits": (
        parse_address,
        "١٩٢.0.2.1",
        "'١٩٢.0.2.1' is not an IPv4 or IPv6 address",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_anything_but_a_plain_address_is_refused(case: str) -> None:
    parser, value, message = REFUSED[case]
    with pytest.raises(ValueError) as info:
        parser(value)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


# --- PrefixIndex: the overlap check of the inventory, without comparing every pair ---

INDEXED = ("10.0.0.0/8", "192.0.2.0/25", "192.0.2.128/26", "2001:db8::/32", "192.0.2.0/24")

OVERLAPS: dict[str, tuple[str, list[str]]] = {
    "inside_one": ("10.1.0.0/16", ["10.0.0.0/8"]),
    "covers_several_in_insertion_order": (
        "192.0.2.0/23",
        ["192.0.2.0/25", "192.0.2.128/26", "192.0.2.0/24"],
    ),
    "equal_and_inside": ("192.0.2.128/26", ["192.0.2.128/26", "192.0.2.0/24"]),
    "host_inside_two": ("192.0.2.7/32", ["192.0.2.0/25", "192.0.2.0/24"]),
    "disjoint": ("198.51.100.0/24", []),
    "other_family": ("::/0", ["2001:db8::/32"]),
    "everything_v4": (
        "0.0.0.0/0",
        ["10.0.0.0/8", "192.0.2.0/25", "192.0.2.128/26", "192.0.2.0/24"],
    ),
}


@pytest.mark.parametrize("case", sorted(OVERLAPS))
def test_prefix_index_finds_every_overlap(case: str) -> None:
    index = PrefixIndex()
    for i, text in enumerate(INDEXED):
        index.add(ipaddress.ip_network(text), f"c{i}")
    query, expected = OVERLAPS[case]
    found = index.overlapping(ipaddress.ip_network(query))
    assert [str(prefix) for prefix, _label in found] == expected
    assert [label for _prefix, label in found] == [f"c{INDEXED.index(p)}" for p in expected]
