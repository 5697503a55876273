"""Poll a router's JSON until it contains an expected subset (like FRR topotests'
``run_and_expect`` + ``json_cmp``), with an explicit timeout that never changes.

Subset rules (``json_diff``):

- dict: every expected key must be present and match; a key expected as
  ``None`` must be ABSENT (e.g. a withdrawn prefix);
- list: every expected element must match a distinct element of the actual
  list, in any order; ``[]`` expects an empty list;
- anything else: equal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import ScrubError


class ExpectTimeout(ScrubError):
    """The expected subset did not appear in time; carries the last difference."""

    def __init__(self, what: str, timeout: float, diff: list[str], last: Any) -> None:
        self.diff = diff
        self.last = last
        shown = "; ".join(diff[:5]) + (f" (+{len(diff) - 5} more)" if len(diff) > 5 else "")
        super().__init__(f"{what}: not as expected after {timeout:.1f} s: {shown}")


def json_diff(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Differences between ``actual`` and the subset ``expected`` (empty: it matches)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_short(actual)}"]
        diffs: list[str] = []
        for key, want in expected.items():
            where = f"{path}.{key}"
            if want is None:
                if key in actual:
                    diffs.append(f"{where}: expected absent, got {_short(actual[key])}")
            elif key not in actual:
                diffs.append(f"{where}: missing")
            else:
                diffs.extend(json_diff(actual[key], want, where))
        return diffs
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {_short(actual)}"]
        if not expected:
            return [] if not actual else [f"{path}: expected [], got {len(actual)} items"]
        unused = list(range(len(actual)))
        diffs = []
        for i, want in enumerate(expected):
            match = next((j for j in unused if not json_diff(actual[j], want)), None)
            if match is None:
                diffs.append(f"{path}[{i}]: no element matches {_short(want)}")
            else:
                unused.remove(match)
        return diffs
    if actual != expected:
        return [f"{path}: expected {expected!r}, got {_short(actual)}"]
    return []


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Outcome:
    value: Any
    elapsed: float


def wait_for(
    fetch: Callable[[], Any],
    expected: Any,
    *,
    timeout: float,
    interval: float = 0.25,
    what: str = "output",
) -> Outcome:
    """Call ``fetch`` until its result contains ``expected`` or ``timeout`` passes.

    Returns the matching value and how long it took; raises ``ExpectTimeout``
    with the last difference. Errors raised by ``fetch`` (a daemon still
    starting) count as a non-matching attempt and are reported if it times out.
    """
    start = time.monotonic()
    deadline = start + timeout
    while True:
        try:
            value = fetch()
            diff = json_diff(value, expected)
        except ScrubError as exc:
            value, diff = None, [f"fetch failed: {exc}"]
        if not diff:
            return Outcome(value, time.monotonic() - start)
        if time.monotonic() >= deadline:
            raise ExpectTimeout(what, timeout, diff, value)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.25, what: str
) -> float:
    """Poll a yes/no condition; return the seconds it took or raise ``ExpectTimeout``."""
    return wait_for(predicate, True, timeout=timeout, interval=interval, what=what).elapsed
