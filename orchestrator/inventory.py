"""The inventory: sites, peers, customers, return paths and policy.

Validated with pydantic (field types, ranges, forbidden extra keys), then by
``check_inventory`` for the rules that span objects. Errors carry the dotted
path of the field they are about: ``customers.acme.prefixes[1].prefix: ...``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestrator.domain import (
    BLACKHOLE,
    MAX_SCRUB_LEN,
    Community,
    IPAddress,
    IPInterface,
    IPNetwork,
    LargeCommunity,
    Mode,
    PrefixIndex,
    Role,
    contains,
    host_route,
    parse_address,
    parse_interface,
    parse_network,
    reserved_overlap,
)
from orchestrator.errors import InvalidInput, Words, plain_words
from orchestrator.files import decode_yaml_bytes, parse_yaml, read_yaml

CommunityField = Annotated[
    Community, BeforeValidator(Community.parse), PlainSerializer(str, return_type=str)
]
LargeCommunityField = Annotated[
    LargeCommunity, BeforeValidator(LargeCommunity.parse), PlainSerializer(str, return_type=str)
]
NetworkField = Annotated[
    IPNetwork, BeforeValidator(parse_network), PlainSerializer(str, return_type=str)
]
AddressField = Annotated[
    IPAddress, BeforeValidator(parse_address), PlainSerializer(str, return_type=str)
]
InterfaceField = Annotated[
    IPInterface, BeforeValidator(parse_interface), PlainSerializer(str, return_type=str)
]
# Strict scalars: YAML's `yes`, `1.0` or "64500" are not integers, "yes" is not a
# boolean; a whole number is a fine float (interval: 2), a boolean is not.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
Name = Annotated[Text, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
IfName = Annotated[Text, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")]
EnvName = Annotated[Text, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
ASN = Annotated[Int, Field(ge=1, le=4294967294)]


def _router_id(value: Any) -> ipaddress.IPv4Address:
    address = parse_address(value)
    if not isinstance(address, ipaddress.IPv4Address):
        raise ValueError(f"{address} is not an IPv4 address (a BGP router id is 32 bits)")
    return address


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret lives; the inventory never holds the secret itself."""

    env: EnvName | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


class RtbhSupport(_Model):
    community: CommunityField = BLACKHOLE


