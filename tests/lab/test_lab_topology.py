"""The topology parser: the real containerlab.yml, and one error case per rule."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import customer_edge
from orchestrator.customer_edge.model import Request
from orchestrator.errors import InvalidInput
from orchestrator.inventory import load_inventory
from orchestrator.lab.topology import TopologyErrors, load_topology, parse_topology

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real() -> Any:
    return load_topology(ROOT / "containerlab.yml")


def test_real_file_nodes_and_links(real: Any) -> None:
    assert real.name == "scrub"
    assert set(real.nodes) == {
        "transit1", "transit2", "client", "attacker", "fra", "ams", "ce", "server",
    }  # fmt: skip
    assert len(real.links) == 12
    assert real.namespace("fra") == "clab-scrub-fra"


def test_real_file_frr_nodes(real: Any) -> None:
    frr = {n for n, node in real.nodes.items() if node.is_frr}
    assert frr == {"transit1", "transit2", "ce"}
    assert real.nodes["transit1"].frr_daemons == ("zebra", "staticd", "bgpd")
    assert real.nodes["ce"].bgp_asn == 64496
    assert real.nodes["transit1"].bgp_networks == ("198.51.100.0/25",)


def test_real_file_addresses(real: Any) -> None:
    fra = {(a.interface, str(a.value)) for a in real.nodes["fra"].addresses}
    assert fra == {("eth1", "192.0.2.134/30"), ("eth2", "192.0.2.142/30"),
                   ("eth3", "192.0.2.157/30")}  # fmt: skip
    assert real.owner_of(ipaddress.ip_address("203.0.113.10")) == "server"
    assert real.owner_of(ipaddress.ip_address("8.8.8.8")) is None


def test_expected_sessions_are_between_frr_nodes_only(real: Any) -> None:
    pairs = {(r, p) for r, _n, p in real.expected_sessions()}
    assert pairs == {
        ("transit1", "transit2"), ("transit2", "transit1"), ("transit1", "ce"),
        ("ce", "transit1"), ("transit2", "ce"), ("ce", "transit2"),
    }  # fmt: skip


def test_exec_translation_replaces_bind_targets(real: Any) -> None:
    fra = real.nodes["fra"]
    line = ("nft", "-f", "/etc/scrubctl/scrub.nft")
    assert fra.translate(line) == ("nft", "-f", str(ROOT / "lab/fra/scrub.nft"))
    assert fra.translate(("ip", "link")) == ("ip", "link")


def test_renamed_keeps_nodes(real: Any) -> None:
    other = real.renamed("scrubtest")
    assert other.namespace("ce") == "clab-scrubtest-ce"
    assert other.nodes == real.nodes
    with pytest.raises(InvalidInput, match="not a valid lab name"):
        real.renamed("Bad Name")


def test_unknown_node_named_with_choices(real: Any) -> None:
    with pytest.raises(InvalidInput, match="unknown node 'nope'"):
        real.node("nope")


# --- error cases ------------------------------------------------------------------


def minimal(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "r1.conf").write_text("router bgp 65000\n")
    return {
        "name": "t",
        "topology": {
            "kinds": {"linux": {"image": "alpine"}},
            "nodes": {
                "r1": {"kind": "linux", "binds": ["r1.conf:/etc/frr/frr.conf"],
                       "exec": ["ip address add 192.0.2.1/30 dev eth1"]},
                "h1": {"kind": "linux"},
            },
            "links": [{"endpoints": ["r1:eth1", "h1:eth1"]}],
        },
    }  # fmt: skip


def errors_of(data: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(TopologyErrors) as caught:
        parse_topology(data, tmp_path / "topo.yml")
    return [str(e) for e in caught.value.errors]


def test_minimal_parses(tmp_path: Path) -> None:
    topo = parse_topology(minimal(tmp_path), tmp_path / "topo.yml")
    assert topo.nodes["h1"].image == "alpine"  # from topology.kinds
    assert topo.nodes["r1"].frr_config == (tmp_path / "r1.conf").resolve()


def test_unsupported_frr_daemon(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    (tmp_path / "daemons").write_text("bgpd=yes\nospfd=yes\nisisd=no\n")
    data["topology"]["nodes"]["r1"]["binds"].append("daemons:/etc/frr/daemons")
    assert errors_of(data, tmp_path) == [
        "topology.nodes.r1.binds[1]: daemons enables ospfd, which the namespace runner "
        "does not start (supported: zebra, staticd, bgpd)"
    ]


def test_peer_group_neighbors_are_not_addresses(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    (tmp_path / "r1.conf").write_text(
        "router bgp 65000\n neighbor G peer-group\n neighbor G remote-as 65001\n"
        " neighbor 192.0.2.2 remote-as 65002\n network 203.0.113.0/24\n"
    )
    node = parse_topology(data, tmp_path / "topo.yml").nodes["r1"]
    assert [(str(n.address), n.asn) for n in node.bgp_neighbors] == [("192.0.2.2", 65002)]
    assert node.bgp_networks == ("203.0.113.0/24",)
    assert node.frr_daemons == ("zebra", "bgpd")  # no daemons file: bgpd only


def test_unknown_node_key(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["nodes"]["h1"]["ports"] = ["80:80"]
    assert errors_of(data, tmp_path) == [
        "topology.nodes.h1.ports: not supported by the namespace runner "
        "(use one of: binds, env, exec, group, image, kind, labels)"
    ]


def test_unknown_top_level_key(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["nodes"] = {}
    assert errors_of(data, tmp_path)[0].startswith("nodes: not supported")


def test_unsupported_kind(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["nodes"]["h1"]["kind"] = "nokia_srlinux"
    assert errors_of(data, tmp_path)[0] == (
        "topology.nodes.h1.kind: kind 'nokia_srlinux' is not supported (use kind: linux)"
    )


def test_missing_bind_source(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["nodes"]["h1"]["binds"] = ["nothere.conf:/etc/x.conf"]
    (error,) = errors_of(data, tmp_path)
    assert error.startswith("topology.nodes.h1.binds[0]: bind source nothere.conf does not exist")


def test_endpoint_names_unknown_node(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["links"].append({"endpoints": ["r1:eth2", "ghost:eth1"]})
    assert errors_of(data, tmp_path) == [
        "topology.links[1].endpoints: endpoint 'ghost:eth1' names no node of this topology"
    ]


def test_eth0_is_management(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["links"].append({"endpoints": ["r1:eth0", "h1:eth2"]})
    assert "eth0 is containerlab's management interface" in errors_of(data, tmp_path)[0]


def test_endpoint_used_twice(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["links"].append({"endpoints": ["r1:eth1", "h1:eth2"]})
    assert errors_of(data, tmp_path) == [
        "topology.links[1].endpoints: r1:eth1 is used by another link"
    ]


def test_all_errors_reported_together(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    data["topology"]["nodes"]["h1"]["kind"] = "bridge"
    data["topology"]["links"].append({"endpoints": ["x:eth1"]})
    assert len(errors_of(data, tmp_path)) == 2


def test_load_reports_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "topo.yml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_topology(path)


def test_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "topo.yml"
    path.write_text(yaml.safe_dump(minimal(tmp_path)))
    assert set(load_topology(path).nodes) == {"r1", "h1"}


def test_ce_creates_the_gre_tunnel(real: Any) -> None:
    ce = real.nodes["ce"]
    assert ce.gre_interfaces == ("scrub-ams",)
    gre_lines = [argv[:3] for argv in ce.exec if ce.needs_gre(argv)]
    assert gre_lines == [("ip", "link", "add"), ("ip", "link", "set"), ("ip", "address", "add"),
                         ("sysctl", "-w", "net.ipv4.conf.scrub-ams.rp_filter=2"),
                         ("vtysh", "-c", "configure terminal")]  # fmt: skip
    assert not any(real.nodes[n].gre_interfaces for n in real.nodes if n != "ce")


@pytest.mark.parametrize(
    ("line", "needs"),
    [("ip link add name t1 type gre local 1.1.1.1 remote 2.2.2.2", True),
     ("ip link add t1 type ip6gre local 2001:db8::1 remote 2001:db8::2", True),
     ("ip address add 10.0.0.1/30 dev t1", True),
     ("sysctl -w net.ipv4.conf.t1.rp_filter=2", True),
     ("ip address add 10.0.0.5/30 dev t10", False),
     ("ip address add 10.0.0.9/30 dev eth1", False)],
)  # fmt: skip
def test_needs_gre_names_the_tunnel_as_a_whole_word(tmp_path: Path, line: str, needs: bool) -> None:
    lines = ["ip link add name t1 type gre local 1.1.1.1 remote 2.2.2.2",
             "ip link add t1 type ip6gre local 2001:db8::1 remote 2001:db8::2"]  # fmt: skip
    node_spec = {"kind": "linux", "image": "i", "exec": lines}
    spec = {"name": "t", "topology": {"nodes": {"a": node_spec}, "links": []}}
    node = parse_topology(spec, tmp_path / "t.yml").nodes["a"]
    assert node.needs_gre(tuple(line.split())) is needs


def test_ce_tunnel_lines_are_the_customer_config_rendering(real: Any) -> None:
    """ce's GRE half is what `scrubctl customer config acme --site ams --vendor frr`
    hands the customer (kernel part; the rp_filter echo as sysctl)."""
    inv = load_inventory(ROOT / "lab" / "inventory.yml")
    text = customer_edge.render(inv, Request("acme", "ams", "frr"))
    rendered = [line for line in text.splitlines() if line.startswith(("ip ", "echo 2 >"))]
    rendered = [
        "sysctl -w net.ipv4.conf.scrub-ams.rp_filter=2" if line.startswith("echo 2") else line
        for line in rendered
    ]
    ce = real.nodes["ce"]
    in_lab = [" ".join(a) for a in ce.exec if ce.needs_gre(a) and a[0] != "vtysh"]
    assert in_lab == rendered
