"""Defaults the faces (CLI, API) show in their help and the services apply.

A module of its own so a command's option help can name them without loading
``orchestrator.domain`` (its dataclasses and regular expressions cost a command
~30 ms of start-up here, and ``divert start --api`` needs nothing else of it).
"""

from __future__ import annotations

SYNC_TIMEOUT_S = 30.0  # seconds a `wait` waits for the sites unless told
SYNC_TIMEOUT_MAX_S = 3600.0  # the longest `wait` a change may ask for


def sync_seconds(asked: float | None) -> float | None:
    """How long a change's ``wait`` waits for ``timeout`` ``asked`` (None: the
    default); None when the services refuse it (not more than 0, over the maximum,
    NaN)."""
    seconds = SYNC_TIMEOUT_S if asked is None else asked
    return seconds if 0 < seconds <= SYNC_TIMEOUT_MAX_S else None
