"""The kernel state a site wants, computed from the inventory alone (pure, no I/O).

Every customer with a return path at the site gets its kind's objects
(tunnel, routes for all its authorised prefixes in the site's table); the
site gets one policy rule per upstream interface and address family. Routes
exist whether or not a diversion is active, so a site is ready before any
announcement (make-before-break).
"""

from __future__ import annotations

from orchestrator.domain import IPNetwork
from orchestrator.drivers.netlink.kinds import KINDS, PathContext
from orchestrator.drivers.netlink.marks import PROBE_MARK, PROBE_RULE_PRIORITY, RULE_PRIORITY
from orchestrator.drivers.netlink.state import DesiredPath, DesiredState, PolicyRule
from orchestrator.inventory import Inventory


def _prefix_order(prefix: IPNetwork) -> tuple[int, int, int]:
    return (prefix.version, int(prefix.network_address), prefix.prefixlen)


def _name_clash(path: DesiredPath, owners: dict[str, str]) -> DesiredPath:
    """Two customers whose tunnel names coincide: the later one is not built."""
    if path.tunnel is None:
        return path
    owner = owners.setdefault(path.tunnel.name, path.customer)
    if owner == path.customer:
        return path
    problem = f"tunnel name {path.tunnel.name} is already customer {owner}'s"
    return DesiredPath(
        customer=path.customer, kind=path.kind, routes=(), tunnel=None, problem=problem
    )


def desired_state(inv: Inventory, site: str) -> DesiredState:
    config = inv.sites[site]
    paths: list[DesiredPath] = []
    owners: dict[str, str] = {}
    for cname in sorted(inv.customers):
        customer = inv.customers[cname]
        path = customer.return_paths.get(site)
        if path is None:
            continue
        prefixes = sorted((entry.prefix for entry in customer.prefixes), key=_prefix_order)
        ctx = PathContext(site=site, table=config.return_table, customer=cname, prefixes=prefixes)
        paths.append(_name_clash(KINDS[path.kind].desired(ctx, path), owners))
    rules = tuple(
        PolicyRule(family=family, iif=iif, priority=RULE_PRIORITY, table=config.return_table)
        for iif in config.upstream_interfaces
        for family in (4, 6)
    )
    if paths:  # the probes' rule: probes are routed like clean traffic (drivers/probe.py)
        rules += tuple(
            PolicyRule(family=family, iif="", priority=PROBE_RULE_PRIORITY,
                       table=config.return_table, fwmark=PROBE_MARK)
            for family in (4, 6)
        )  # fmt: skip
    warnings: tuple[str, ...] = ()
    if paths and not any(rule.iif for rule in rules):
        warnings = (
            f"sites.{site}.upstream_interfaces: not set, so no traffic is routed by "
            f"table {config.return_table} and the return paths carry nothing",
        )
    return DesiredState(
        site=site, table=config.return_table, paths=tuple(paths), rules=rules, warnings=warnings
    )