class Peer(_Model):
    name: Name
    address: AddressField
    local_address: AddressField | None = None
    asn: ASN
    max_prefix: Annotated[Int, Field(ge=1, le=10_000_000)] = 1000
    rtbh: RtbhSupport | None = None
    md5: SecretRef | None = None
    # what the session negotiates (default: its own IP version); list the other one too
    # where the peer offers it (FRR, IOS: `bgp default ipv4-unicast`), or ExaBGP warns
    families: Annotated[tuple[Literal["ipv4", "ipv6"], ...], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _same_family(self) -> Peer:
        if self.local_address is not None and self.local_address.version != self.address.version:
            raise ValueError("local_address and address must be the same IP version")
        own = f"ipv{self.address.version}"
        if self.families is not None and (
            own not in self.families or len(set(self.families)) != len(self.families)
        ):
            raise ValueError(f"families must list {own} (the session's own) and each at most once")
        return self


class Site(_Model):
    router_id: Annotated[ipaddress.IPv4Address, BeforeValidator(_router_id)]
    asn: ASN | None = None  # default: policy.asn
    capacity_gbps: Annotated[Float, Field(gt=0)] | None = None
    peers: Annotated[tuple[Peer, ...], Field(min_length=1)]
    # Return paths: traffic arriving on these interfaces is routed by return_table.
    upstream_interfaces: tuple[IfName, ...] = ()
    return_table: Annotated[Int, Field(ge=1, le=0xFFFFFFFF)] = 4200

    @field_validator("upstream_interfaces")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice")
        return value

    @field_validator("return_table")
    @classmethod
    def _not_reserved(cls, value: int) -> int:
        if value in (253, 254, 255):
            raise ValueError(f"{value} is the kernel's default, main or local table")
        return value


class AuthorisedPrefix(_Model):
    prefix: NetworkField
    max_length: Annotated[Int, Field(ge=0, le=128)] | None = None  # default: prefix length

    @property
    def longest(self) -> int:
        return self.prefix.prefixlen if self.max_length is None else self.max_length


class CustomerSite(_Model):
    site: Name
    role: Role = Role.PRIMARY


class HealthCheck(_Model):
    """How a site probes a return path (ICMP echo through the path itself).

    ``target`` defaults to the path's far end: a GRE tunnel's ``inner_remote``,
    a dedicated line's ``next_hop``. ``threshold`` consecutive losses make the
    path down, ``rise`` consecutive answers make it up again.
    """

    target: AddressField | None = None
    interval: Annotated[Float, Field(ge=0.1, le=60)] = 1.0
    threshold: Annotated[Int, Field(ge=1, le=100)] = 3
    rise: Annotated[Int, Field(ge=1, le=100)] = 3


class GreReturnPath(_Model):
    kind: Literal["gre"]
    local: AddressField
    remote: AddressField
    key: Annotated[Int, Field(ge=0, le=0xFFFFFFFF)] | None = None
    inner_local: InterfaceField
    inner_remote: AddressField
    mtu: Annotated[Int, Field(ge=1280, le=9000)] | None = None  # default from overhead
    ttl: Annotated[Int, Field(ge=1, le=255)] = 64
    health: HealthCheck | None = None

    @property
    def probe(self) -> HealthCheck:
        """The health check with its defaults filled in (target: ``inner_remote``)."""
        check = self.health or HealthCheck()
        return check.model_copy(update={"target": check.target or self.inner_remote})

    @property
    def effective_mtu(self) -> int:
        if self.mtu is not None:
            return self.mtu
        overhead = 44 if self.remote.version == 6 else 24
        return 1500 - overhead - (4 if self.key is not None else 0)

    @model_validator(mode="after")
    def _families(self) -> GreReturnPath:
        if self.local.version != self.remote.version:
            raise ValueError("local and remote must be the same IP version")
        if self.inner_local.version != self.inner_remote.version:
            raise ValueError("inner_local and inner_remote must be the same IP version")
        if self.inner_remote not in self.inner_local.network:
            raise ValueError(
                f"inner_remote {self.inner_remote} is not in {self.inner_local.network}"
            )
        return self


class DedicatedReturnPath(_Model):
    """An existing interface and the customer's router on it. A dual-stack customer's
    line has an IPv4 ``next_hop`` and an IPv6 ``next_hop_v6``; each carries the
    prefixes of its own family."""

    kind: Literal["dedicated"]
    interface: IfName
    next_hop: AddressField
    next_hop_v6: AddressField | None = None
    health: HealthCheck | None = None

    @property
    def next_hops(self) -> dict[int, IPAddress]:
        """IP version -> the next hop that carries that family's prefixes."""
        hops: dict[int, IPAddress] = {self.next_hop.version: self.next_hop}
        if self.next_hop_v6 is not None:
            hops[6] = self.next_hop_v6
        return hops

    @property
    def probe(self) -> HealthCheck:
        """The health check with its defaults filled in (target: ``next_hop``)."""
        check = self.health or HealthCheck()
        return check.model_copy(update={"target": check.target or self.next_hop})

    @model_validator(mode="after")
    def _target_family(self) -> DedicatedReturnPath:
        if self.next_hop_v6 is not None and (
            self.next_hop.version != 4 or self.next_hop_v6.version != 6
        ):
            raise ValueError("with next_hop_v6 (IPv6), next_hop must be the IPv4 next hop")
        target = self.health.target if self.health is not None else None
        if target is not None and target.version not in self.next_hops:
            raise ValueError(
                f"health.target {target} is not IPv{self.next_hop.version} like next_hop "
                f"{self.next_hop}: the line carries no other family (see next_hop_v6)"
            )
        return self


ReturnPath: TypeAlias = Annotated[GreReturnPath | DedicatedReturnPath, Field(discriminator="kind")]


class Customer(_Model):
    asn: ASN
    mode: Mode = Mode.ON_DEMAND
    origin_preserving: Bool = True
    rtbh_last_resort: Bool = False
    prefixes: Annotated[tuple[AuthorisedPrefix, ...], Field(min_length=1)]
    sites: Annotated[tuple[CustomerSite, ...], Field(min_length=1)]
    communities: tuple[CommunityField, ...] = ()
    large_communities: tuple[LargeCommunityField, ...] = ()
    med: Annotated[Int, Field(ge=0, le=0xFFFFFFFF)] | None = None
    return_paths: dict[Name, ReturnPath] = Field(default_factory=dict)

    def role_at(self, site: str) -> Role | None:
        for entry in self.sites:
            if entry.site == site:
                return entry.role
        return None

    def authorising(self, prefix: IPNetwork) -> AuthorisedPrefix | None:
        """The authorised prefix that covers ``prefix``, if any."""
        for entry in self.prefixes:
            if contains(entry.prefix, prefix):
                return entry
        return None


class RtbhPolicy(_Model):
    """Shortest RTBH prefix allowed; host routes only unless widened here."""

    min_length_v4: Annotated[Int, Field(ge=24, le=32)] = 32
    min_length_v6: Annotated[Int, Field(ge=48, le=128)] = 128

    def min_length(self, version: int) -> int:
        return self.min_length_v4 if version == 4 else self.min_length_v6


class Policy(_Model):
    asn: ASN
    allow_reserved_prefixes: Bool = False
    communities: tuple[CommunityField, ...] = ()
    large_communities: tuple[LargeCommunityField, ...] = ()
    drain_time: Annotated[Int, Field(ge=0, le=86_400)] = 300
    backup_prepend: Annotated[Int, Field(ge=0, le=10)] = 2
    rtbh: RtbhPolicy = RtbhPolicy()


class Inventory(_Model):
    policy: Policy
    sites: dict[Name, Site] = Field(default_factory=dict)
    customers: dict[Name, Customer] = Field(default_factory=dict)

    def site_asn(self, site: str) -> int:
        return self.sites[site].asn or self.policy.asn


# --- loading and the rules that span objects ------------------------------


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("gre", "dedicated", "[key]") or part.startswith(
            ("function-", "tagged-union")
        ):
            continue  # pydantic's union branch names and dict-key marker, not fields
        else:
            text += f".{part}" if text else part
    return text or "inventory"


def _pydantic_errors(exc: ValidationError) -> list[InvalidInput]:
    errors = []
    found = exc.errors(include_url=False)
    for err in found:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc
            for other in found
        ):
            continue  # "at least 1 item after validation": its bad item is reported already
        message = str(err["msg"]).removeprefix("Value error, ")
        errors.append(InvalidInput(message, where=_location(tuple(err["loc"])), hint=_got(err)))
    return errors


