"""A fake ``Prober``: answers (or loses) each probe as the test says, on a test clock.

``reachable[key] = False`` makes every later probe of that path lost; a
probe is answered or lost at the next ``collect``. ``collect`` advances the
clock by ``wait`` (it stands for the time the real prober waits on its
sockets), so a loop driven by it runs in simulated time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.drivers.probe import Outcome, ProbeTarget


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeProber:
    clock: FakeClock = field(default_factory=FakeClock)
    rtt_ms: float = 4.0
    reachable: dict[str, bool] = field(default_factory=dict)
    targets: dict[str, ProbeTarget] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    configured: int = 0  # times configure was called
    _pending: list[str] = field(default_factory=list)
    _links: list[Outcome] = field(default_factory=list)

    def link_down(self, key: str, detail: str) -> None:
        """The path's interface goes down: reported at the next ``collect``, like the real one."""
        self._links.append(Outcome(key, False, detail=detail, link_down=True))

    def configure(self, targets: Sequence[ProbeTarget]) -> None:
        self.targets = {t.key: t for t in targets}
        self._pending = []
        self.configured += 1

    def send(self, key: str) -> None:
        if key not in self.targets:
            raise KeyError(f"{key} is not configured")
        self.sent.append(key)
        self._pending.append(key)

    def collect(self, wait: float) -> list[Outcome]:
        self.clock.now += wait
        pending, self._pending = self._pending, []
        links, self._links = self._links, []
        return links + [
            Outcome(key, True, self.rtt_ms)
            if self.reachable.get(key, True)
            else Outcome(key, False)
            for key in pending
        ]

    def close(self) -> None:
        self.targets = {}
