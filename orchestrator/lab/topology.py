"""Parse and validate ``containerlab.yml`` into typed values.

Only the containerlab keys the namespace runner can honour are accepted; any
other key is reported with its place in the file and a hint, so that the file
stays valid for real containerlab *and* buildable here. All problems are
collected and raised together as one ``TopologyErrors``.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import InvalidInput
from orchestrator.files import read_yaml

TOP_KEYS = {"name", "prefix", "mgmt", "topology"}
TOPOLOGY_KEYS = {"kinds", "defaults", "nodes", "links", "groups"}
# containerlab node keys the namespace runner understands (a subset of the schema's).
NODE_KEYS = {"kind", "image", "binds", "exec", "env", "group", "labels"}
LINK_KEYS = {"endpoints"}
SUPPORTED_KINDS = {"linux"}
FRR_CONF = "/etc/frr/frr.conf"
FRR_DAEMONS = "/etc/frr/daemons"
FRR_DAEMONS_SUPPORTED = ("zebra", "staticd", "bgpd")  # start order

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_NEIGHBOR = re.compile(r"^\s*neighbor\s+(\S+)\s+remote-as\s+(\d+)\s*$", re.MULTILINE)
_PASSWORD = re.compile(r"^\s*neighbor\s+(\S+)\s+password\s+(\S+)\s*$", re.MULTILINE)
_ROUTER_BGP = re.compile(r"^\s*router\s+bgp\s+(\d+)\s*$", re.MULTILINE)
_NETWORK = re.compile(r"^\s*network\s+(\S+)\s*$", re.MULTILINE)
_WORD = r"(?<![A-Za-z0-9_-]){}(?![A-Za-z0-9_-])"  # an interface name inside a line
_DAEMON_ON = re.compile(r"^\s*([a-z0-9]+d)\s*=\s*yes\s*$", re.MULTILINE)


class TopologyErrors(InvalidInput):
    """Every problem found in the topology file, one line each."""

    def __init__(self, errors: list[InvalidInput]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Bind:
    source: Path  # absolute, on this machine
    target: str  # path inside the container
    read_only: bool = False


@dataclass(frozen=True)
class Address:
    """An address an exec line puts on an interface (``ip address add``)."""

    interface: str
    value: ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class BgpNeighbor:
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    asn: int
    password: str | None = None  # TCP MD5 (``neighbor X password Y``)


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    image: str
    binds: tuple[Bind, ...] = ()
    exec: tuple[tuple[str, ...], ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    def bind_for(self, target: str) -> Bind | None:
        for bind in self.binds:
            if bind.target == target:
                return bind
        return None

    @property
    def frr_config(self) -> Path | None:
        """The FRR config this node binds to /etc/frr/frr.conf, if it is a router."""
        bind = self.bind_for(FRR_CONF)
        return bind.source if bind else None

    @property
    def is_frr(self) -> bool:
        return self.frr_config is not None

    @property
    def frr_daemons(self) -> tuple[str, ...]:
        """zebra plus the daemons the bound ``daemons`` file enables, in start order."""
        bind = self.bind_for(FRR_DAEMONS)
        enabled = set(_DAEMON_ON.findall(bind.source.read_text())) if bind else {"bgpd"}
        return tuple(d for d in FRR_DAEMONS_SUPPORTED if d == "zebra" or d in enabled)

    @property
    def addresses(self) -> tuple[Address, ...]:
        return tuple(a for argv in self.exec if (a := _address_of(argv)) is not None)

    @property
    def bgp_asn(self) -> int | None:
        conf = self.frr_config
        found = _ROUTER_BGP.search(conf.read_text()) if conf else None
        return int(found.group(1)) if found else None

    @property
    def bgp_neighbors(self) -> tuple[BgpNeighbor, ...]:
        conf = self.frr_config
        if conf is None:
            return ()
        text = conf.read_text()
        passwords = dict(_PASSWORD.findall(text))
        found = []
        for name, asn in _NEIGHBOR.findall(text):
            try:  # peer-group names and interface neighbors are not addresses
                found.append(BgpNeighbor(ipaddress.ip_address(name), int(asn), passwords.get(name)))
            except ValueError:
                continue
        return tuple(found)

    @property
    def bgp_networks(self) -> tuple[str, ...]:
        """Prefixes the node originates with BGP ``network`` statements."""
        conf = self.frr_config
        return tuple(_NETWORK.findall(conf.read_text())) if conf else ()

    @property
    def gre_interfaces(self) -> tuple[str, ...]:
        """Tunnels the exec lines create (``ip link add [name] X type gre|ip6gre``)."""
        return tuple(name for argv in self.exec if (name := _gre_created(argv)) is not None)

    def needs_gre(self, argv: tuple[str, ...]) -> bool:
        """True for an exec line that creates or names one of the node's GRE tunnels."""
        names = self.gre_interfaces
        return any(re.search(_WORD.format(re.escape(n)), " ".join(argv)) for n in names)

    def translate(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """An exec line for a namespace: bind targets become their sources."""
        out = []
        for arg in argv:
            bind = self.bind_for(arg)
            out.append(str(bind.source) if bind else arg)
        return tuple(out)


@dataclass(frozen=True)
class Endpoint:
    node: str
    interface: str

    def __str__(self) -> str:
        return f"{self.node}:{self.interface}"


@dataclass(frozen=True)
class Link:
    a: Endpoint
    b: Endpoint


@dataclass(frozen=True)
class Topology:
    name: str
    path: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    links: tuple[Link, ...] = ()

    @property
    def directory(self) -> Path:
        return self.path.parent

    def namespace(self, node: str) -> str:
        return f"clab-{self.name}-{node}"

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(self.nodes)
            raise InvalidInput(f"unknown node {name!r} (nodes: {known})", where="NODE") from None

    def owner_of(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The node an address is configured on, if any."""
        for node in self.nodes.values():
            if any(a.value.ip == address for a in node.addresses):
                return node.name
        return None

    def expected_sessions(self) -> list[tuple[str, BgpNeighbor, str]]:
        """(router, neighbor, peer node) for every BGP session between two FRR nodes:
        these must come up on their own; sessions to non-FRR nodes (ExaBGP) need not."""
        sessions = []
        for node in self.nodes.values():
            for neighbor in node.bgp_neighbors:
                peer = self.owner_of(neighbor.address)
                if peer is not None and self.nodes[peer].is_frr:
                    sessions.append((node.name, neighbor, peer))
        return sessions

    def renamed(self, name: str) -> Topology:
        """The same lab under another name (separate namespaces), e.g. for tests."""
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"{name!r} is not a valid lab name", where="name")
        return Topology(name=name, path=self.path, nodes=self.nodes, links=self.links)


def _gre_created(argv: tuple[str, ...]) -> str | None:
    words = list(argv)
    if words[:3] != ["ip", "link", "add"] or "type" not in words:
        return None
    if words[words.index("type") + 1 :][:1] not in (["gre"], ["ip6gre"]):
        return None
    rest = words[3:]
    name = rest[1] if rest[:1] == ["name"] and len(rest) > 1 else rest[0]
    return None if name == "type" else name


def _address_of(argv: tuple[str, ...]) -> Address | None:
    """``ip [-4|-6] address|addr|a add|replace ADDR dev IF`` → Address."""
    words = [w for w in argv if w not in ("-4", "-6")]
    if len(words) < 6 or words[0] != "ip" or words[1] not in ("address", "addr", "a"):
        return None
    if words[2] not in ("add", "replace") or "dev" not in words:
        return None
    dev = words.index("dev")
    if dev + 1 >= len(words):
        return None
    try:
        value = ipaddress.ip_interface(words[3])
    except ValueError:
        return None
    return Address(words[dev + 1], value)


# --- parsing -------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.errors: list[InvalidInput] = []

    def add(self, where: str, message: str, hint: str = "") -> None:
        self.errors.append(InvalidInput(message, where=where, hint=hint))


def _unknown_keys(data: dict[str, Any], allowed: set[str], where: str, out: _Collector) -> None:
    for key in sorted(set(data) - allowed):
        out.add(
            f"{where}.{key}" if where else key,
            "not supported by the namespace runner",
            hint=f"use one of: {', '.join(sorted(allowed))}",
        )


def _parse_bind(text: Any, base: Path, where: str, out: _Collector) -> Bind | None:
    if not isinstance(text, str) or text.count(":") not in (1, 2):
        out.add(where, f"{text!r} is not SOURCE:TARGET[:ro|rw]")
        return None
    source, target, *mode = text.split(":")
    if mode and mode[0] not in ("ro", "rw"):
        out.add(where, f"bind mode {mode[0]!r} must be ro or rw")
    if not target.startswith("/"):
        out.add(where, f"bind target {target!r} must be an absolute path")
    path = (base / source).resolve()
    if not path.exists():
        out.add(where, f"bind source {source} does not exist", hint=f"looked for {path}")
        return None
    return Bind(path, target, read_only=bool(mode) and mode[0] == "ro")


def _parse_exec(lines: Any, where: str, out: _Collector) -> tuple[tuple[str, ...], ...]:
    if not isinstance(lines, list):
        out.add(where, "must be a list of commands")
        return ()
    result = []
    for i, line in enumerate(lines):
        try:
            argv = tuple(shlex.split(line)) if isinstance(line, str) else ()
        except ValueError as exc:
            out.add(f"{where}[{i}]", f"cannot split {line!r}: {exc}")
            continue
        if not argv:
            out.add(f"{where}[{i}]", "must be a non-empty command string")
            continue
        result.append(argv)
    return tuple(result)


def _parse_node(
    name: str, data: Any, kinds: dict[str, Any], base: Path, out: _Collector
) -> Node | None:
    where = f"topology.nodes.{name}"
    if not _NAME.fullmatch(name):
        out.add(where, "node names are lower-case letters, digits and '-' (at most 31)")
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        out.add(where, "must be a mapping")
        return None
    _unknown_keys(data, NODE_KEYS, where, out)
    kind = data.get("kind")
    if kind not in SUPPORTED_KINDS:
        out.add(f"{where}.kind", f"kind {kind!r} is not supported", hint="use kind: linux")
        return None
    defaults = kinds.get(kind) or {}
    image = data.get("image", defaults.get("image"))
    if not isinstance(image, str) or not image:
        out.add(f"{where}.image", f"no image (set it here or in topology.kinds.{kind}.image)")
        image = ""
    binds = tuple(
        b
        for i, text in enumerate(data.get("binds") or [])
        if (b := _parse_bind(text, base, f"{where}.binds[{i}]", out)) is not None
    )
    env = data.get("env") or {}
    if not isinstance(env, dict):
        out.add(f"{where}.env", "must be a mapping")
        env = {}
    _check_daemons(binds, where, out)
    return Node(
        name=name,
        kind=kind,
        image=image,
        binds=binds,
        exec=_parse_exec(data.get("exec") or [], f"{where}.exec", out),
        env=tuple((str(k), str(v)) for k, v in env.items()),
    )


def _check_daemons(binds: tuple[Bind, ...], where: str, out: _Collector) -> None:
    for i, bind in enumerate(binds):
        if bind.target != FRR_DAEMONS:
            continue
        enabled = set(_DAEMON_ON.findall(bind.source.read_text()))
        for daemon in sorted(enabled - set(FRR_DAEMONS_SUPPORTED)):
            out.add(
                f"{where}.binds[{i}]",
                f"{bind.source.name} enables {daemon}, which the namespace runner does not start",
                hint=f"supported: {', '.join(FRR_DAEMONS_SUPPORTED)}",
            )


def _parse_endpoint(text: Any, nodes: dict[str, Any], where: str, out: _Collector) -> Endpoint:
    node, _, iface = str(text).partition(":")
    if node not in nodes:
        out.add(where, f"endpoint {text!r} names no node of this topology")
    if not _IFNAME.fullmatch(iface):
        out.add(where, f"endpoint {text!r} needs a valid interface name (NODE:IFACE)")
    elif iface == "eth0":
        out.add(where, "eth0 is containerlab's management interface; use eth1 and up")
    return Endpoint(node, iface)


def _parse_links(data: Any, nodes: dict[str, Any], out: _Collector) -> tuple[Link, ...]:
    if not isinstance(data, list):
        out.add("topology.links", "must be a list")
        return ()
    links, seen = [], set()
    for i, item in enumerate(data):
        where = f"topology.links[{i}]"
        if not isinstance(item, dict):
            out.add(where, "must be a mapping with endpoints")
            continue
        _unknown_keys(item, LINK_KEYS, where, out)
        ends = item.get("endpoints")
        if not isinstance(ends, list) or len(ends) != 2:
            out.add(f"{where}.endpoints", "must list exactly two NODE:IFACE endpoints")
            continue
        a, b = (_parse_endpoint(e, nodes, f"{where}.endpoints", out) for e in ends)
        for end in (a, b):
            if str(end) in seen:
                out.add(f"{where}.endpoints", f"{end} is used by another link")
            seen.add(str(end))
        links.append(Link(a, b))
    return tuple(links)


def parse_topology(data: Any, path: Path) -> Topology:
    out = _Collector()
    if not isinstance(data, dict):
        raise TopologyErrors([InvalidInput("must be a mapping", where=str(path))])
    _unknown_keys(data, TOP_KEYS, "", out)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        out.add("name", f"{name!r} is not a valid lab name (lower-case letters, digits, '-')")
        name = "invalid"
    topo = data.get("topology")
    if not isinstance(topo, dict):
        out.add("topology", "missing or not a mapping")
        raise TopologyErrors(out.errors)
    _unknown_keys(topo, TOPOLOGY_KEYS, "topology", out)
    kinds = topo.get("kinds") or {}
    raw_nodes = topo.get("nodes") or {}
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        out.add("topology.nodes", "needs at least one node")
        raw_nodes = {}
    base = path.resolve().parent
    nodes = {
        n: node
        for n, spec in raw_nodes.items()
        if (node := _parse_node(str(n), spec, kinds, base, out)) is not None
    }
    links = _parse_links(topo.get("links") or [], raw_nodes, out)
    if out.errors:
        raise TopologyErrors(out.errors)
    return Topology(name=name, path=path.resolve(), nodes=nodes, links=links)


def load_topology(path: Path) -> Topology:
    return parse_topology(read_yaml(path, "topology"), path)


def default_topology_path() -> Path:
    """``containerlab.yml`` in the current directory, else at the repository root."""
    here = Path("containerlab.yml")
    if here.exists():
        return here
    return Path(__file__).resolve().parents[2] / "containerlab.yml"
