"""The line channel between the agent and ExaBGP: the API process's own stdin
(messages from ExaBGP) and stdout (commands to it). Its fake, playing ExaBGP's
side, is ``orchestrator.testing.exabgp.FakeExaBgp``.
"""

from __future__ import annotations

import os
import select
from collections import deque
from typing import Protocol


class Channel(Protocol):
    def send(self, line: str) -> None: ...

    def receive(self, timeout: float, wake: int | None = None) -> str | None:
        """One line without its newline, or None after ``timeout`` seconds or as soon
        as the descriptor ``wake`` turns readable (the agent's ``Waker``).
        Raises ``EOFError`` when ExaBGP has gone."""
        ...


class StdioChannel:
    def __init__(self, infd: int = 0, outfd: int = 1) -> None:
        self._in = infd
        self._out = outfd
        self._buffer = b""
        self._lines: deque[str] = deque()

    def send(self, line: str) -> None:
        data = (line + "\n").encode()
        while data:
            written = os.write(self._out, data)
            data = data[written:]

    def receive(self, timeout: float, wake: int | None = None) -> str | None:
        if self._lines:
            return self._lines.popleft()
        fds = [self._in] if wake is None else [self._in, wake]
        ready, _, _ = select.select(fds, [], [], max(timeout, 0))
        if self._in not in ready:
            return None
        chunk = os.read(self._in, 1 << 16)
        if not chunk:
            raise EOFError("ExaBGP closed the API pipe")
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self._lines.extend(part.decode(errors="replace") for part in complete)
        return self._lines.popleft() if self._lines else None
