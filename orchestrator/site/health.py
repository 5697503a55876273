"""A return path's health from its probe results: hysteresis, pure.

- **Start**: the health the store last held for the path (a restarted loop
  neither flaps a working path down nor a broken one up), or ``unknown`` for a
  path never seen; ``unknown`` counts as usable for the planner, only ``down``
  makes a site ineligible.
- ``down`` after ``fall`` consecutive losses (from ``up`` or ``unknown``),
  ``up`` after ``rise`` consecutive answers (from ``down`` or ``unknown``).
- **Flapping** (answers and losses alternating faster than either count) never
  completes a streak, so the health stays what it was: no route churn.
- A path the driver cannot build (missing interface, next hop outside the
  line's subnets), or whose interface lost its carrier, is ``down`` at once
  with that cause (``broken``), and needs ``rise`` answers once it is back.
- ``loss`` is the fraction lost among the last ``window`` probes; ``rtt_ms``
  the latest answer's round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from orchestrator.domain import Health

WINDOW = 20  # probes the loss figure is taken over


@dataclass(frozen=True)
class Thresholds:
    fall: int = 3  # consecutive losses: down
    rise: int = 3  # consecutive answers: up
    window: int = WINDOW


@dataclass(frozen=True)
class PathHealth:
    """One path's health and the figures behind it (immutable; ``observe`` returns a new one)."""

    health: Health = Health.UNKNOWN
    cause: str = "not probed yet"
    answered: int = 0  # the current run of consecutive answers
    lost: int = 0  # the current run of consecutive losses
    recent: tuple[bool, ...] = ()  # the last `window` results, newest last
    rtt_ms: float | None = None

    @property
    def loss(self) -> float | None:
        if not self.recent:
            return None
        return self.recent.count(False) / len(self.recent)


@dataclass(frozen=True)
class Step:
    """The health after one event, and whether that event changed it."""

    state: PathHealth
    changed: bool


def start(stored: Health | None, cause: str = "") -> PathHealth:
    """The state a (re)started loop begins from: the stored health, or unknown."""
    if stored is None or stored is Health.UNKNOWN:
        return PathHealth()
    return PathHealth(health=stored, cause=cause or f"{stored.value} before a restart")


def _window(recent: Sequence[bool], ok: bool, size: int) -> tuple[bool, ...]:
    return (*recent, ok)[-size:]


def observe(
    state: PathHealth, ok: bool, rtt_ms: float | None, limits: Thresholds, target: str
) -> Step:
    """One probe result: ``ok`` (answered, with ``rtt_ms``) or lost."""
    recent = _window(state.recent, ok, limits.window)
    if ok:
        after = replace(state, answered=state.answered + 1, lost=0, recent=recent, rtt_ms=rtt_ms)
        if after.answered >= limits.rise and state.health is not Health.UP:
            cause = f"{limits.rise} probes to {target} answered in a row"
            return Step(replace(after, health=Health.UP, cause=cause), True)
        return Step(after, False)
    after = replace(state, answered=0, lost=state.lost + 1, recent=recent)
    if after.lost >= limits.fall and state.health is not Health.DOWN:
        cause = f"{limits.fall} probes to {target} lost in a row"
        return Step(replace(after, health=Health.DOWN, cause=cause), True)
    return Step(after, False)


def broken(state: PathHealth, cause: str) -> Step:
    """The driver cannot build the path: down now, with its cause; streaks restart."""
    after = replace(state, health=Health.DOWN, cause=cause, answered=0, lost=0)
    return Step(after, state.health is not Health.DOWN)  # a new cause alone: no transition
