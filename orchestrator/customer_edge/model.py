"""The customer edge's half of one return path, as typed values.

Built from the inventory here (every decision: addresses, MTU, MSS, which
families the path carries); the vendor modules only name the interface and
hand these values to their templates.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from orchestrator.domain import IPAddress, IPNetwork
from orchestrator.errors import NotFound
from orchestrator.inventory import (
    Customer,
    DedicatedReturnPath,
    GreReturnPath,
    HealthCheck,
    Inventory,
    ReturnPath,
)

GENERATED_BY = "scrubctl customer config"
TCP_IP_HEADERS = {4: 40, 6: 60}  # IP + TCP header bytes: MSS = MTU - this
INTERNET_MTU = 1500  # what arrives from the internet: a jumbo path needs no bigger MSS
DEFAULT_KEEPALIVE = (10, 3)  # seconds between keepalives, misses before down

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class Request:
    customer: str
    site: str
    vendor: str
    interface: str | None = None  # default: the vendor's name for this site's tunnel
    keepalive: bool = False  # see README: the site does not reflect GRE keepalives yet


@dataclass(frozen=True)
class Carried:
    """One IP version of clean traffic the path brings to the customer."""

    version: int
    prefixes: tuple[IPNetwork, ...]
    mss: int  # TCP MSS that fits the path (MTU - IP and TCP headers)


@dataclass(frozen=True)
class Probe:
    """The site's health check through this path, as the customer sees it."""

    target: IPAddress
    interval: float
    threshold: int


@dataclass(frozen=True)
class Keepalive:
    period: int
    retries: int

    @property
    def hold(self) -> int:
        return self.period * self.retries


@dataclass(frozen=True)
class GreHalf:
    customer: str
    site: str
    interface: str
    source: IPAddress  # the customer's outer address (the inventory's `remote`)
    destination: IPAddress  # the site's outer address (`local`)
    key: int | None
    address: IPInterface  # the customer's inner address with the tunnel's prefix length
    site_address: IPAddress  # the site's inner address (probes come from it)
    mtu: int
    carried: tuple[Carried, ...]
    keepalive: Keepalive | None
    probe: Probe | None

    @property
    def outer_version(self) -> int:
        return self.source.version

    @property
    def inner_version(self) -> int:
        return self.address.version

    def carries(self, version: int) -> Carried | None:
        return next((c for c in self.carried if c.version == version), None)

    @property
    def smallest_mss(self) -> int:
        return min(c.mss for c in self.carried)


@dataclass(frozen=True)
class DedicatedHalf:
    customer: str
    site: str
    site_interface: str  # the line's interface at the site
    next_hop: IPAddress  # where the site sends clean traffic: the customer's address
    prefixes: tuple[IPNetwork, ...]
    probe: Probe | None


Half = GreHalf | DedicatedHalf


def return_path(inv: Inventory, request: Request) -> tuple[Customer, ReturnPath, int]:
    """The path to render, the customer, and the site's position in its sites."""
    customer = inv.customers.get(request.customer)
    if customer is None:
        known = ", ".join(sorted(inv.customers)) or "none"
        raise NotFound(f"unknown customer {request.customer!r} (known: {known})", where="CUSTOMER")
    if request.site not in inv.sites:
        known = ", ".join(sorted(inv.sites)) or "none"
        raise NotFound(f"unknown site {request.site!r} (known: {known})", where="--site")
    sites = [entry.site for entry in customer.sites]
    if request.site not in sites:
        raise NotFound(
            f"{request.customer} does not use site {request.site} (its sites: {', '.join(sites)})",
            where="--site",
        )
    path = customer.return_paths.get(request.site)
    if path is None:
        raise NotFound(
            f"{request.customer} has no return path at {request.site}",
            where=f"customers.{request.customer}.return_paths.{request.site}",
        )
    return customer, path, sites.index(request.site)


def _probe(health: HealthCheck | None) -> Probe | None:
    if health is None or health.target is None:  # the site's default probe: nothing to add
        return None
    return Probe(health.target, health.interval, health.threshold)


def _prefixes(customer: Customer, version: int) -> tuple[IPNetwork, ...]:
    return tuple(p.prefix for p in customer.prefixes if p.prefix.version == version)


def gre_half(
    name: str, customer: Customer, site: str, path: GreReturnPath, interface: str, keepalive: bool
) -> GreHalf:
    mtu = path.effective_mtu
    carried = tuple(
        Carried(version, prefixes, min(mtu, INTERNET_MTU) - TCP_IP_HEADERS[version])
        for version in (4, 6)
        if (prefixes := _prefixes(customer, version))
    )
    prefixlen = path.inner_local.network.prefixlen
    return GreHalf(
        customer=name,
        site=site,
        interface=interface,
        source=path.remote,
        destination=path.local,
        key=path.key,
        address=ipaddress.ip_interface(f"{path.inner_remote}/{prefixlen}"),
        site_address=path.inner_local.ip,
        mtu=mtu,
        carried=carried,
        keepalive=Keepalive(*DEFAULT_KEEPALIVE) if keepalive else None,
        probe=_probe(path.health),
    )


def dedicated_half(
    name: str, customer: Customer, site: str, path: DedicatedReturnPath
) -> DedicatedHalf:
    return DedicatedHalf(
        customer=name,
        site=site,
        site_interface=path.interface,
        next_hop=path.next_hop,
        prefixes=_prefixes(customer, 4) + _prefixes(customer, 6),
        probe=_probe(path.health),
    )
