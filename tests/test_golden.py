"""Golden planner cases: one test per folder under tests/golden (see golden_support)."""

from __future__ import annotations

import pytest
from golden_support import ERRORS, error_cases, plan_cases, run_error_case, run_plan_case, unified


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
