"""Desired paths vs the kernel's owned objects -> the writes, in a safe order (pure).

Only objects that carry our marks are ever deleted or changed (``KernelState``
holds only our routes and rules; links are filtered by ``is_our_link``).
Order: stale rules, stale routes, stale or changed links go first; then new
tunnels, link settings, addresses, routes, and the rules last, so traffic is
steered into the table only once the table is filled.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.drivers.netlink.marks import is_our_link
from orchestrator.drivers.netlink.ops import (
    AddAddress,
    AddRoute,
    AddRule,
    AddTunnel,
    DeleteAddress,
    DeleteLink,
    DeleteRoute,
    DeleteRule,
    ReplaceRoute,
    SetLink,
    Step,
)
from orchestrator.drivers.netlink.state import (
    DesiredPath,
    IPInterface,
    KernelState,
    Link,
    PathRoute,
    PolicyRule,
    Tunnel,
)


def _address_order(address: IPInterface) -> tuple[int, int, int]:
    return (address.version, int(address.ip), address.network.prefixlen)


def _route_order(route: PathRoute) -> tuple[int, int, int, int]:
    dst = route.dst
    return (route.table, dst.version, int(dst.network_address), dst.prefixlen)


def _managed(address: IPInterface) -> bool:
    """IPv6 link-local addresses are the kernel's own, never ours to remove."""
    return not (address.version == 6 and address.ip.is_link_local)


def _tunnel_steps(tunnel: Tunnel, link: Link | None, owner: str) -> list[Step]:
    steps: list[Step] = []
    if link is None:
        steps.append(Step(AddTunnel(tunnel), owner))
        have: set[IPInterface] = set()
    else:
        if link.mtu != tunnel.mtu or not link.up:
            steps.append(Step(SetLink(tunnel.name, tunnel.mtu), owner))
        have = {a for a in link.addresses if _managed(a)}
    stale = sorted(have - {tunnel.address}, key=_address_order)
    steps += [Step(DeleteAddress(tunnel.name, a), owner) for a in stale]
    if tunnel.address not in have:
        steps.append(Step(AddAddress(tunnel.name, tunnel.address), owner))
    return steps


def plan_steps(
    paths: Sequence[DesiredPath], rules: Sequence[PolicyRule], kernel: KernelState
) -> list[Step]:
    """The writes that make the kernel hold exactly ``paths`` and ``rules``.

    ``paths`` are the ones to build now (paths with a problem are left out, so
    whatever they had is removed).
    """
    ours = {link.name: link for link in kernel.links if is_our_link(link.name, link.alias)}
    tunnels = {p.tunnel.name: (p.customer, p.tunnel) for p in paths if p.tunnel is not None}
    owners = {name: owner for name, (owner, _) in tunnels.items()}
    gone = {
        name
        for name, link in ours.items()
        if name not in tunnels or link.tunnel != tunnels[name][1].params
    }

    want_routes = {(r.table, r.dst): (p.customer, r) for p in paths for r in p.routes}
    have_routes = {(r.table, r.dst): r for r in kernel.routes}
    stale = [r for key, r in have_routes.items() if key not in want_routes and r.oif not in gone]
    delete_routes = [Step(DeleteRoute(r)) for r in sorted(stale, key=_route_order)]
    set_routes = []
    for owner, route in sorted(want_routes.values(), key=lambda item: _route_order(item[1])):
        have = have_routes.get((route.table, route.dst))
        if have is None or have.oif in gone:  # a deleted link takes its routes with it
            set_routes.append(Step(AddRoute(route), owner))
        elif have != route:
            set_routes.append(Step(ReplaceRoute(route), owner))

    link_steps: list[Step] = []
    for name in sorted(tunnels):
        owner, tunnel = tunnels[name]
        existing = None if name in gone else ours.get(name)
        link_steps += _tunnel_steps(tunnel, existing, owner)

    want_rules, have_rules = set(rules), set(kernel.rules)
    return [
        *(Step(DeleteRule(rule)) for rule in sorted(have_rules - want_rules)),
        *delete_routes,
        *(Step(DeleteLink(name), owners.get(name)) for name in sorted(gone)),
        *link_steps,
        *set_routes,
        *(Step(AddRule(rule)) for rule in sorted(want_rules - have_rules)),
    ]
