"""Typed values shared by the inventory, the planner, the store and drivers.

Nothing here does I/O. Every value that can end up in an ExaBGP command is
one of these types (ipaddress objects, integers, enums), never a raw string.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# Longest prefixes that propagate on the internet (scrubbing announcements).
MAX_SCRUB_LEN = {4: 24, 6: 48}
HOST_LEN = {4: 32, 6: 128}


class Mode(StrEnum):
    ON_DEMAND = "on-demand"
    ALWAYS_ON = "always-on"


class Role(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


class AdminState(StrEnum):
    ACTIVE = "active"
    DRAINING = "draining"
    DISABLED = "disabled"


class Health(StrEnum):
    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


class RouteKind(StrEnum):
    SCRUB = "scrub"
    RTBH = "rtbh"


class Protection(StrEnum):
    IDLE = "idle"  # nothing asked for
    PROTECTED = "protected"  # every wanted prefix announced from an eligible site
    LAST_RESORT = "last-resort"  # only RTBH host routes are announced
    UNPROTECTED = "unprotected"  # diversion wanted but nothing can carry it: alert


_COMMUNITY_NAMES = {
    "no-export": (65535, 65281),
    "no-advertise": (65535, 65282),
    "blackhole": (65535, 666),
    "graceful-shutdown": (65535, 0),
}
_COMMUNITY_RE = re.compile(r"([0-9]{1,5}):([0-9]{1,5})")
_LARGE_RE = re.compile(r"([0-9]{1,10}):([0-9]{1,10}):([0-9]{1,10})")


@dataclass(frozen=True, order=True)
class Community:
    """RFC 1997 community, ``high:low`` with 16-bit halves."""

    high: int
    low: int

    def __post_init__(self) -> None:
        if not (0 <= self.high <= 0xFFFF and 0 <= self.low <= 0xFFFF):
            raise ValueError(f"community {self.high}:{self.low} out of range (0-65535:0-65535)")

    @classmethod
    def parse(cls, text: object) -> Community:
        if type(text) is not str:
            raise ValueError(f"{text!r} is not a community (write it as text, e.g. '64500:100')")
        if text in _COMMUNITY_NAMES:
            return cls(*_COMMUNITY_NAMES[text])
        match = _COMMUNITY_RE.fullmatch(text)
        if not match:
            raise ValueError(f"{text!r} is not a community (want ASN:VALUE or a well-known name)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.high}:{self.low}"


@dataclass(frozen=True, order=True)
class LargeCommunity:
    """RFC 8092 large community, ``global:local1:local2`` with 32-bit parts."""

    global_admin: int
    local1: int
    local2: int

    def __post_init__(self) -> None:
        for part in (self.global_admin, self.local1, self.local2):
            if not 0 <= part <= 0xFFFFFFFF:
                raise ValueError(f"large community part {part} out of range (0-4294967295)")

    @classmethod
    def parse(cls, text: object) -> LargeCommunity:
        if type(text) is not str:
            raise ValueError(
                f"{text!r} is not a large community (write it as text, e.g. '64500:1:2')"
            )
        match = _LARGE_RE.fullmatch(text)
        if not match:
            raise ValueError(f"{text!r} is not a large community (want GLOBAL:LOCAL1:LOCAL2)")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.global_admin}:{self.local1}:{self.local2}"


BLACKHOLE = Community(65535, 666)
GRACEFUL_SHUTDOWN = Community(65535, 0)
NO_EXPORT = Community(65535, 65281)


def prefix_key(prefix: IPNetwork) -> tuple[int, int, int]:
    """Sort key for prefixes in address order: IPv4 first, then by address and length
    (``ipaddress`` refuses to compare networks of different versions)."""
    return (prefix.version, int(prefix.network_address), prefix.prefixlen)


@dataclass(frozen=True, order=True)
class Route:
    """One announcement as the peer will see it (``as_path`` starts with our ASN)."""

    prefix: IPNetwork
    as_path: tuple[int, ...]
    communities: tuple[Community, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    med: int | None = None
    kind: RouteKind = RouteKind.SCRUB

    def wire_key(self) -> tuple[object, ...]:
        """What the peer sees besides the prefix: equal keys need no re-announcement."""
        return (self.as_path, self.communities, self.large_communities, self.med)

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Address order of the prefix (IPv4 before IPv6), as people read a table."""
        return prefix_key(self.prefix)

    def attributes_text(self) -> str:
        """Everything the peer sees besides the prefix, for people and the store."""
        parts = ["path [" + " ".join(map(str, self.as_path)) + "]"]
        if self.communities:
            parts.append("community [" + " ".join(map(str, self.communities)) + "]")
        if self.large_communities:
            parts.append("large-community [" + " ".join(map(str, self.large_communities)) + "]")
        if self.med is not None:
            parts.append(f"med {self.med}")
        return " ".join(parts)

    def describe(self) -> str:
        return f"{self.prefix} {self.attributes_text()}"


