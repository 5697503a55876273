"""``scrubctl lab`` commands: user errors are one line on stderr with an exit code."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from orchestrator.cli import lab as lab_cli
from orchestrator.cli.lab import app
from orchestrator.lab import guestlink
from orchestrator.lab.guestlink import GuestLink
from orchestrator.lab.runner import missing_prerequisites
from orchestrator.lab.shell import LabError

NOT_UP = "scrubnotup"  # a lab name nobody builds


def test_exec_when_lab_is_not_up() -> None:
    result = CliRunner().invoke(app, ["exec", "--name", NOT_UP, "fra", "--", "true"])
    assert result.exit_code == 3
    assert result.output.strip() == (
        f"error: lab {NOT_UP} is not up (no namespace clab-{NOT_UP}-fra) (run `scrubctl lab up`)"
    )


def test_exec_unknown_node() -> None:
    result = CliRunner().invoke(app, ["exec", "--name", NOT_UP, "nope", "--", "true"])
    assert result.exit_code == 2
    assert result.output.startswith("error: NODE: unknown node 'nope' (nodes: transit1,")
    assert "Traceback" not in result.output


def test_attack_outside_the_lab_is_refused() -> None:
    result = CliRunner().invoke(app, ["traffic", "attack", "--target", "8.8.8.8"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --target: 8.8.8.8 is not an address of any lab node (traffic never leaves the lab)"
    )


def test_unbounded_attack_is_refused() -> None:
    result = CliRunner().invoke(app, ["traffic", "attack", "--count", "100000000"])
    assert result.exit_code == 2
    assert result.output.startswith("error: --count: must be between 1 and")


def test_missing_topology_file() -> None:
    result = CliRunner().invoke(app, ["status", "-t", "/nonexistent/containerlab.yml"])
    assert result.exit_code == 2
    assert result.output.startswith("error: /nonexistent/containerlab.yml: cannot read topology")


def test_status_of_a_lab_that_is_not_up() -> None:
    result = CliRunner().invoke(app, ["status", "--name", NOT_UP, "--json"])
    assert result.exit_code == 0
    state = json.loads(result.output)
    assert state["up"] is False
    assert state["sessions"] == []
    assert {n["name"] for n in state["nodes"]} >= {"transit1", "fra", "ce", "server"}
    assert all(not n["present"] for n in state["nodes"])


def test_traffic_when_lab_is_not_up() -> None:
    result = CliRunner().invoke(app, ["traffic", "legit", "--name", NOT_UP])
    assert result.exit_code == 3
    assert result.output.startswith(f"error: lab {NOT_UP} is not up (no namespace clab-{NOT_UP}-")


def test_up_without_root_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert missing_prerequisites() == "the lab needs root (network namespaces, veths, FRR)"
    result = CliRunner().invoke(app, ["up", "--name", NOT_UP])
    assert result.exit_code == 1
    assert result.output == "error: the lab needs root (network namespaces, veths, FRR)\n"


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1:0", "example.org:8180"])
def test_demo_refuses_a_bad_dashboard_address_before_it_starts(value: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--dashboard", value, "--name", NOT_UP])
    assert result.exit_code == 2
    assert result.output.startswith("error: --dashboard: ")
    assert len(result.output.splitlines()) == 1


class GuestCalls:
    """What ``lab demo`` would run in a guest (``_guest`` recorded, nothing booted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[list[list[str]], GuestLink | None]] = []
        monkeypatch.setattr(lab_cli, "_guest", self.record)

    def record(self, commands: list[list[str]], *_args: object, timeout: float,
               link: GuestLink | None = None) -> None:  # fmt: skip
        self.calls.append((commands, link))


def test_demo_in_a_guest_serves_its_dashboard_on_the_guest_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[GuestLink] = []

    @contextlib.contextmanager
    def fake_link(link: GuestLink) -> Iterator[GuestLink]:
        made.append(link)
        yield link

    monkeypatch.setattr(guestlink, "host_link", fake_link)
    guest = GuestCalls(monkeypatch)
    result = CliRunner().invoke(app, ["demo", "--uml", "--keep"])
    assert result.exit_code == 0, result.output
    [link] = made
    assert guest.calls == [([["demo", "--keep", "--dashboard", "169.254.80.2:8180"]], link)]
    assert "the dashboard will be at http://169.254.80.2:8180/ from this host" in result.output


def test_demo_in_a_guest_runs_without_the_dashboard_when_no_link_can_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_link(link: GuestLink) -> Iterator[GuestLink]:
        raise LabError(f"cannot create the guest link {link.tap}: open /dev/net/tun failed")

    monkeypatch.setattr(guestlink, "host_link", no_link)
    guest = GuestCalls(monkeypatch)
    result = CliRunner().invoke(app, ["demo", "--uml"])
    assert result.exit_code == 0, result.output
    assert guest.calls == [([["demo", "--no-dashboard"]], None)]
    assert "no dashboard for this demo: cannot create the guest link scrub-uml0" in result.output
