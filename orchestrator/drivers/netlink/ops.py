"""The kernel writes the reconciler can ask for: one dataclass per netlink write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from orchestrator.drivers.netlink.state import IPInterface, PathRoute, PolicyRule, Tunnel


@dataclass(frozen=True)
class AddTunnel:
    """Create the tunnel with its MTU and alias, administratively up."""

    tunnel: Tunnel


@dataclass(frozen=True)
class DeleteLink:
    name: str


@dataclass(frozen=True)
class SetLink:
    """Set an owned link's MTU and bring it up."""

    name: str
    mtu: int


@dataclass(frozen=True)
class AddAddress:
    link: str
    address: IPInterface


@dataclass(frozen=True)
class DeleteAddress:
    link: str
    address: IPInterface


@dataclass(frozen=True)
class AddRoute:
    route: PathRoute


@dataclass(frozen=True)
class ReplaceRoute:
    route: PathRoute


@dataclass(frozen=True)
class DeleteRoute:
    route: PathRoute


@dataclass(frozen=True)
class AddRule:
    rule: PolicyRule


@dataclass(frozen=True)
class DeleteRule:
    rule: PolicyRule


Op: TypeAlias = (
    AddTunnel
    | DeleteLink
    | SetLink
    | AddAddress
    | DeleteAddress
    | AddRoute
    | ReplaceRoute
    | DeleteRoute
    | AddRule
    | DeleteRule
)


@dataclass(frozen=True)
class Step:
    """One write and the customer whose path it serves (None: the site's own)."""

    op: Op
    owner: str | None = None


def describe(op: Op) -> str:
    """One line for logs and health causes: ``add route 203.0.113.0/24 dev eth3``."""
    match op:
        case AddTunnel(tunnel=t):
            key = f" key {t.params.key}" if t.params.key is not None else ""
            return (
                f"add {t.params.kind} {t.name} {t.params.local} -> {t.params.remote}{key}"
                f" ttl {t.params.ttl} mtu {t.mtu}"
            )
        case DeleteLink(name=name):
            return f"delete link {name}"
        case SetLink(name=name, mtu=mtu):
            return f"set link {name} mtu {mtu} up"
        case AddAddress(link=link, address=address):
            return f"add address {address} dev {link}"
        case DeleteAddress(link=link, address=address):
            return f"delete address {address} dev {link}"
        case AddRoute(route=r) | ReplaceRoute(route=r) | DeleteRoute(route=r):
            verb = {AddRoute: "add", ReplaceRoute: "replace", DeleteRoute: "delete"}[type(op)]
            via = f" via {r.gateway}" if r.gateway is not None else ""
            return f"{verb} route {r.dst}{via} dev {r.oif} table {r.table}"
        case AddRule(rule=r) | DeleteRule(rule=r):
            verb = "add" if isinstance(op, AddRule) else "delete"
            match_ = f"fwmark {r.fwmark:#x}" if r.fwmark else f"iif {r.iif}"
            return f"{verb} IPv{r.family} rule {r.priority}: {match_} lookup {r.table}"
