"""Where a lab keeps its runtime files, and the lock that serialises lab operations.

``/run/scrubctl-lab/<lab>/<node>/`` holds a node's pidfiles, vty sockets, zserv
socket and logs; ``/run/scrubctl-lab/<lab>/`` is removed by ``lab down``. The
lock file ``/run/scrubctl-lab/lock`` stays: it only serialises ``up``/``down``
(and a test module that owns a lab) between processes.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import Conflict

BASE = Path("/run/scrubctl-lab")


@dataclass(frozen=True)
class RunDir:
    lab: str
    base: Path = BASE

    @property
    def root(self) -> Path:
        return self.base / self.lab

    def node(self, node: str) -> Path:
        return self.root / node


class LabLock:
    """An exclusive ``flock`` on ``BASE/lock``; re-entrant within one object."""

    def __init__(self, base: Path = BASE) -> None:
        self.path = base / "lock"
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._fd is not None

    @contextmanager
    def hold(self, timeout: float = 60.0) -> Iterator[None]:
        if self._fd is None:
            self._acquire(timeout)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def _acquire(self, timeout: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise Conflict(
                        f"another lab operation (pid {holder}) holds {self.path}",
                        hint=f"waited {timeout:.0f} s; try again when it has finished",
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