def _got(err: Any) -> str:
    """For a wrong type (``asn: yes``, ``asn: "64500"``), the value that was given."""
    value = err.get("input")
    if not str(err["type"]).endswith("_type") or not isinstance(value, str | int | float):
        return ""
    shown = repr(value)
    return f"got {type(value).__name__} {shown if len(shown) <= 40 else shown[:36] + '...'}"


def _check_prefixes(inv: Inventory) -> list[InvalidInput]:
    errors: list[InvalidInput] = []
    owners = PrefixIndex()
    for cname, customer in inv.customers.items():
        for i, entry in enumerate(customer.prefixes):
            where = f"customers.{cname}.prefixes[{i}]"
            prefix = entry.prefix
            limit = MAX_SCRUB_LEN[prefix.version]
            if prefix.prefixlen > limit:
                errors.append(
                    InvalidInput(
                        f"{prefix} is longer than /{limit}, which does not propagate",
                        where=f"{where}.prefix",
                    )
                )
            if not prefix.prefixlen <= entry.longest <= limit:
                errors.append(
                    InvalidInput(
                        f"{entry.longest} must be between {prefix.prefixlen} and {limit}",
                        where=f"{where}.max_length",
                    )
                )
            why = reserved_overlap(prefix)
            if why and not inv.policy.allow_reserved_prefixes:
                errors.append(
                    InvalidInput(
                        f"{prefix} {why}",
                        where=f"{where}.prefix",
                        hint="set policy.allow_reserved_prefixes for a lab",
                    )
                )
            for other, owner in owners.overlapping(prefix):
                errors.append(
                    InvalidInput(
                        f"{prefix} overlaps {other} of customer {owner}", where=f"{where}.prefix"
                    )
                )
            owners.add(prefix, cname)
    return errors


