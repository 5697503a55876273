"""A raw ExaBGP speaker with static routes inside a lab node, for tests.

It peers from the node's link addresses with the FRR routers named, announces
fixed routes and is stopped (or removed with the lab by ``lab down``, since it
runs inside the lab's namespace). The scrubctl site agent is NOT involved.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.files import stop_process
from orchestrator.lab.rundir import RunDir
from orchestrator.lab.shell import LabError, in_netns, run
from orchestrator.lab.topology import Topology


@dataclass(frozen=True)
class StaticRoute:
    prefix: ipaddress.IPv4Network
    communities: tuple[str, ...] = ()
    as_path: tuple[int, ...] = ()

    def render(self) -> str:
        line = f"route {self.prefix} next-hop self"
        if self.communities:
            line += f" community [ {' '.join(self.communities)} ]"
        if self.as_path:
            line += f" as-path [ {' '.join(str(a) for a in self.as_path)} ]"
        return line + ";"


@dataclass(frozen=True)
class Session:
    peer_address: str
    local_address: str
    peer_as: int
    password: str | None = None


def sessions_towards(topology: Topology, node: str, routers: Sequence[str]) -> list[Session]:
    """The sessions ``node`` can open to ``routers``: their neighbor statements that
    name one of ``node``'s addresses."""
    mine = {a.value.ip for a in topology.node(node).addresses}
    found = []
    for router in routers:
        r = topology.node(router)
        for neighbor in r.bgp_neighbors:
            if neighbor.address in mine:
                local = next(a for a in topology.node(node).addresses
                             if a.value.ip == neighbor.address)  # fmt: skip
                peer = next(a for a in r.addresses if a.value.ip in local.value.network)
                if r.bgp_asn is None:
                    raise LabError(f"{router} has no `router bgp ASN` in {r.frr_config}")
                found.append(Session(str(peer.value.ip), str(neighbor.address), r.bgp_asn,
                                     neighbor.password))  # fmt: skip
    if not found:
        raise LabError(f"{node} has no BGP neighbor statement on {', '.join(routers)}")
    return found


def render_config(sessions: Sequence[Session], local_as: int, router_id: str,
                  routes: Sequence[StaticRoute]) -> str:  # fmt: skip
    blocks = []
    for s in sessions:
        statics = "\n".join(f"        {r.render()}" for r in routes)
        blocks.append(
            f"neighbor {s.peer_address} {{\n"
            f"    router-id {router_id};\n"
            f"    local-address {s.local_address};\n"
            f"    local-as {local_as};\n"
            f"    peer-as {s.peer_as};\n"
            + (f'    md5-password "{s.password}";\n' if s.password else "")
            + f"    family {{\n        ipv4 unicast;\n    }}\n"
            f"    static {{\n{statics}\n    }}\n"
            f"}}\n"
        )
    return "\n".join(blocks)


class StaticPeer:
    """``with StaticPeer(...) as peer:`` runs ExaBGP in ``node`` until the block ends."""

    def __init__(self, topology: Topology, node: str, routers: Sequence[str], *,
                 local_as: int, router_id: str, routes: Sequence[StaticRoute]) -> None:  # fmt: skip
        self.topology = topology
        self.node = node
        self.sessions = sessions_towards(topology, node, routers)
        self.dir = RunDir(topology.name).node(node) / "static-peer"
        self.config = render_config(self.sessions, local_as, router_id, routes)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "exabgp.conf"
        conf.write_text(self.config)
        exabgp = str(Path(sys.executable).with_name("exabgp"))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "exabgp_daemon_user": "root",
            "exabgp_daemon_drop": "false",
            "exabgp_daemon_daemonize": "false",
            "exabgp_cli": "false",
            "exabgp_log_destination": "stdout",
        }
        run([exabgp, "validate", str(conf)], env=env)
        with open(self.dir / "exabgp.log", "ab") as log:
            self.process = subprocess.Popen(
                in_netns(self.topology.namespace(self.node), [exabgp, "server", str(conf)]),
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> StaticPeer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
