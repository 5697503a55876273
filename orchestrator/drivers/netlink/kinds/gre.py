"""``gre``: a GRE tunnel the site creates, over IPv4 (``gre``) or IPv6 (``ip6gre``).

Every customer prefix (IPv4 and IPv6 alike) is routed out of the tunnel
device; the inner addresses are for the probes and the customer edge.
"""

from __future__ import annotations

from orchestrator.drivers.netlink.kinds.base import PathContext
from orchestrator.drivers.netlink.marks import alias_for, tunnel_name
from orchestrator.drivers.netlink.state import (
    DesiredPath,
    KernelState,
    PathRoute,
    Tunnel,
    TunnelParams,
)
from orchestrator.inventory import GreReturnPath, ReturnPath


class GreKind:
    name = "gre"

    def desired(self, ctx: PathContext, path: ReturnPath) -> DesiredPath:
        if not isinstance(path, GreReturnPath):
            raise TypeError(f"{self.name} cannot build a {path.kind} path")
        name = tunnel_name(ctx.customer)
        params = TunnelParams(
            kind="gre" if path.remote.version == 4 else "ip6gre",
            local=path.local,
            remote=path.remote,
            key=path.key,
            ttl=path.ttl,
        )
        tunnel = Tunnel(
            name=name,
            alias=alias_for(ctx.site, ctx.customer),
            params=params,
            mtu=path.effective_mtu,
            address=path.inner_local,
        )
        routes = tuple(
            PathRoute(dst=prefix, oif=name, gateway=None, table=ctx.table)
            for prefix in ctx.prefixes
        )
        return DesiredPath(customer=ctx.customer, kind=self.name, routes=routes, tunnel=tunnel)

    def problem(self, path: DesiredPath, kernel: KernelState) -> str | None:
        if path.tunnel is None:
            return None
        local = path.tunnel.params.local
        for link in kernel.links:
            if any(address.ip == local for address in link.addresses):
                return None
        return f"local address {local} is not configured on any interface"
