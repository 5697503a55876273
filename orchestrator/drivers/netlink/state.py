"""Typed kernel state: what a site wants (desired) and what the kernel holds.

Both sides use the same values, so the difference is a comparison of
dataclasses, not of netlink messages.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TypeAlias

from orchestrator.domain import IPAddress, IPNetwork

IPInterface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class TunnelParams:
    """What identifies a tunnel; a change here means delete and re-create."""

    kind: str  # "gre" or "ip6gre"
    local: IPAddress
    remote: IPAddress
    key: int | None
    ttl: int


@dataclass(frozen=True)
class Tunnel:
    name: str
    alias: str
    params: TunnelParams
    mtu: int
    address: IPInterface  # the inner local address (with the tunnel's prefix length)


@dataclass(frozen=True)
class Line:
    """A dedicated line: an interface the site does not own, and the next hop on it
    (one per address family the line carries)."""

    interface: str
    next_hops: tuple[IPAddress, ...]


@dataclass(frozen=True)
class PathRoute:
    """A route in the site's table; ``gateway`` None means "out of the device"."""

    dst: IPNetwork
    oif: str
    gateway: IPAddress | None
    table: int

    @property
    def family(self) -> int:
        return self.dst.version


@dataclass(frozen=True, order=True)
class PolicyRule:
    """``iif <upstream> lookup <table>`` (or ``fwmark <mark> lookup <table>``, the
    probes' rule: ``iif`` empty) for one address family (4 or 6)."""

    family: int
    iif: str
    priority: int
    table: int
    fwmark: int = 0


@dataclass(frozen=True)
class DesiredPath:
    """One customer's return path at this site, as the kernel should hold it."""

    customer: str
    kind: str
    routes: tuple[PathRoute, ...]
    tunnel: Tunnel | None = None
    line: Line | None = None
    problem: str | None = None  # known from the inventory alone: never built


@dataclass(frozen=True)
class DesiredState:
    site: str
    table: int
    paths: tuple[DesiredPath, ...]
    rules: tuple[PolicyRule, ...]
    warnings: tuple[str, ...] = ()

    @property
    def tunnels(self) -> tuple[Tunnel, ...]:
        return tuple(p.tunnel for p in self.paths if p.tunnel is not None)


@dataclass(frozen=True)
class Link:
    """An interface as the kernel reports it (ours or not)."""

    index: int
    name: str
    up: bool
    mtu: int
    alias: str | None = None
    tunnel: TunnelParams | None = None
    addresses: tuple[IPInterface, ...] = ()


@dataclass(frozen=True)
class KernelState:
    """Every link, and only the routes and rules that carry our marks."""

    links: tuple[Link, ...]
    routes: tuple[PathRoute, ...]
    rules: tuple[PolicyRule, ...]

    def link(self, name: str) -> Link | None:
        for link in self.links:
            if link.name == name:
                return link
        return None
