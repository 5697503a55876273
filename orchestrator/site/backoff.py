"""When ``scrubctl site run`` starts ExaBGP again after it died.

A crash loop must not spin, and a scrubbing site must not sit out half a
minute because it crashed twice. So the delay doubles (1 s, 2 s, 4 s ... up to
30 s) only while ExaBGP keeps dying without ever getting a BGP session
established; once a run has established a session (the agent records it in the
store) or has lived ``stable_after`` seconds, the next crash is restarted after
``start`` again. A run that establishes a session has done real work (TCP, BGP
OPEN), so even a site that crashes right after each session comes up restarts
at most once per ``start`` plus the time a session takes.

Pure: the caller passes the times in (monotonic seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RestartBackoff:
    start: float = 1.0
    maximum: float = 30.0
    stable_after: float = 60.0
    delay: float = field(init=False)  # what the next crash waits
    _started_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.delay = self.start

    def started(self, now: float) -> None:
        self._started_at = now

    def established(self) -> None:
        """A BGP session of this run is up: ExaBGP works, the next crash restarts fast."""
        self.delay = self.start

    def died(self, now: float) -> float:
        """ExaBGP exited at ``now``: seconds to wait before starting it again."""
        if self._started_at is not None and now - self._started_at >= self.stable_after:
            self.delay = self.start
        wait = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        self._started_at = None
        return wait
