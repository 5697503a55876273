"""``scrubctl lab`` commands: user errors are one line on stderr with an exit code."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from orchestrator.cli.lab import app
from orchestrator.lab.runner import missing_prerequisites

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
