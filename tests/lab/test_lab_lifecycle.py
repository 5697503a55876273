"""``lab up`` over the leftovers of a crashed run, and ``lab down`` removing exactly
the lab: no namespace, process, veth or run directory left, nothing else touched."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lab import traffic
from orchestrator.lab.runner import LabRunner, missing_prerequisites
from orchestrator.lab.shell import namespace_inode, namespace_pids, namespaces, run
from orchestrator.lab.topology import Topology, load_topology

pytestmark = pytest.mark.lab

LAB = "scrublife"  # its own name: never collides with a lab someone else runs
FOREIGN = "scrubctl-test-foreign"  # a namespace that is NOT the lab's
TOPOLOGY = Path(__file__).resolve().parents[2] / "containerlab.yml"


def lab_topology() -> Topology:
    return load_topology(TOPOLOGY).renamed(LAB)


def skip_unless_possible() -> None:
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)


def root_links() -> set[str]:
    out = run(["ip", "-j", "link", "show"]).stdout
    return {str(link["ifname"]) for link in json.loads(out)}


def processes_in(inodes: set[int]) -> list[int]:
    found = []
    for entry in run(["ps", "-e", "-o", "pid="]).stdout.split():
        pid = int(entry)
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                found.append(pid)
        except OSError:
            continue
    return found


@pytest.fixture()
def foreign() -> Iterator[subprocess.Popen[bytes]]:
    """A namespace with a process in it that lab down must leave alone."""
    skip_unless_possible()
    run(["ip", "netns", "add", FOREIGN])
    sleeper = subprocess.Popen(["ip", "netns", "exec", FOREIGN, "sleep", "120"])
    try:
        yield sleeper
    finally:
        sleeper.kill()
        sleeper.wait()
        run(["ip", "netns", "delete", FOREIGN], check=False)


def test_up_cleans_leftovers_and_down_removes_everything(
    foreign: subprocess.Popen[bytes],
) -> None:
    topo = lab_topology()
    links_before = root_links()
    crashed = LabRunner(topo)
    second = LabRunner(topo)
    try:
        crashed.up()  # then "crashes": never brought down
        traffic.ensure_server(topo)  # a process that is not FRR
        second_report = second.up()
        assert len(second_report.cleaned) == len(topo.nodes)

        mine = [topo.namespace(n) for n in topo.nodes]
        inodes = {i for ns in mine if (i := namespace_inode(ns)) is not None}
        assert len(inodes) == len(mine)
        traffic.ensure_server(topo)
        assert processes_in(inodes), "the lab should have processes to stop"
        run_dir = second.rundir.root
        assert run_dir.is_dir()
    finally:
        report = second.down()

    assert sorted(report.namespaces) == sorted(mine)
    assert not set(mine) & namespaces()
    assert processes_in(inodes) == []
    assert not run_dir.exists()
    assert root_links() == links_before  # no veth left behind in the root namespace
    # nothing else touched
    assert FOREIGN in namespaces()
    assert foreign.poll() is None
    assert namespace_pids(FOREIGN) == [foreign.pid]


def test_down_of_a_lab_that_is_not_up_is_harmless() -> None:
    skip_unless_possible()
    report = LabRunner(lab_topology()).down()
    assert report.namespaces == [] and report.processes == 0
