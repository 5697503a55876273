"""lab/inventory.yml is a valid inventory and agrees with the lab's topology."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from orchestrator.inventory import DedicatedReturnPath, Inventory, load_inventory
from orchestrator.lab.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(ROOT / "lab" / "inventory.yml")


@pytest.fixture(scope="module")
def topo() -> Topology:
    return load_topology(ROOT / "containerlab.yml")


PEERS = [(site, i) for site in ("fra", "ams") for i in range(2)]


@pytest.mark.parametrize(("site", "index"), PEERS, ids=[f"{s}-{i}" for s, i in PEERS])
def test_peer_matches_a_transit_neighbor(
    inv: Inventory, topo: Topology, site: str, index: int
) -> None:
    peer = inv.sites[site].peers[index]
    assert peer.local_address is not None
    router = topo.owner_of(peer.address)
    assert router is not None and topo.nodes[router].is_frr
    assert topo.owner_of(peer.local_address) == site
    assert topo.nodes[router].bgp_asn == peer.asn
    neighbors = {n.address: n.asn for n in topo.nodes[router].bgp_neighbors}
    assert neighbors.get(peer.local_address) == inv.site_asn(site)


@pytest.mark.parametrize("site", ["fra", "ams"])
def test_return_path_is_the_dedicated_line_to_ce(inv: Inventory, topo: Topology,
                                                 site: str) -> None:  # fmt: skip
    path = inv.customers["acme"].return_paths[site]
    assert isinstance(path, DedicatedReturnPath)
    assert topo.owner_of(path.next_hop) == "ce"
    local = [a for a in topo.nodes[site].addresses if a.interface == path.interface]
    assert local and path.next_hop in local[0].value.network
    assert path.health is not None and topo.owner_of(path.health.target) == "ce"


def test_customer_matches_ce(inv: Inventory, topo: Topology) -> None:
    acme = inv.customers["acme"]
    assert acme.asn == topo.nodes["ce"].bgp_asn
    assert [str(p.prefix) for p in acme.prefixes] == list(topo.nodes["ce"].bgp_networks)
    server = ipaddress.ip_address("203.0.113.10")
    assert topo.owner_of(server) == "server"
    assert [s.site for s in acme.sites] == ["fra", "ams"]
