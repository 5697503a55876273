"""The README's main command (`make demo` = `scrubctl lab demo`) works end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.lab.demo import run_demo
from orchestrator.lab.runner import LabRunner, missing_prerequisites
from orchestrator.lab.shell import namespaces
from orchestrator.lab.topology import load_topology

# The demo fails over to ams, whose return path is GRE: kernel GRE, or the UML guest.
pytestmark = [pytest.mark.lab, pytest.mark.uml]


def test_demo_tells_the_whole_story_on_real_routers() -> None:
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    topology = load_topology(Path(__file__).resolve().parents[2] / "containerlab.yml")
    runner = LabRunner(topology.renamed("scrubdemo"))
    lines: list[str] = []
    moves = run_demo(runner, lines.append)  # DemoFailed at the first claim that fails
    text = "\n".join(lines)
    assert [m.name for m in moves] == [
        "fra's line fails -> ams (GRE)",
        "fra's line repaired -> fra",
        "planned failover fra -> ams",
        "planned failback ams -> fra",
    ]
    assert all(m.sent > 0 for m in moves)
    assert [m.lost for m in moves[2:]] == [0, 0]  # planned: make-before-break
    assert "  transit1: best path [64500 64496]" in text  # read from FRR: fra, not prepended
    assert "  transit1: best path [64500 64500 64500 64496]" in text  # ams, the backup
    assert "  transit1: 203.0.113.10/32 -> blackhole" in text
    assert "acme's state: last-resort" in text
    assert "== Report" in text
    assert lines[-1].startswith("lab down")
    assert not any(ns.startswith("clab-scrubdemo-") for ns in namespaces())
