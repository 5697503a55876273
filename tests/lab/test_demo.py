"""The README's main command (`make demo` = `scrubctl lab demo`) works end to end."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from serve_support import free_port

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
    port = free_port()
    moves = run_demo(runner, lines.append, dashboard=f"127.0.0.1:{port}")  # DemoFailed at
    text = "\n".join(lines)  # the first claim that does not hold
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
    assert f"dashboard: http://127.0.0.1:{port}/ (log in with the operator token " in text
    assert "  the dashboard's service reports acme protected" in text
    with pytest.raises(OSError):  # the service was stopped with the lab
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
    assert lines[-1].startswith("lab down")
    assert not any(ns.startswith("clab-scrubdemo-") for ns in namespaces())
