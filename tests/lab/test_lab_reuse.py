"""The shared lab (``lab_support.SharedLab``) hands every module the state ``lab
up`` left: what a module may leave behind is put back, what cannot be put back
makes it build the lab again, and ``close`` removes it. A lab of its own name,
so the shared lab of the other modules is never touched."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from lab_support import SharedLab, lab_topology

from orchestrator.lab.handle import LabHandle
from orchestrator.lab.runner import missing_prerequisites
from orchestrator.lab.shell import namespace_pids, namespaces

pytestmark = pytest.mark.lab

LAB = "scrubreuse"


@pytest.fixture(scope="module")
def shared() -> Iterator[SharedLab]:
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    lab = SharedLab(lab_topology(LAB))
    try:
        yield lab
    finally:
        lab.close()


def link_up(lab: LabHandle, node: str, name: str) -> bool:
    [link] = json.loads(lab.exec(node, "ip", "-j", "link", "show", name).stdout)
    return "UP" in link["flags"]


def test_the_first_module_gets_a_fresh_build(shared: SharedLab) -> None:
    lab = shared.handle()
    assert shared.builds == 1
    assert lab.report.sessions == 6


def test_a_link_left_down_and_a_process_left_in_a_site_are_put_back(shared: SharedLab) -> None:
    lab = shared.handle()
    lab.exec("ce", "ip", "link", "set", "eth3", "down")
    lab.exec("fra", "sh", "-c", "sleep 600 >/dev/null 2>&1 &")
    assert not link_up(lab, "ce", "eth3")
    assert namespace_pids(lab.ns("fra"))
    again = shared.handle()
    assert again is lab and shared.builds == 1  # reset, not rebuilt
    assert link_up(lab, "ce", "eth3")
    assert namespace_pids(lab.ns("fra")) == []


def test_added_frr_configuration_makes_it_build_again(shared: SharedLab) -> None:
    lab = shared.handle()
    lab.exec("transit1", "vtysh", "-c", "configure terminal", "-c", "router bgp 64501",
             "-c", "neighbor 192.0.2.99 remote-as 1")  # fmt: skip
    assert "192.0.2.99" in lab.vtysh("transit1", "show running-config")
    again = shared.handle()
    assert shared.builds == 2
    assert "192.0.2.99" not in again.vtysh("transit1", "show running-config")


def test_an_added_address_makes_it_build_again(shared: SharedLab) -> None:
    lab = shared.handle()
    lab.exec("ce", "ip", "address", "add", "192.0.2.250/32", "dev", "lo")
    again = shared.handle()
    assert shared.builds == 3
    assert "192.0.2.250" not in again.exec("ce", "ip", "address", "show", "dev", "lo").stdout


def test_close_removes_the_lab(shared: SharedLab) -> None:
    shared.handle()
    shared.close()
    assert not any(ns.startswith(f"clab-{LAB}-") for ns in namespaces())
