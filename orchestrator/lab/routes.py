"""What a lab router says about one prefix: BGP paths and the kernel FIB.

Shared by the agent's lab tests and the demo, so both read the routers the
same way (``show bgp ipv4 unicast PREFIX json`` and ``ip -j route show``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from orchestrator.lab.runner import LabRunner
from orchestrator.lab.shell import in_netns, run


@dataclass(frozen=True)
class BgpPath:
    aspath: str
    nexthop: str
    best: bool
    communities: str


def bgp_paths(runner: LabRunner, router: str, prefix: str) -> list[BgpPath]:
    data = runner.frr(router).vtysh_json(f"show bgp ipv4 unicast {prefix} json")
    paths = [
        BgpPath(
            aspath=path.get("aspath", {}).get("string", ""),
            nexthop=path["nexthops"][0]["ip"],
            best=bool(path.get("bestpath", {}).get("overall")),
            communities=path.get("community", {}).get("string", ""),
        )
        for path in data.get("paths", [])
    ]
    return sorted(paths, key=lambda p: p.aspath)


def best_path(runner: LabRunner, router: str, prefix: str) -> BgpPath | None:
    return next((p for p in bgp_paths(runner, router, prefix) if p.best), None)


def fib(runner: LabRunner, router: str, prefix: str) -> str | None:
    """The kernel's next hop for ``prefix`` on ``router``: a gateway, ``blackhole`` or None."""
    argv = in_netns(runner.namespace(router), ["ip", "-j", "route", "show", prefix])
    routes = json.loads(run(argv).stdout or "[]")
    if not routes:
        return None
    route = routes[0]
    return "blackhole" if route.get("type") == "blackhole" else route.get("gateway")
