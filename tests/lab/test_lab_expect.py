"""The JSON-subset polling helper, and the traffic guards (no root needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import InvalidInput, ScrubError
from orchestrator.lab import traffic
from orchestrator.lab.expect import ExpectTimeout, json_diff, wait_for, wait_until
from orchestrator.lab.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = {"ipv4Unicast": {"peers": {"192.0.2.130": {"state": "Established", "pfxRcd": 2}}}}


@pytest.mark.parametrize(
    ("actual", "expected", "diff"),
    [
        (SUMMARY, {"ipv4Unicast": {"peers": {"192.0.2.130": {"state": "Established"}}}}, []),
        (SUMMARY, {"ipv4Unicast": {"peers": {"192.0.2.130": {"state": "Active"}}}},
         ["$.ipv4Unicast.peers.192.0.2.130.state: expected 'Active', got 'Established'"]),
        (SUMMARY, {"ipv4Unicast": {"peers": {"192.0.2.9": {}}}},
         ["$.ipv4Unicast.peers.192.0.2.9: missing"]),
        ({"routes": {"a": 1}}, {"routes": {"b": None}}, []),
        ({"routes": {"a": 1}}, {"routes": {"a": None}}, ["$.routes.a: expected absent, got 1"]),
        ([{"x": 1}, {"x": 2}], [{"x": 2}], []),
        ([{"x": 1}], [{"x": 1}, {"x": 1}], ["$[1]: no element matches {'x': 1}"]),
        ([1], [], ["$: expected [], got 1 items"]),
        ("text", {"a": 1}, ["$: expected an object, got 'text'"]),
    ],
    ids=["subset", "value", "missing", "absent-ok", "absent-fails", "list-any-order",
         "list-distinct", "empty-list", "type"],
)  # fmt: skip
def test_json_diff(actual: Any, expected: Any, diff: list[str]) -> None:
    assert json_diff(actual, expected) == diff


def test_wait_for_returns_first_match() -> None:
    values = iter([{"state": "Connect"}, {"state": "Active"}, {"state": "Established"}])
    outcome = wait_for(lambda: next(values), {"state": "Established"}, timeout=5, interval=0)
    assert outcome.value == {"state": "Established"}


def test_wait_for_times_out_with_last_difference() -> None:
    with pytest.raises(ExpectTimeout) as caught:
        wait_for(lambda: {"state": "Active"}, {"state": "Established"}, timeout=0.2,
                 interval=0.05, what="transit1: bgp")  # fmt: skip
    assert str(caught.value).startswith("transit1: bgp: not as expected after 0.2 s:")
    assert caught.value.last == {"state": "Active"}


def test_wait_for_treats_fetch_errors_as_not_yet() -> None:
    calls = iter([ScrubError("vty not ready"), {"ok": True}])

    def fetch() -> Any:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for(fetch, {"ok": True}, timeout=5, interval=0).value == {"ok": True}


def test_wait_until() -> None:
    assert wait_until(lambda: True, timeout=1, what="x") < 1


# --- traffic guards -------------------------------------------------------------


def test_target_must_be_a_lab_address() -> None:
    topo = load_topology(ROOT / "containerlab.yml")
    assert traffic.check_target(topo, "203.0.113.10") == "203.0.113.10"
    with pytest.raises(InvalidInput, match="not an address of any lab node"):
        traffic.check_target(topo, "8.8.8.8")
    with pytest.raises(InvalidInput, match="is not an IPv4 or IPv6 address"):
        traffic.check_target(topo, "example.com")
    with pytest.raises(InvalidInput, match="has a zone id"):
        traffic.check_target(topo, "fe80::1%eth0")


def test_attack_is_bounded() -> None:
    topo = load_topology(ROOT / "containerlab.yml")
    with pytest.raises(InvalidInput, match="--rate: must be between"):
        traffic.start_attack(topo, rate=10_000_000)
    with pytest.raises(InvalidInput, match="--count: must be between"):
        traffic.start_attack(topo, count=0)


def test_worker_refuses_outside_a_lab_namespace() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.lab.worker", "--namespace", "clab-nope-x",
         "flood", "--target", "192.0.2.1", "--port", "9", "--count", "1", "--rate", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "refusing" in done.stderr