# --- intent ---------------------------------------------------------------


@dataclass(frozen=True)
class Diversion:
    id: int
    customer: str
    prefixes: tuple[IPNetwork, ...] = ()  # empty: all the customer's prefixes
    sites: tuple[str, ...] = ()  # empty: the customer's policy
    targets: tuple[IPAddress, ...] = ()  # hosts under attack (RTBH last resort)
    more_specifics: bool = False  # announce each prefix as its two halves
    requested_at: datetime | None = None


@dataclass(frozen=True)
class RtbhEntry:
    id: int
    prefix: IPNetwork
    reason: str
    expires_at: datetime
    forced: bool = True


@dataclass(frozen=True)
class SiteAdmin:
    state: AdminState = AdminState.ACTIVE
    since: datetime | None = None


@dataclass(frozen=True)
class Move:
    """An active planned move (``scrubctl failover``): ``customer`` leaves ``from_site``
    (make-before-break), and ``to_site`` (if named) is its primary site meanwhile."""

    id: int
    customer: str
    from_site: str
    to_site: str | None = None
    requested_at: datetime | None = None


@dataclass(frozen=True)
class Intent:
    diversions: tuple[Diversion, ...] = ()
    rtbh: tuple[RtbhEntry, ...] = ()
    site_admin: dict[str, SiteAdmin] = field(default_factory=dict)
    moves: tuple[Move, ...] = ()


