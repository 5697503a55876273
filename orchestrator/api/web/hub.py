"""One poller of the store's pulse per service process, shared by every open page.

Each page holds a Server-Sent Events stream (``live.py``). Polling the store
per stream would cost N reads every ``interval`` for N open pages; the hub
reads the pulse once per interval (in a worker thread: the read blocks) and
hands a change to every subscriber's queue. The poller starts with the first
subscriber and stops when the last one leaves (a closed page: its stream's
``subscribe`` block ends, also when the stream is cancelled), so an idle
service reads nothing.

A subscriber's queue holds one value, the newest pulse: a page that has not
yet taken a change gets the latest instead of a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi.concurrency import run_in_threadpool

from orchestrator.errors import ScrubError

log = logging.getLogger("scrubctl.api")

Pulse = tuple[object, ...]  # dashboard.pulse: compared for equality only


class PulseHub:
    def __init__(self, read: Callable[[], Pulse], interval: float) -> None:
        self.read, self.interval = read, interval
        self.subscribers: set[asyncio.Queue[Pulse]] = set()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Pulse]]:
        """A queue that receives each new pulse while the block runs."""
        queue: asyncio.Queue[Pulse] = asyncio.Queue(maxsize=1)
        self.subscribers.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            yield queue
        finally:
            self.subscribers.discard(queue)
            if not self.subscribers:
                await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self) -> None:
        """Read the pulse every ``interval``; a change goes to every subscriber. The
        first read is the baseline: a page subscribes after it was rendered."""
        last: Pulse | None = None
        while self.subscribers:
            try:
                current = await run_in_threadpool(self.read)
            except ScrubError as exc:  # busy: the next round
                log.debug("pulse: %s", exc)
            else:
                if last is not None and current != last:
                    for queue in list(self.subscribers):
                        _put_latest(queue, current)
                last = current
            await asyncio.sleep(self.interval)


def _put_latest(queue: asyncio.Queue[Pulse], value: Pulse) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(value)
