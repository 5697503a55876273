"""Sending announcements and withdrawals so that a refused route costs only itself.

Two things can refuse a route: the driver, when one of its values does not
render (an IPv6 zone id that slipped into the store, say), and ExaBGP, which
answers a command with ``error``. In both cases the other routes still go out:

- the driver renders route by route and sends every batch without the routes
  it refused;
- a batch ExaBGP refuses is split in halves and each half sent again, until
  the refused routes stand alone (at most ``SPLIT_BUDGET`` extra commands a
  sync; whatever is left unsplit is treated as refused and split on its retry).

A refused route is remembered: one ExaBGP refused is tried again, alone, after
``retry_after``; one the driver refused is not tried again until it changes
(rendering the same values again cannot succeed). Each refusal is reported
once, when it first happens, not on every retry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from orchestrator.domain import IPAddress, IPNetwork, Route
from orchestrator.drivers.exabgp.api import (
    Rendered,
    announce_commands,
    announce_line,
    withdraw_commands,
    withdraw_line,
)

T = TypeVar("T")
SPLIT_BUDGET = 64  # extra commands one sync may spend isolating refused routes
EXABGP_ERROR = "ExaBGP answered error"


@dataclass(frozen=True)
class Action(Generic[T]):
    """Announce (items are routes) or withdraw (items are prefixes)."""

    name: str
    render: Callable[[IPAddress, list[T]], Rendered[T]]
    line: Callable[[IPAddress, list[T]], str]
    key: Callable[[T], tuple[IPNetwork, object]]  # prefix, and what else makes it this item


def _route_key(route: Route) -> tuple[IPNetwork, object]:
    return route.prefix, route.wire_key()


def _prefix_key(prefix: IPNetwork) -> tuple[IPNetwork, object]:
    return prefix, None


ANNOUNCE: Action[Route] = Action("announce", announce_commands, announce_line, _route_key)
WITHDRAW: Action[IPNetwork] = Action("withdraw", withdraw_commands, withdraw_line, _prefix_key)


def printable(text: str) -> str:
    """``text`` on one line of plain ASCII (a refused value may hold anything)."""
    return text.encode("unicode_escape").decode("ascii")


@dataclass(frozen=True)
class Refusal:
    action: str  # announce | withdraw
    peer: IPAddress
    prefix: IPNetwork
    reason: str

    def describe(self, peer_name: str) -> str:
        return (
            f"{peer_name} ({printable(str(self.peer))}): {self.action} "
            f"{printable(str(self.prefix))} refused: {self.reason}"
        )


@dataclass
class Sent(Generic[T]):
    accepted: list[T] = field(default_factory=list)  # ExaBGP said done
    refused: list[Refusal] = field(default_factory=list)  # all refused this time
    new: list[Refusal] = field(default_factory=list)  # refused for the first time
    first_done_at: datetime | None = None  # when ExaBGP accepted the first command


@dataclass(frozen=True)
class _Held:
    identity: object  # the item's key beyond its prefix when it was refused
    reason: str
    retry_at: datetime | None  # None: not before the item changes


class Delivery:
    """Per sync: ``begin()``, ``send()`` per peer and action, ``end()``."""

    def __init__(
        self,
        command: Callable[[str], bool],
        clock: Callable[[], datetime],
        retry_after: timedelta,
    ) -> None:
        self._command = command  # send one line, wait for its ack: True for done
        self._clock = clock
        self.retry_after = retry_after
        self._held: dict[tuple[str, IPAddress, IPNetwork], _Held] = {}
        self._visited: set[tuple[str, IPAddress]] = set()
        self._budget = SPLIT_BUDGET

    def begin(self) -> None:
        self._budget = SPLIT_BUDGET
        self._visited = set()

    def end(self) -> None:
        """Forget refusals for peers this sync did not visit (gone from plan and RIB)."""
        self._held = {k: v for k, v in self._held.items() if (k[0], k[1]) in self._visited}

    def next_retry(self) -> datetime | None:
        return min((h.retry_at for h in self._held.values() if h.retry_at), default=None)

    def waiting(self) -> int:
        """Refused items held back (until due, or until they change)."""
        return len(self._held)

    def send(self, peer: IPAddress, action: Action[T], items: list[T], now: datetime) -> Sent[T]:
        """Send ``items`` to ``peer``: new ones first, then refused ones due for a retry
        (so known-bad routes never delay the others); the rest keep waiting."""
        self._visited.add((action.name, peer))
        fresh, due = self._split(peer, action, items, now)
        sent: Sent[T] = Sent()
        for batch in (fresh, due):
            rendered = action.render(peer, batch)
            for item, reason in rendered.refused:
                self._refuse(sent, peer, action, item, reason, None)
            for line, chunk in rendered.commands:
                self._try(sent, peer, action, line, chunk, now)
        wanted = {action.key(item)[0] for item in items}
        accepted = {action.key(item)[0] for item in sent.accepted}
        for key in [k for k in self._held if k[0] == action.name and k[1] == peer]:
            if key[2] not in wanted or key[2] in accepted:
                del self._held[key]
        return sent

    def _split(
        self, peer: IPAddress, action: Action[T], items: list[T], now: datetime
    ) -> tuple[list[T], list[T]]:
        fresh: list[T] = []
        due: list[T] = []
        for item in items:
            prefix, identity = action.key(item)
            held = self._held.get((action.name, peer, prefix))
            if held is None or held.identity != identity:
                fresh.append(item)
            elif held.retry_at is not None and now >= held.retry_at:
                due.append(item)
        return fresh, due

    def _try(
        self, sent: Sent[T], peer: IPAddress, action: Action[T], line: str, chunk: list[T],
        now: datetime,
    ) -> None:  # fmt: skip
        if self._command(line):
            sent.first_done_at = sent.first_done_at or self._clock()
            sent.accepted.extend(chunk)
            return
        if len(chunk) > 1 and self._budget >= 2:
            self._budget -= 2
            middle = len(chunk) // 2
            for half in (chunk[:middle], chunk[middle:]):
                self._try(sent, peer, action, action.line(peer, half), half, now)
            return
        reason = EXABGP_ERROR
        if len(chunk) > 1:
            reason += f" for a batch of {len(chunk)} (split further on the retry)"
        for item in chunk:
            self._refuse(sent, peer, action, item, reason, now + self.retry_after)

    def _refuse(
        self, sent: Sent[T], peer: IPAddress, action: Action[T], item: T, reason: str,
        retry_at: datetime | None,
    ) -> None:  # fmt: skip
        prefix, identity = action.key(item)
        key = (action.name, peer, prefix)
        before = self._held.get(key)
        self._held[key] = _Held(identity, reason, retry_at)
        refusal = Refusal(action.name, peer, prefix, reason)
        sent.refused.append(refusal)
        if before is None or before.identity != identity or before.reason != reason:
            sent.new.append(refusal)
