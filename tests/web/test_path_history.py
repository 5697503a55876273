"""A day of a path's samples, thinned for the plot: no spike and no outage is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.service.paths import PathSampleView, thin

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sample(minute: int, rtt: float, loss: float = 0.0, health: str = "up") -> PathSampleView:
    return PathSampleView(at=START + timedelta(minutes=minute), health=health, loss=loss,
                          rtt_ms=rtt)  # fmt: skip


def test_few_samples_are_shown_as_they_are() -> None:
    given = [sample(m, 4.0) for m in range(3)]
    assert thin(given, 3) == tuple(given)


def test_each_point_of_a_thinned_day_is_the_worst_of_its_stretch() -> None:
    given = [sample(m, 4.0) for m in range(9)]
    given[4] = sample(4, 90.0, loss=0.5, health="down")
    shown = thin(given, 3)
    assert [(p.at.minute, p.rtt_ms, p.loss, p.health) for p in shown] == [
        (2, 4.0, 0.0, "up"),
        (5, 90.0, 0.5, "down"),
        (8, 4.0, 0.0, "up"),
    ]
