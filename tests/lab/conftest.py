"""The lab fixture: builds containerlab.yml into namespaces once per test module,
yields a ``LabHandle`` and ALWAYS removes the lab again, even when a test fails.

Needs root, FRR and nftables; elsewhere the lab tests are skipped with the
reason. ``SCRUBCTL_LAB_NAME`` builds the lab under another name (default: the
file's ``scrub``). ``/run/scrubctl-lab/lock`` is held for the whole module, so
two test runs on one machine take turns instead of tearing down each other's lab.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lab.handle import LabHandle
from orchestrator.lab.runner import LabRunner, missing_prerequisites
from orchestrator.lab.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "containerlab.yml"
LOCK_WAIT = 900.0  # another test run may hold the lab that long


def lab_topology(name: str | None = None) -> Topology:
    topo = load_topology(TOPOLOGY)
    name = name or os.environ.get("SCRUBCTL_LAB_NAME")
    return topo.renamed(name) if name else topo


@pytest.fixture(scope="module")
def lab() -> Iterator[LabHandle]:
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    runner = LabRunner(lab_topology())
    with runner.lock.hold(timeout=LOCK_WAIT):
        try:
            report = runner.up()
            yield LabHandle(runner, report)
        finally:
            runner.down()
