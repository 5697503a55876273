"""A fake ``Kernel`` for unit tests of the return-path reconciler.

It keeps links, addresses, routes and rules in memory, records every write
in ``ops``, and refuses what the kernel refuses (a route that exists, a
delete of something missing, a next hop outside the device's subnets, an
address on a missing link), so a wrong plan fails a unit test the way it
would fail on a real kernel. Deleting a link drops its routes and addresses,
as the kernel does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from orchestrator.drivers.netlink.kernel import KernelError
from orchestrator.drivers.netlink.marks import ROUTE_PROTO, is_our_rule
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
    IPInterface,
    KernelState,
    Link,
    PathRoute,
    PolicyRule,
)


@dataclass
class FakeKernel:
    links: dict[str, Link] = field(default_factory=dict)
    routes: list[tuple[PathRoute, int]] = field(default_factory=list)  # (route, protocol)
    rules: list[tuple[PolicyRule, int]] = field(default_factory=list)  # (rule, protocol)
    ops: list[Op] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # tunnel names whose creation fails

    # --- seeding (what the site did not create) ----------------------------

    def add_interface(
        self,
        name: str,
        addresses: Iterable[IPInterface] = (),
        *,
        up: bool = True,
        mtu: int = 1500,
        alias: str | None = None,
    ) -> None:
        index = max((link.index for link in self.links.values()), default=0) + 1
        self.links[name] = Link(index, name, up, mtu, alias, None, tuple(addresses))

    def add_foreign_route(self, route: PathRoute, protocol: int = 4) -> None:
        self.routes.append((route, protocol))

    def add_foreign_rule(self, rule: PolicyRule, protocol: int = 0) -> None:
        self.rules.append((rule, protocol))

    # --- Kernel -------------------------------------------------------------

    def read(self, table: int) -> KernelState:
        return KernelState(
            links=tuple(self.links.values()),
            routes=tuple(
                r for r, proto in self.routes if proto == ROUTE_PROTO and r.table == table
            ),
            rules=tuple(
                r for r, proto in self.rules if is_our_rule(r.priority, proto, r.table, table)
            ),
        )

    def run(self, op: Op) -> None:
        self.ops.append(op)
        match op:
            case AddTunnel(tunnel=t):
                if t.name in self.links or t.name in self.refuse:
                    raise KernelError("File exists (errno 17)")
                self.add_interface(t.name, mtu=t.mtu, alias=t.alias)
                self.links[t.name] = replace(self.links[t.name], tunnel=t.params)
            case DeleteLink(name=name):
                self._link(name)
                del self.links[name]
                self.routes = [(r, p) for r, p in self.routes if r.oif != name]
            case SetLink(name=name, mtu=mtu):
                self.links[name] = replace(self._link(name), mtu=mtu, up=True)
            case AddAddress(link=name, address=address):
                link = self._link(name)
                if address in link.addresses:
                    raise KernelError("File exists (errno 17)")
                self.links[name] = replace(link, addresses=(*link.addresses, address))
            case DeleteAddress(link=name, address=address):
                link = self._link(name)
                if address not in link.addresses:
                    raise KernelError("Cannot assign requested address (errno 99)")
                kept = tuple(a for a in link.addresses if a != address)
                self.links[name] = replace(link, addresses=kept)
            case AddRoute(route=route) | ReplaceRoute(route=route):
                self._check_next_hop(route)
                same = [
                    (r, p) for r, p in self.routes if (r.table, r.dst) == (route.table, route.dst)
                ]
                if same and isinstance(op, AddRoute):
                    raise KernelError("File exists (errno 17)")
                self.routes = [entry for entry in self.routes if entry not in same]
                self.routes.append((route, ROUTE_PROTO))
            case DeleteRoute(route=route):
                mine = [
                    (r, p)
                    for r, p in self.routes
                    if (r.table, r.dst, p) == (route.table, route.dst, ROUTE_PROTO)
                ]
                if not mine:
                    raise KernelError("No such process (errno 3)")
                self.routes.remove(mine[0])
            case AddRule(rule=rule):
                if (rule, ROUTE_PROTO) in self.rules:
                    raise KernelError("File exists (errno 17)")
                self.rules.append((rule, ROUTE_PROTO))
            case DeleteRule(rule=rule):
                if (rule, ROUTE_PROTO) not in self.rules:
                    raise KernelError("No such file or directory (errno 2)")
                self.rules.remove((rule, ROUTE_PROTO))

    def _link(self, name: str) -> Link:
        if name not in self.links:
            raise KernelError("No such device (errno 19)")
        return self.links[name]

    def _check_next_hop(self, route: PathRoute) -> None:
        link = self._link(route.oif)
        if not link.up:
            raise KernelError("Network is unreachable (errno 101)")
        hop = route.gateway
        if hop is not None and not any(hop in a.network for a in link.addresses):
            raise KernelError("Nexthop has invalid gateway (errno 22)")

    # --- for assertions -------------------------------------------------------

    def owned_routes(self) -> list[PathRoute]:
        return [r for r, proto in self.routes if proto == ROUTE_PROTO]
