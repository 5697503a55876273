"""``Kernel`` on pyroute2 0.9: reads and writes through one ``IPRoute`` socket.

Every netlink write goes through ``_write``, which counts it (``writes``), so a
test can prove that a second run with no change writes nothing. Works in a
given network namespace (``netns="name"``; it must exist: never created here).
"""

from __future__ import annotations

import ipaddress
import socket
from types import TracebackType
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from orchestrator.drivers.netlink.kernel import KernelError
from orchestrator.drivers.netlink.marks import ROUTE_PROTO, is_our_link, is_our_rule
from orchestrator.drivers.netlink.ops import (
    AddAddress,
    AddRoute,
    AddRule,
    AddTunnel,
    DeleteAddress,
    DeleteLink,
    DeleteRoute,
    DeleteRule,
    Op,
    ReplaceRoute,
    SetLink,
)
from orchestrator.drivers.netlink.state import (
    KernelState,
    Link,
    PathRoute,
    PolicyRule,
    Tunnel,
    TunnelParams,
)

IFF_UP = 0x1
IFA_F_NODAD = 0x2
GRE_KEY = 0x2000  # GRE_KEY flag as pyroute2 encodes gre_iflags ('>H')
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}
_VERSION = {socket.AF_INET: 4, socket.AF_INET6: 6}
_TUNNEL_KINDS = ("gre", "ip6gre")


def _tunnel_params(msg: Any) -> TunnelParams | None:
    kind = msg.get(("linkinfo", "kind"))
    if kind not in _TUNNEL_KINDS:
        return None
    data = msg.get(("linkinfo", "data"))
    prefix = "IFLA_GRE_" if kind == "gre" else "IFLA_IP6GRE_"
    flags = data.get(prefix + "IFLAGS") or 0
    keyed = bool(flags & (GRE_KEY if kind == "gre" else socket.htons(GRE_KEY)))
    return TunnelParams(
        kind=kind,
        local=ipaddress.ip_address(data.get(prefix + "LOCAL")),
        remote=ipaddress.ip_address(data.get(prefix + "REMOTE")),
        key=data.get(prefix + "IKEY") if keyed else None,
        ttl=data.get(prefix + "TTL"),
    )


def _tunnel_args(tunnel: Tunnel) -> dict[str, Any]:
    params = tunnel.params
    p = "gre_" if params.kind == "gre" else "ip6gre_"
    args: dict[str, Any] = {
        "kind": params.kind,
        p + "local": str(params.local),
        p + "remote": str(params.remote),
        p + "ttl": params.ttl,
    }
    if params.key is not None:
        # gre_*flags are encoded big-endian by pyroute2, ip6gre_*flags in host order.
        flag = GRE_KEY if params.kind == "gre" else socket.htons(GRE_KEY)
        args |= {p + "ikey": params.key, p + "okey": params.key}
        args |= {p + "iflags": flag, p + "oflags": flag}
    return args