def _check_references(inv: Inventory) -> list[InvalidInput]:
    errors: list[InvalidInput] = []
    for cname, customer in inv.customers.items():
        seen: set[str] = set()
        for i, entry in enumerate(customer.sites):
            where = f"customers.{cname}.sites[{i}].site"
            if entry.site not in inv.sites:
                errors.append(InvalidInput(f"unknown site {entry.site!r}", where=where))
            if entry.site in seen:
                errors.append(InvalidInput(f"site {entry.site!r} listed twice", where=where))
            seen.add(entry.site)
            if entry.site in inv.sites and entry.site not in customer.return_paths:
                errors.append(
                    InvalidInput(
                        f"{entry.site} has no return path for {cname}",
                        where=where,
                        hint=f"add customers.{cname}.return_paths.{entry.site}",
                    )
                )
        for path_site in customer.return_paths:
            if path_site not in seen:
                errors.append(
                    InvalidInput(
                        f"site {path_site!r} is not one of the customer's sites",
                        where=f"customers.{cname}.return_paths.{path_site}",
                    )
                )
    for sname, site in inv.sites.items():
        names: set[str] = set()
        addresses: set[IPAddress] = set()
        for i, peer in enumerate(site.peers):
            where = f"sites.{sname}.peers[{i}]"
            if peer.name in names:
                errors.append(InvalidInput(f"duplicate peer name {peer.name!r}", where=where))
            if peer.address in addresses:
                errors.append(InvalidInput(f"duplicate address {peer.address}", where=where))
            names.add(peer.name)
            addresses.add(peer.address)
    return errors


def _check_gre_loops(inv: Inventory) -> list[InvalidInput]:
    """Always-on prefixes are diverted all the time: no GRE endpoint may sit in them."""
    always_on: dict[str, PrefixIndex] = {site: PrefixIndex() for site in inv.sites}
    for oname, other in inv.customers.items():
        if other.mode is Mode.ALWAYS_ON:
            for entry in other.sites:
                for authorised in other.prefixes:
                    always_on.setdefault(entry.site, PrefixIndex()).add(authorised.prefix, oname)
    errors: list[InvalidInput] = []
    for cname, customer in inv.customers.items():
        for site, path in customer.return_paths.items():
            if not isinstance(path, GreReturnPath) or site not in always_on:
                continue
            for prefix, oname in always_on[site].overlapping(host_route(path.remote)):
                errors.append(
                    InvalidInput(
                        f"GRE endpoint {path.remote} lies inside {prefix}, "
                        f"which {oname} always diverts to {site}: the tunnel would loop",
                        where=f"customers.{cname}.return_paths.{site}.remote",
                    )
                )
    return errors


CHECKS = (_check_references, _check_prefixes, _check_gre_loops)


def parse_inventory(data: Any) -> Inventory:
    """Validate a parsed YAML document; raise ``InventoryErrors`` listing every problem."""
    if not isinstance(data, dict):
        raise InventoryErrors(
            [InvalidInput("the file must be a mapping with policy/sites/customers")]
        )
    try:
        inv = Inventory.model_validate(data)
    except ValidationError as exc:
        raise InventoryErrors(_pydantic_errors(exc)) from None
    errors = [error for check in CHECKS for error in check(inv)]
    if errors:
        raise InventoryErrors(errors)
    return inv


def load_inventory(path: Path) -> Inventory:
    return parse_inventory(read_yaml(path, "inventory"))


def load_inventory_bytes(data: bytes, source: str = "inventory") -> Inventory:
    """An inventory received as bytes (an HTTP body); errors name ``source``:line."""
    return parse_inventory(parse_yaml(decode_yaml_bytes(data, source, "inventory"), source))


class InventoryErrors(InvalidInput):
    """Several validation errors at once; ``str()`` is one line per error."""

    def __init__(self, errors: list[InvalidInput]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    def render(
        self, words: Words = plain_words, field: Callable[[str], str] = lambda path: path
    ) -> str:
        return "\n".join(error.render(words, field) for error in self.errors)
