"""What the wake-up tests (inotify and PostgreSQL NOTIFY) share."""

from __future__ import annotations

import select

from orchestrator.site.waker import Waker


def readable(waker: Waker, timeout: float) -> bool:
    """Whether the waker's descriptor becomes readable within ``timeout`` seconds."""
    fd = waker.fileno()
    assert fd is not None
    return bool(select.select([fd], [], [], timeout)[0])