class PyrouteKernel:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        try:
            self.ipr = IPRoute(netns=netns, flags=0) if netns else IPRoute()
        except FileNotFoundError:
            raise KernelError(f"network namespace {netns} does not exist") from None
        self.writes = 0
        self._index: dict[str, int] = {}

    def __enter__(self) -> PyrouteKernel:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.ipr.close()

    # --- reading ----------------------------------------------------------

    def read(self, table: int) -> KernelState:
        addresses: dict[int, list[Any]] = {}
        for msg in self.ipr.addr("dump"):
            local = msg.get("local") or msg.get("address")  # IFA_LOCAL: ours on a p2p link
            address = ipaddress.ip_interface(f"{local}/{msg['prefixlen']}")
            addresses.setdefault(msg["index"], []).append(address)
        links = []
        for msg in self.ipr.link("dump"):
            index, name, alias = msg["index"], msg.get("ifname"), msg.get("ifalias")
            links.append(
                Link(
                    index=index,
                    name=name,
                    up=bool(msg["flags"] & IFF_UP),
                    mtu=msg.get("mtu"),
                    alias=alias,
                    tunnel=_tunnel_params(msg) if is_our_link(name, alias) else None,
                    addresses=tuple(addresses.get(index, ())),
                )
            )
        self._index = {link.name: link.index for link in links}
        names = {link.index: link.name for link in links}
        return KernelState(
            links=tuple(links), routes=self._routes(table, names), rules=self._rules(table)
        )

    def _routes(self, table: int, names: dict[int, str]) -> tuple[PathRoute, ...]:
        routes = []
        for msg in self.ipr.route("dump", table=table):
            if msg.get("proto") != ROUTE_PROTO or msg["family"] not in _VERSION:
                continue
            gateway = msg.get("gateway")
            routes.append(
                PathRoute(
                    dst=ipaddress.ip_network(f"{msg.get('dst')}/{msg['dst_len']}"),
                    oif=names.get(msg.get("oif"), ""),
                    gateway=ipaddress.ip_address(gateway) if gateway else None,
                    table=msg.get("table"),
                )
            )
        return tuple(routes)

    def _rules(self, table: int) -> tuple[PolicyRule, ...]:
        rules = []
        for msg in self.ipr.rule("dump"):
            if msg["family"] not in _VERSION:
                continue
            priority, protocol = msg.get("priority") or 0, msg.get("protocol") or 0
            if not is_our_rule(priority, protocol, msg.get("table"), table):
                continue
            rules.append(
                PolicyRule(
                    family=_VERSION[msg["family"]],
                    iif=msg.get("iifname") or "",
                    priority=priority,
                    table=msg.get("table"),
                    fwmark=msg.get("fwmark") or 0,
                )
            )
        return tuple(rules)

    # --- writing ----------------------------------------------------------

    def _write(self, method: str, command: str, **kwargs: Any) -> None:
        self.writes += 1
        try:
            getattr(self.ipr, method)(command, **kwargs)
        except NetlinkError as exc:
            raise KernelError(f"{exc.args[-1]} (errno {exc.code})") from None

    def _lookup(self, name: str) -> int:
        index = self._index.get(name)
        if index is None:
            found = self.ipr.link_lookup(ifname=name)
            if not found:
                raise KernelError(f"interface {name} does not exist")
            index = self._index[name] = found[0]
        return index

    def _route_args(self, route: PathRoute) -> dict[str, Any]:
        args: dict[str, Any] = {
            "family": _FAMILY[route.family],
            "dst": str(route.dst),
            "table": route.table,
            "proto": ROUTE_PROTO,
            "oif": self._lookup(route.oif),
        }
        if route.gateway is not None:
            args["gateway"] = str(route.gateway)
        return args

    def _rule_args(self, rule: PolicyRule) -> dict[str, Any]:
        args: dict[str, Any] = {
            "family": _FAMILY[rule.family],
            "table": rule.table,
            "priority": rule.priority,
            "protocol": ROUTE_PROTO,
        }
        if rule.iif:
            args["iifname"] = rule.iif
        if rule.fwmark:
            args |= {"fwmark": rule.fwmark, "fwmask": 0xFFFFFFFF}
        return args

    def _address_args(self, link: str, address: Any) -> dict[str, Any]:
        args = {
            "index": self._lookup(link),
            "address": str(address.ip),
            "prefixlen": address.network.prefixlen,
        }
        if address.version == 6:
            args["flags"] = IFA_F_NODAD  # usable at once: no duplicate detection on a tunnel
        return args

    def _add_tunnel(self, tunnel: Tunnel) -> None:
        """Create, then set the alias (the kernel ignores IFLA_IFALIAS on create).

        A tunnel left without its alias would look foreign for ever, so it is
        deleted again if the alias cannot be set.
        """
        self._write("link", "add", ifname=tunnel.name, mtu=tunnel.mtu, state="up",
                    **_tunnel_args(tunnel))  # fmt: skip
        self._index.pop(tunnel.name, None)
        index = self._lookup(tunnel.name)
        try:
            self._write("link", "set", index=index, ifalias=tunnel.alias)
        except KernelError:
            self._write("link", "del", index=index)
            self._index.pop(tunnel.name, None)
            raise

    def run(self, op: Op) -> None:
        match op:
            case AddTunnel(tunnel=t):
                self._add_tunnel(t)
            case DeleteLink(name=name):
                self._write("link", "del", index=self._lookup(name))
                self._index.pop(name, None)
            case SetLink(name=name, mtu=mtu):
                self._write("link", "set", index=self._lookup(name), mtu=mtu, state="up")
            case AddAddress(link=link, address=address):
                self._write("addr", "add", **self._address_args(link, address))
            case DeleteAddress(link=link, address=address):
                self._write("addr", "del", **self._address_args(link, address))
            case AddRoute(route=route):
                self._write("route", "add", **self._route_args(route))
            case ReplaceRoute(route=route):
                self._write("route", "replace", **self._route_args(route))
            case DeleteRoute(route=route):
                # by prefix, table and our protocol: its device may be gone already
                self._write(
                    "route", "del", family=_FAMILY[route.family], dst=str(route.dst),
                    table=route.table, proto=ROUTE_PROTO,
                )  # fmt: skip
            case AddRule(rule=rule):
                self._write("rule", "add", **self._rule_args(rule))
            case DeleteRule(rule=rule):
                self._write("rule", "del", **self._rule_args(rule))
