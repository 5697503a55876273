"""A running lab as tests see it: run commands in nodes, read router JSON, poll
for expected state, read counters, send traffic, inject routes."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from orchestrator.lab import filters, traffic
from orchestrator.lab.expect import Outcome, wait_for
from orchestrator.lab.peer import StaticPeer, StaticRoute
from orchestrator.lab.runner import LabRunner, UpReport
from orchestrator.lab.shell import in_netns, run
from orchestrator.lab.topology import Topology


class LabHandle:
    def __init__(self, runner: LabRunner, report: UpReport) -> None:
        self.runner = runner
        self.report = report

    @property
    def topology(self) -> Topology:
        return self.runner.topology

    def ns(self, node: str) -> str:
        return self.runner.namespace(node)

    def exec(self, node: str, *argv: str, check: bool = True,
             timeout: float = 30.0) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run ``argv`` in ``node``'s namespace (``vtysh`` uses the node's FRR)."""
        line = list(argv)
        if line[:1] == ["vtysh"] and self.topology.node(node).is_frr:
            line = [*self.runner.frr(node).vtysh_argv(), *line[1:]]
        return run(in_netns(self.ns(node), line), check=check, timeout=timeout)

    def vtysh(self, node: str, command: str) -> str:
        return self.runner.frr(node).vtysh(command)

    def vtysh_json(self, node: str, command: str) -> Any:
        return self.runner.frr(node).vtysh_json(command)

    def expect_json(self, node: str, command: str, expected: Any, *,
                    timeout: float = 30.0, interval: float = 0.25) -> Outcome:  # fmt: skip
        """Poll ``vtysh -c COMMAND`` on ``node`` until it contains ``expected``."""
        return wait_for(
            lambda: self.vtysh_json(node, command), expected,
            timeout=timeout, interval=interval, what=f"{node}: {command}",
        )  # fmt: skip

    def counters(self) -> filters.Counters:
        return traffic.read_counters(self.topology)

    def legit(self, count: int = 20, interval: float = 0.05) -> traffic.LegitResult:
        return traffic.legit(self.topology, count=count, interval=interval)

    def start_attack(self, **kwargs: Any) -> traffic.AttackJob:
        return traffic.start_attack(self.topology, **kwargs)

    def static_peer(self, node: str, routers: Sequence[str], routes: Sequence[StaticRoute],
                    *, local_as: int, router_id: str) -> StaticPeer:  # fmt: skip
        """A raw ExaBGP in ``node`` announcing ``routes`` to ``routers`` (use ``with``)."""
        return StaticPeer(self.topology, node, routers, local_as=local_as,
                          router_id=router_id, routes=routes)  # fmt: skip
