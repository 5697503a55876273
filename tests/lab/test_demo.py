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


def test_demo_diverts_fails_over_falls_back_and_withdraws() -> None:
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    topology = load_topology(Path(__file__).resolve().parents[2] / "containerlab.yml")
    runner = LabRunner(topology.renamed("scrubdemo"))
    lines: list[str] = []
    run_demo(runner, lines.append)
    text = "\n".join(lines)
    assert "both transits forward via fra" in text
    assert "both transits forward via ams (backup, prepended)" in text
    assert "both transits use the customer's own route again" in text
    assert "  transit1: best path [64500 64500 64500 64496]" in text  # read from FRR
    assert lines[-1].startswith("lab down")
    assert not any(ns.startswith("clab-scrubdemo-") for ns in namespaces())
