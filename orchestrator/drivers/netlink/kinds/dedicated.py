"""``dedicated``: an existing interface (cross-connect, PNI, leased line) and a next hop.

Nothing is created and the interface is never changed: the site only routes
the customer's prefixes via the next hop. The next hop carries prefixes of
its own address family only; a prefix of the other family makes the path
down (announcing it would black-hole its clean traffic).
"""

from __future__ import annotations

from orchestrator.drivers.netlink.kinds.base import PathContext
from orchestrator.drivers.netlink.state import DesiredPath, KernelState, Line, PathRoute
from orchestrator.inventory import DedicatedReturnPath, ReturnPath


class DedicatedKind:
    name = "dedicated"

    def desired(self, ctx: PathContext, path: ReturnPath) -> DesiredPath:
        if not isinstance(path, DedicatedReturnPath):
            raise TypeError(f"{self.name} cannot build a {path.kind} path")
        line = Line(interface=path.interface, next_hop=path.next_hop)
        family = path.next_hop.version
        other = [p for p in ctx.prefixes if p.version != family]
        problem = None
        if other:
            problem = f"next hop {path.next_hop} is IPv{family}: it cannot carry " + ", ".join(
                str(p) for p in other
            )
        routes = tuple(
            PathRoute(dst=prefix, oif=path.interface, gateway=path.next_hop, table=ctx.table)
            for prefix in ctx.prefixes
            if prefix.version == family
        )
        return DesiredPath(
            customer=ctx.customer, kind=self.name, routes=routes, line=line, problem=problem
        )

    def problem(self, path: DesiredPath, kernel: KernelState) -> str | None:
        if path.line is None:
            return None
        name, hop = path.line.interface, path.line.next_hop
        link = kernel.link(name)
        if link is None:
            return f"interface {name} does not exist"
        if not link.up:
            return f"interface {name} is down"
        subnets = [a for a in link.addresses if a.version == hop.version]
        if any(hop in a.network and hop != a.ip for a in subnets):
            return None
        have = ", ".join(str(a) for a in subnets) or f"no IPv{hop.version} address"
        return f"next hop {hop} is not in a subnet of {name} ({have})"