# --- observed state -------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """What the agents report: BGP sessions and return-path health.

    ``sessions`` maps (site, peer name) to True when Established; a peer with no
    report counts as not established. ``return_paths`` maps (customer, site) to
    its health; a path with no report yet counts as ``unknown`` and is usable
    (the probe decides, not the absence of a probe). ``acked`` holds (site, prefix)
    for every prefix ExaBGP acknowledged at that site (to any peer): a site leaving
    a customer by plan withdraws a prefix only once another site has it here.
    """

    sessions: dict[tuple[str, str], bool] = field(default_factory=dict)
    return_paths: dict[tuple[str, str], Health] = field(default_factory=dict)
    acked: frozenset[tuple[str, IPNetwork]] = frozenset()


# --- safety helpers -------------------------------------------------------

_BOGONS_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
]  # fmt: skip
_BOGONS_V6 = [
    "::/8", "100::/64", "2001:2::/48", "2001:10::/28", "2001:db8::/32", "2002::/16",
    "3fff::/20", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
]  # fmt: skip
BOGONS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text) for text in (*_BOGONS_V4, *_BOGONS_V6)
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


def reserved_overlap(prefix: IPNetwork) -> str | None:
    """Why ``prefix`` is reserved/bogon space, or None if it is public space."""
    for bogon in BOGONS:
        if bogon.version == prefix.version and prefix.overlaps(bogon):
            return f"overlaps reserved range {bogon}"
    if prefix.version == 6 and not prefix.subnet_of(_GLOBAL_UNICAST_V6):
        return f"lies outside global unicast {_GLOBAL_UNICAST_V6}"
    return None


def contains(outer: IPNetwork, inner: IPNetwork) -> bool:
    if isinstance(outer, ipaddress.IPv4Network) and isinstance(inner, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(outer, ipaddress.IPv6Network) and isinstance(inner, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


class PrefixIndex:
    """Prefixes added so far, each with a label; finds the ones that overlap a new
    prefix in about log(n) time instead of comparing it with every one of them."""

    def __init__(self) -> None:
        self._entries: list[tuple[IPNetwork, str]] = []
        self._by_network: dict[IPNetwork, list[int]] = {}
        self._lengths: dict[int, set[int]] = {4: set(), 6: set()}
        self._starts: dict[int, list[tuple[int, int]]] = {4: [], 6: []}  # (first address, index)

    def overlapping(self, prefix: IPNetwork) -> list[tuple[IPNetwork, str]]:
        """The entries that overlap ``prefix``, in the order they were added."""
        found: set[int] = set()
        for length in self._lengths[prefix.version]:  # the ones that contain it
            if length <= prefix.prefixlen:
                found.update(self._by_network.get(prefix.supernet(new_prefix=length), ()))
        starts = self._starts[prefix.version]  # the ones that start inside it
        low = bisect.bisect_left(starts, (int(prefix.network_address), -1))
        high = bisect.bisect_right(starts, (int(prefix.broadcast_address), len(self._entries)))
        found.update(index for _start, index in starts[low:high])
        return [self._entries[index] for index in sorted(found)]

    def add(self, prefix: IPNetwork, label: str) -> None:
        index = len(self._entries)
        self._entries.append((prefix, label))
        self._by_network.setdefault(prefix, []).append(index)
        self._lengths[prefix.version].add(prefix.prefixlen)
        bisect.insort(self._starts[prefix.version], (int(prefix.network_address), index))


def host_route(address: IPAddress) -> IPNetwork:
    return ipaddress.ip_network(f"{address}/{HOST_LEN[address.version]}")


# --- parsing addresses from outside ----------------------------------------
#
# ``ipaddress`` accepts more than an operator should be able to give: IPv6 zone
# ids with any character after ``%`` (newlines too), integers, bytes, tuples,
# netmask notation. Every address, prefix and interface that comes from a user
# or a file goes through these three functions, which take only plain text.

IPInterface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_ADDRESS_TEXT = re.compile(r"[0-9A-Fa-f:.]+")
_WITH_LENGTH = re.compile(r"([0-9A-Fa-f:.]+)/(0|[1-9][0-9]{0,2})")
_ZONE = re.compile(r"%[^/]*")


def _shown(text: str) -> str:
    """``text`` with control characters escaped, without the quotes of repr()."""
    return repr(text)[1:-1]


def _plain_text(value: object, what: str, example: str) -> str:
    if type(value) is not str:
        raise ValueError(
            f"{value!r} is not {what} (got {type(value).__name__}; "
            f"write it as text, e.g. {example})"
        )
    zone = _ZONE.search(value)
    if zone:
        raise ValueError(f"{value!r} has a zone id ({_shown(zone.group())}); give a plain address")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{value!r} contains whitespace or a control character")
    return value


def parse_address(value: object) -> IPAddress:
    """A plain IPv4 or IPv6 address (no zone id, no prefix length)."""
    text = _plain_text(value, "an IPv4 or IPv6 address", "192.0.2.1")
    try:
        if not _ADDRESS_TEXT.fullmatch(text):
            raise ValueError
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from None


def _address_and_length(text: str, what: str) -> None:
    if _WITH_LENGTH.fullmatch(text):
        return
    if "/" not in text:
        raise ValueError(f"{text!r} has no prefix length (want ADDRESS/LENGTH)")
    raise ValueError(f"{text!r} is not {what} (want ADDRESS/LENGTH, the length in decimal)")


def parse_network(value: object) -> IPNetwork:
    """A prefix written ``address/length`` with no host bits set."""
    text = _plain_text(value, "a prefix", "192.0.2.0/24")
    _address_and_length(text, "a prefix")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a prefix ({exc})") from None


def parse_interface(value: object) -> IPInterface:
    """An address with its prefix length, ``address/length`` (host bits allowed)."""
    text = _plain_text(value, "an address with prefix length", "192.0.2.1/30")
    _address_and_length(text, "an address with prefix length")
    try:
        return ipaddress.ip_interface(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an address with prefix length ({exc})") from None
