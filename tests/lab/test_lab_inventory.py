"""lab/inventory.yml is a valid inventory and agrees with the lab's topology."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from orchestrator.inventory import DedicatedReturnPath, GreReturnPath, Inventory, load_inventory
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


def test_fra_return_path_is_the_dedicated_line_to_ce(inv: Inventory, topo: Topology) -> None:
    site = "fra"
    path = inv.customers["acme"].return_paths[site]
    assert isinstance(path, DedicatedReturnPath)
    assert topo.owner_of(path.next_hop) == "ce"
    local = [a for a in topo.nodes[site].addresses if a.interface == path.interface]
    assert local and path.next_hop in local[0].value.network
    assert path.health is not None and topo.owner_of(path.health.target) == "ce"


def test_ams_return_path_is_gre_over_the_ams_ce_link(inv: Inventory, topo: Topology) -> None:
    path = inv.customers["acme"].return_paths["ams"]
    assert isinstance(path, GreReturnPath)
    assert topo.owner_of(path.local) == "ams" and topo.owner_of(path.remote) == "ce"
    ams_link = [a.value.network for a in topo.nodes["ams"].addresses if a.value.ip == path.local]
    assert ams_link and path.remote in ams_link[0]  # outer addresses: one directly joined link
    inner = [a for a in topo.nodes["ce"].addresses if a.value.ip == path.inner_remote]
    assert inner and inner[0].interface in topo.nodes["ce"].gre_interfaces
    assert inner[0].value.network == path.inner_local.network
    assert path.health is not None and topo.owner_of(path.health.target) == "ce"


@pytest.mark.parametrize("site", ["fra", "ams"])
def test_site_routes_by_its_upstream_interfaces(inv: Inventory, topo: Topology, site: str) -> None:
    upstream = set(inv.sites[site].upstream_interfaces)
    toward_transits = {
        end.interface
        for link in topo.links
        for end, other in ((link.a, link.b), (link.b, link.a))
        if end.node == site and other.node.startswith("transit")
    }
    assert upstream == toward_transits == {"eth1", "eth2"}


@pytest.mark.parametrize("site", ["fra", "ams"])
def test_site_nodes_add_no_route_of_their_own(topo: Topology, site: str) -> None:
    """The site builds its return path; the lab's exec lines must not."""
    assert not [argv for argv in topo.nodes[site].exec if argv[:2] == ("ip", "route")]


def test_customer_matches_ce(inv: Inventory, topo: Topology) -> None:
    acme = inv.customers["acme"]
    assert acme.asn == topo.nodes["ce"].bgp_asn
    assert [str(p.prefix) for p in acme.prefixes] == list(topo.nodes["ce"].bgp_networks)
    server = ipaddress.ip_address("203.0.113.10")
    assert topo.owner_of(server) == "server"
    assert [s.site for s in acme.sites] == ["fra", "ams"]
