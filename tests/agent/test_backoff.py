"""Issue 7: when ``site run`` restarts ExaBGP (the policy on a fake clock, then the
runner's loop with a stand-in for ExaBGP that dies, watching the store)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from agent_support import Clock

from orchestrator.service import observed
from orchestrator.site import supervisor as site_runner
from orchestrator.site.backoff import RestartBackoff
from orchestrator.site.supervisor import SiteRunner
from orchestrator.store.db import Database


def crashes(policy: RestartBackoff, runs: list[tuple[float, bool]]) -> list[float]:
    """Each run lives ``uptime`` seconds (session up or not), dies, waits: the waits."""
    now, waits = 0.0, []
    for uptime, session_up in runs:
        policy.started(now)
        if session_up:
            policy.established()
        now += uptime
        waits.append(policy.died(now))
        now += waits[-1]
    return waits


def test_dying_before_any_session_doubles_up_to_the_maximum() -> None:
    waits = crashes(RestartBackoff(), [(0.2, False)] * 7)
    assert waits == [1, 2, 4, 8, 16, 30, 30]


def test_a_session_established_resets_the_delay() -> None:
    """The lab kill loop: a site that crashed twice must not sit out 4 s, 8 s ... 30 s."""
    waits = crashes(RestartBackoff(), [(0.2, False), (0.2, False), (5, True), (7, True), (3, True)])
    assert waits == [1, 2, 1, 1, 1]


def test_a_crash_loop_after_a_good_run_backs_off_from_the_start() -> None:
    waits = crashes(RestartBackoff(), [(5, True), (0.2, False), (0.2, False), (0.2, False)])
    assert waits == [1, 2, 4, 8]


def test_a_long_run_without_session_also_resets() -> None:
    waits = crashes(RestartBackoff(), [(0.2, False), (0.2, False), (60, False), (0.2, False)])
    assert waits == [1, 2, 1, 2]


def test_limits_are_settable() -> None:
    waits = crashes(RestartBackoff(start=0.5, maximum=3), [(0.1, False)] * 5)
    assert waits == [0.5, 1, 2, 3, 3]


# --- the runner's loop ----------------------------------------------------------


class RecordingBackoff(RestartBackoff):
    def __init__(self) -> None:
        super().__init__(start=0.05, maximum=0.4)
        self.waits: list[float] = []

    def died(self, now: float) -> float:
        self.waits.append(super().died(now))
        return self.waits[-1]


@pytest.mark.parametrize(
    ("session_up", "poll", "waits"),
    [
        (True, 0.05, [0.05, 0.05, 0.05]),
        (False, 0.05, [0.05, 0.1, 0.2]),
        (True, 10.0, [0.05, 0.05, 0.05]),  # recorded after the last look, before the exit
    ],
    ids=["session-up-each-run", "never-up", "up-between-looks"],
)
def test_the_runner_resets_the_back_off_once_the_agent_records_a_session(
    db: Database,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    session_up: bool,
    poll: float,
    waits: list[float],
) -> None:
    """A stand-in for ExaBGP lives 0.4 s; in two cases its agent records a session."""
    monkeypatch.setattr(site_runner, "SESSION_POLL", poll)

    def start(_conf: Path, _env: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(["sleep", "0.4"])
        if session_up:  # what the agent writes once ExaBGP reports the session up
            observed.record_session(db, "fra", "t1", "up", "", clock())
        return process

    backoff = RecordingBackoff()
    runner = SiteRunner(
        db, "fra", tmp_path / "run", max_restarts=2, backoff=backoff, return_paths=False
    )
    monkeypatch.setattr(runner, "_start", start)
    assert runner.run() == 1  # gave up after max_restarts
    assert backoff.waits == waits
