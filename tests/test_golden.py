"""Golden planner cases: one test per folder under tests/golden (see golden_support)."""

from __future__ import annotations

import pytest
from golden_support import (
    ERRORS,
    GOLDEN,
    error_cases,
    load_state,
    plan_cases,
    run_error_case,
    run_plan_case,
    unified,
)

from orchestrator.inventory import load_inventory
from orchestrator.planner import plan


@pytest.mark.parametrize("case", plan_cases())
def test_plan(case: str) -> None:
    expected, actual = run_plan_case(case)
    assert expected is not None, f"{case}/expected.yml is missing"
    if expected != actual:
        pytest.fail("plan differs from expected.yml:\n" + unified(expected, actual, case))


@pytest.mark.parametrize("case", error_cases())
def test_error(case: str) -> None:
    expected = (ERRORS / case / "expected_error.txt").read_text(encoding="utf-8").strip()
    actual = run_error_case(case)
    assert actual, f"{case}: no error was raised"
    assert actual == expected, f"\nexpected: {expected}\nactual:   {actual}"


def test_there_are_enough_cases() -> None:
    assert len(plan_cases()) >= 20 and len(error_cases()) >= 15


def test_an_idle_customer_with_forced_rtbh_says_so() -> None:
    """The verdict's state stays idle, but a blackholed host must show in its reason."""
    case = GOLDEN / "forced_rtbh_and_expiry"
    state = load_state(case / "state.yml")
    inv = load_inventory(case / "inventory.yml")
    verdict = plan(inv, state.intent, state.observed, state.now).customers["acme"]
    assert verdict.reason == (
        "no diversion; forced RTBH in force for 203.0.113.9/32, 2001:db8:100::9/128"
    )
