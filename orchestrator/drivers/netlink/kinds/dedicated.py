"""``dedicated``: an existing interface (cross-connect, PNI, leased line) and a next hop.

Nothing is created and the interface is never changed: the site only routes
the customer's prefixes via the next hop. Each next hop carries prefixes of
its own address family only (``next_hop`` and, for a dual-stack line,
``next_hop_v6``); a prefix of a family without a next hop makes the path down
(announcing it would black-hole its clean traffic).
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
        hops = path.next_hops
        line = Line(interface=path.interface, next_hops=tuple(hops.values()))
        other = [p for p in ctx.prefixes if p.version not in hops]
        problem = None
        if other:
            have = " and ".join(f"IPv{v} ({hop})" for v, hop in sorted(hops.items()))
            problem = f"the line has a next hop for {have} only: it cannot carry " + ", ".join(
                str(p) for p in other
            )
        routes = tuple(
            PathRoute(dst=prefix, oif=path.interface, gateway=hops[prefix.version],
                      table=ctx.table)
            for prefix in ctx.prefixes
            if prefix.version in hops
        )  # fmt: skip
        return DesiredPath(
            customer=ctx.customer, kind=self.name, routes=routes, line=line, problem=problem
        )

    def problem(self, path: DesiredPath, kernel: KernelState) -> str | None:
        if path.line is None:
            return None
        name = path.line.interface
        link = kernel.link(name)
        if link is None:
            return f"interface {name} does not exist"
        if not link.up:
            return f"interface {name} is down"
        for hop in path.line.next_hops:
            subnets = [a for a in link.addresses if a.version == hop.version]
            if not any(hop in a.network and hop != a.ip for a in subnets):
                have = ", ".join(str(a) for a in subnets) or f"no IPv{hop.version} address"
                return f"next hop {hop} is not in a subnet of {name} ({have})"
        return None
