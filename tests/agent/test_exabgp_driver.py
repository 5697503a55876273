"""The ExaBGP text API driver: commands built from typed values, messages parsed."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from orchestrator.domain import Community, LargeCommunity, Route, RouteKind
from orchestrator.drivers.exabgp import api as exabgp
from orchestrator.drivers.exabgp.api import (
    Ack,
    Other,
    RibEntry,
    Shutdown,
    StateEvent,
    UnsafeCommand,
    announce_commands,
    parse_message,
    withdraw_commands,
)

PEER = ipaddress.ip_address("192.0.2.254")


def route(prefix: str, path: tuple[int, ...] = (64500, 64496), **kw: object) -> Route:
    return Route(ipaddress.ip_network(prefix), path, **kw)  # type: ignore[arg-type]


def test_announce_command_carries_every_attribute() -> None:
    r = route(
        "203.0.113.0/24",
        communities=(Community(64500, 100), Community(65535, 0)),
        large_communities=(LargeCommunity(64500, 1, 2),),
        med=10,
    )
    [(line, routes)] = announce_commands(PEER, [r]).commands
    assert line == (
        "neighbor 192.0.2.254 announce attributes next-hop self as-path [64500 64496] "
        "community [64500:100 65535:0] large-community [64500:1:2] med 10 nlri 203.0.113.0/24"
    )
    assert routes == [r]


def test_routes_with_equal_attributes_share_a_command_and_batches_split() -> None:
    many = [route(f"198.18.{i // 256}.{i % 256}/32") for i in range(exabgp.BATCH + 3)]
    other = route("203.0.113.0/24", path=(64500,))
    commands = announce_commands(PEER, [*many, other]).commands
    sizes = sorted(len(chunk) for _line, chunk in commands)
    assert sizes == [1, 3, exabgp.BATCH]
    assert all(line.count(" nlri ") == 1 for line, _ in commands)


def test_withdraw_command() -> None:
    prefixes = [ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("198.51.100.0/24")]
    [(line, chunk)] = withdraw_commands(PEER, prefixes).commands
    assert line == (
        "neighbor 192.0.2.254 withdraw attributes next-hop self nlri 198.51.100.0/24 203.0.113.0/24"
    )
    assert len(chunk) == 2


@pytest.mark.parametrize("bad", ["x\nannounce route 0.0.0.0/0", "a;b", "x\x00", 'md5 "x"'])
def test_anything_but_addresses_numbers_and_keywords_is_refused(bad: str) -> None:
    with pytest.raises(UnsafeCommand):
        exabgp._checked(bad)


# Python's ipaddress takes anything after "%" as an IPv6 zone id (issue 7).
ZONED = [
    "2001:db8:100::%0/48",
    "2001:db8:100::%eth0/48",
    "2001:db8:100::%x y/48",
    "2001:db8:100::%0\nshutdown/48",  # ExaBGP would obey that second line
]


@pytest.mark.parametrize("bad", ZONED)
def test_a_route_that_does_not_render_is_refused_alone(bad: str) -> None:
    good = [route("2001:db8:200::/48"), route("2001:db8:300::/48")]
    rendered = announce_commands(PEER, [good[0], route(bad), good[1]])
    assert [str(r.prefix) for r, _why in rendered.refused] == [bad]
    assert rendered.refused[0][1] == "not a plain prefix"
    [(line, chunk)] = rendered.commands
    assert chunk == good
    assert line.endswith(" nlri 2001:db8:200::/48 2001:db8:300::/48")


def test_a_route_whose_attributes_do_not_render_is_refused_alone() -> None:
    broken = route("203.0.113.0/24", path=(64500, "64496 nlri 0.0.0.0/0"))  # type: ignore[arg-type]
    good = route("198.51.100.0/24")
    rendered = announce_commands(PEER, [broken, good])
    assert [r for r, _why in rendered.refused] == [broken]
    assert rendered.refused[0][1].startswith("ValueError: ")
    assert [chunk for _line, chunk in rendered.commands] == [[good]]


@pytest.mark.parametrize("bad", ZONED)
def test_a_withdrawal_that_does_not_render_is_refused_alone(bad: str) -> None:
    good = ipaddress.ip_network("2001:db8:200::/48")
    rendered = withdraw_commands(PEER, [ipaddress.ip_network(bad), good])
    assert [str(p) for p, _why in rendered.refused] == [bad]
    assert [chunk for _line, chunk in rendered.commands] == [[good]]


def test_a_peer_address_that_does_not_render_refuses_its_routes() -> None:
    peer = ipaddress.ip_address("2001:db8:ffff::1%eth0")
    rendered = announce_commands(peer, [route("2001:db8:200::/48")])
    assert rendered.commands == []
    assert [why for _r, why in rendered.refused] == ["not a plain peer address"]


@pytest.mark.parametrize("bad", ZONED)
def test_a_single_command_line_refuses_a_bad_prefix(bad: str) -> None:
    with pytest.raises(UnsafeCommand):
        exabgp.announce_line(PEER, [route(bad)])


# Lines captured from ExaBGP 5.0.15 talking to FRR 8.4 (see REFERENCE.md).
STATE_UP = (
    '{ "exabgp": "5.0.0", "time": 1795463090.68, "host" : "vm", "pid" : 5068, "ppid" : 1, '
    '"counter": 2, "type": "state", "neighbor": { "address": { "local": "192.0.2.253", '
    '"peer": "192.0.2.254" }, "asn": { "local": 64500, "peer": 64501 }, '
    '"router-id": "192.0.2.1" , "state": "up" } }'
)
RIB_V2 = (
    '{"peer": {"address": "192.0.2.254"}, "route": {"nlri": {"prefix": "203.0.113.0/24", '
    '"nexthop": "192.0.2.253", "family": {"afi": "ipv4", "safi": "unicast"}}, "attributes": '
    '{"as-path": {"0": {"element": "as-sequence", "value": [64500, 64496]}}, "med": 5, '
    '"community": ["64500:100", "65535:0"], "large-community": ["64500:1:2"]}}}'
)


def test_parse_acks_and_shutdown() -> None:
    assert parse_message("done\n") == Ack(True)
    assert parse_message("error") == Ack(False)
    assert parse_message("shutdown") == Shutdown()


def test_parse_state_event() -> None:
    assert parse_message(STATE_UP) == StateEvent(PEER, "up", "")


def test_parse_adj_rib_out_line_into_a_route() -> None:
    message = parse_message(RIB_V2)
    assert message == RibEntry(
        PEER,
        Route(
            ipaddress.ip_network("203.0.113.0/24"),
            (64500, 64496),
            (Community(64500, 100), Community(65535, 0)),
            (LargeCommunity(64500, 1, 2),),
            5,
            RouteKind.SCRUB,
        ),
    )


def test_a_blackhole_route_parses_as_rtbh() -> None:
    line = RIB_V2.replace('"64500:100", "65535:0"', '"65535:666", "65535:65281"')
    message = parse_message(line)
    assert isinstance(message, RibEntry)
    assert message.route.kind is RouteKind.RTBH


NOT_UNDERSTOOD = {
    "not json": "{not json",
    "a list": "[1, 2]",
    "state without neighbor": '{"type": "state"}',
    "state with a bad peer": STATE_UP.replace("192.0.2.254", "192.0.2.300"),
    "state neighbor a string": '{"type": "state", "neighbor": "x"}',
    "rib with a bad prefix": RIB_V2.replace("203.0.113.0/24", "203.0.113.0/33"),
    "rib without nlri": RIB_V2.replace('"nlri"', '"nlri-x"'),
    "rib community a number": RIB_V2.replace('"64500:100"', "64500100"),
    "rib as-path key not a number": RIB_V2.replace('{"0": {', '{"x": {'),
    "rib med not a number": RIB_V2.replace('"med": 5', '"med": "five"'),
    "rib attributes a list": RIB_V2.replace('"attributes": {', '"attributes": [{').replace(
        '"64500:1:2"]}}}', '"64500:1:2"]}]}}'
    ),
    "deeply nested": '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
}


@pytest.mark.parametrize("case", sorted(NOT_UNDERSTOOD))
def test_a_line_not_understood_is_other_and_a_warning_never_an_exception(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    line = NOT_UNDERSTOOD[case]
    with caplog.at_level(logging.WARNING, logger="scrubctl.exabgp"):
        message = parse_message(line)
    assert message == Other(line.strip())
    if line.startswith("{") and case != "not json":
        assert "not understood" in caplog.text
