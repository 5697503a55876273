"""What the lab looks like right now: nodes, links, BGP sessions per router.

Sessions come from each router's own ``show bgp summary json``; a session is
*expected* when both ends are FRR nodes of the lab (those must be Established
after ``lab up``; sessions to the scrubbing sites wait for ExaBGP).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.lab.runner import LabRunner
from orchestrator.lab.shell import LabError, run


@dataclass(frozen=True)
class NodeStatus:
    name: str
    role: str  # "frr" or "host"
    namespace: str
    present: bool
    daemons: dict[str, int | None]
    addresses: list[str]


@dataclass(frozen=True)
class LinkStatus:
    a: str
    b: str
    state_a: str
    state_b: str


@dataclass(frozen=True)
class SessionStatus:
    router: str
    neighbor: str
    peer_node: str | None
    remote_as: int | None
    state: str
    prefixes_received: int | None
    uptime: str
    expected: bool


@dataclass
class LabStatus:
    lab: str
    topology: str
    up: bool
    nodes: list[NodeStatus] = field(default_factory=list)
    links: list[LinkStatus] = field(default_factory=list)
    sessions: list[SessionStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _link_states(namespace: str) -> dict[str, str]:
    done = run(["ip", "-j", "-n", namespace, "link", "show"], check=False)
    if done.returncode != 0:
        return {}
    return {str(i["ifname"]): str(i.get("operstate", "?")) for i in json.loads(done.stdout)}


def _sessions(runner: LabRunner, router: str, expected: set[str]) -> list[SessionStatus]:
    topo = runner.topology
    try:
        summary = runner.frr(router).vtysh_json("show bgp summary json")
    except LabError:
        summary = {}
    peers: dict[str, Any] = summary.get("ipv4Unicast", {}).get("peers", {})
    configured = {str(n.address): n.asn for n in topo.node(router).bgp_neighbors}
    out = []
    for address in sorted(set(configured) | set(peers), key=ipaddress.ip_address):
        info = peers.get(address, {})
        received = info.get("pfxRcd")
        out.append(
            SessionStatus(
                router=router,
                neighbor=address,
                peer_node=topo.owner_of(ipaddress.ip_address(address)),
                remote_as=info.get("remoteAs", configured.get(address)),
                state=str(info.get("state", "unknown")),
                prefixes_received=int(received) if received is not None else None,
                uptime=str(info.get("peerUptime", "")),
                expected=address in expected,
            )
        )
    return out


def collect(runner: LabRunner) -> LabStatus:
    topo = runner.topology
    present = set(runner.existing_namespaces())
    status = LabStatus(topo.name, str(topo.path), up=bool(present))
    states = {n: _link_states(runner.namespace(n)) if runner.namespace(n) in present else {}
              for n in topo.nodes}  # fmt: skip
    for node in topo.nodes.values():
        daemons = runner.frr(node.name).pids(node.frr_daemons) if node.is_frr else {}
        status.nodes.append(
            NodeStatus(
                name=node.name,
                role="frr" if node.is_frr else "host",
                namespace=runner.namespace(node.name),
                present=runner.namespace(node.name) in present,
                daemons=daemons,
                addresses=[f"{a.interface} {a.value}" for a in node.addresses],
            )
        )
    for link in topo.links:
        status.links.append(
            LinkStatus(
                a=str(link.a),
                b=str(link.b),
                state_a=states[link.a.node].get(link.a.interface, "absent"),
                state_b=states[link.b.node].get(link.b.interface, "absent"),
            )
        )
    expected: dict[str, set[str]] = {}
    for router, neighbor, _peer in topo.expected_sessions():
        expected.setdefault(router, set()).add(str(neighbor.address))
    for node in topo.nodes.values():
        if node.is_frr and runner.namespace(node.name) in present:
            status.sessions.extend(_sessions(runner, node.name, expected.get(node.name, set())))
    return status
