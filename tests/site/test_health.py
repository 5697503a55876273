"""The pure health state machine: start, every transition, flapping, figures."""

from __future__ import annotations

import pytest

from orchestrator.domain import Health
from orchestrator.site.health import PathHealth, Thresholds, broken, observe, start

LIMITS = Thresholds(fall=3, rise=2, window=4)
OK, LOST = True, False


def run(state: PathHealth, results: list[bool]) -> tuple[PathHealth, list[Health]]:
    """Feed ``results``; return the final state and the health after each transition."""
    changes = []
    for ok in results:
        step = observe(state, ok, 5.0 if ok else None, LIMITS, "192.0.2.2")
        state = step.state
        if step.changed:
            changes.append(state.health)
    return state, changes


@pytest.mark.parametrize(
    ("stored", "health"),
    [(None, Health.UNKNOWN), (Health.UNKNOWN, Health.UNKNOWN), (Health.UP, Health.UP),
     (Health.DOWN, Health.DOWN)],
)  # fmt: skip
def test_start_from_the_stored_health(stored: Health | None, health: Health) -> None:
    assert start(stored).health is health


@pytest.mark.parametrize(
    ("begin", "results", "changes", "end"),
    [
        pytest.param(None, [OK, OK], [Health.UP], Health.UP, id="unknown-up-after-rise"),
        pytest.param(None, [OK], [], Health.UNKNOWN, id="unknown-stays-below-rise"),
        pytest.param(None, [LOST] * 3, [Health.DOWN], Health.DOWN, id="unknown-down-after-fall"),
        pytest.param(None, [LOST] * 2, [], Health.UNKNOWN, id="unknown-stays-below-fall"),
        pytest.param(Health.UP, [LOST] * 3, [Health.DOWN], Health.DOWN, id="up-down-after-fall"),
        pytest.param(Health.UP, [LOST, LOST, OK, LOST, LOST], [], Health.UP, id="up-streak-broken"),
        pytest.param(Health.DOWN, [OK, OK], [Health.UP], Health.UP, id="down-up-after-rise"),
        pytest.param(Health.DOWN, [OK, LOST, OK], [], Health.DOWN, id="down-streak-broken"),
        pytest.param(Health.UP, [OK] * 5, [], Health.UP, id="up-stays-up"),
        pytest.param(Health.DOWN, [LOST] * 5, [], Health.DOWN, id="down-stays-down"),
        pytest.param(
            Health.UP, [LOST, LOST, LOST, OK, OK], [Health.DOWN, Health.UP], Health.UP,
            id="down-and-back",
        ),
    ],
)  # fmt: skip
def test_transitions(
    begin: Health | None, results: list[bool], changes: list[Health], end: Health
) -> None:
    state, seen = run(start(begin), results)
    assert seen == changes
    assert state.health is end


@pytest.mark.parametrize("begin", [Health.UP, Health.DOWN, None])
def test_flapping_never_completes_a_streak(begin: Health | None) -> None:
    state, seen = run(start(begin), [OK, LOST] * 10)
    assert seen == []
    assert state.health is start(begin).health
    assert state.loss == 0.5


def test_causes_name_the_count_and_target() -> None:
    down, _ = run(start(Health.UP), [LOST] * 3)
    assert down.cause == "3 probes to 192.0.2.2 lost in a row"
    up, _ = run(down, [OK] * 2)
    assert up.cause == "2 probes to 192.0.2.2 answered in a row"


def test_loss_over_the_window_and_last_rtt() -> None:
    state, _ = run(start(None), [LOST, LOST, OK, OK, OK, LOST])
    assert state.recent == (OK, OK, OK, LOST)  # the last 4 (window)
    assert state.loss == 0.25
    assert state.rtt_ms == 5.0
    assert start(None).loss is None


def test_broken_path_is_down_at_once_and_needs_rise_to_come_back() -> None:
    step = broken(start(Health.UP), "interface line0 does not exist")
    assert step.changed
    assert (step.state.health, step.state.cause) == (Health.DOWN, "interface line0 does not exist")
    again = broken(step.state, "interface line0 does not exist")
    assert not again.changed
    state, seen = run(step.state, [OK])
    assert seen == [] and state.health is Health.DOWN
    state, seen = run(state, [OK])
    assert seen == [Health.UP]


def test_a_broken_path_with_a_new_cause_is_no_transition() -> None:
    step = broken(start(Health.DOWN), "interface line0 is down")
    assert not step.changed
    assert step.state.cause == "interface line0 is down"
