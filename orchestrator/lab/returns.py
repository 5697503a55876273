"""The sites' return paths in the lab, built by the site's own driver.

``scrubctl site run`` builds and probes them (its return-path loop); ``lab up``
builds them once beforehand, so a lab whose sites are not running yet already
shows its tunnel and routes (``lab status``, the GRE tests). It makes one
reconciliation per scrubbing site node, with exactly the code a site runs
(``drivers.netlink``: the desired state from ``lab/inventory.yml``, ``apply``
through pyroute2 in the site's namespace, the MSS clamp with the backend the
kernel supports). The lab adds no route of its own; a path the driver cannot
build (ams's GRE tunnel on a kernel without GRE) is reported with the
driver's cause. ``apply`` is idempotent, so the site's loop, when it starts,
finds nothing to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.mss import MssClamper, detect_backend
from orchestrator.drivers.netlink.pyroute import PyrouteKernel
from orchestrator.drivers.netlink.reconcile import apply
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.lab.topology import Topology


@dataclass(frozen=True)
class SitePaths:
    site: str
    built: tuple[str, ...]  # "customer via interface"
    down: tuple[str, ...]  # "customer: cause"
    writes: int
    warnings: tuple[str, ...]


def inventory_path(topology: Topology) -> Path:
    return topology.directory / "lab" / "inventory.yml"


def lab_inventory(topology: Topology) -> Inventory:
    return load_inventory(inventory_path(topology))


def build_site(topology: Topology, inv: Inventory, site: str) -> SitePaths:
    """One reconciliation of ``site``'s return paths in its namespace."""
    netns = topology.namespace(site)
    desired = desired_state(inv, site)
    with PyrouteKernel(netns=netns) as kernel:
        report = apply(kernel, desired)
    MssClamper(site, detect_backend(netns), netns).apply(desired.tunnels)
    built = tuple(f"{p.customer} via {p.interface}" for p in report.paths if p.cause is None)
    down = tuple(f"{p.customer}: {p.cause}" for p in report.paths if p.cause is not None)
    return SitePaths(site, built, down, len(report.steps), report.warnings + report.errors)


def build_all(topology: Topology) -> list[SitePaths]:
    """Every inventory site that is a node of the topology, in inventory order."""
    inv = lab_inventory(topology)
    return [build_site(topology, inv, s) for s in inv.sites if s in topology.nodes]
