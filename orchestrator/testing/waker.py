"""A ``Waker`` for the agent's tests: a real pipe the test writes to, standing in
for PostgreSQL's LISTEN socket (``orchestrator.site.waker.ListenWaker``)."""

from __future__ import annotations

import os


class FakeWaker:
    def __init__(self, timeout: float = 0.0) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        self.interval = timeout

    # the test's side
    def notify(self) -> None:
        """What a committed change does: one notification, the descriptor readable."""
        os.write(self._write, b"n")

    # the agent's side
    def fileno(self) -> int | None:
        return self._read

    def timeout(self) -> float:
        return self.interval

    def drain(self) -> int:
        try:
            return len(os.read(self._read, 1 << 16))
        except BlockingIOError:
            return 0

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)
