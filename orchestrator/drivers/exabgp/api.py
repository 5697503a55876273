"""ExaBGP 5.0 text API: build commands from validated objects, parse what comes back.

Commands are assembled only from ``Route`` values (ipaddress objects, ints,
``Community``). Each value is held to its own grammar (a prefix is digits, dots,
colons and a length: an IPv6 zone id is not) and a final character check on
the whole line refuses anything else, so no user string can reach ExaBGP. A
route whose values do not pass is refused alone (``Rendered.refused``); the
routes it would have shared a command with are sent without it.

Messages from ExaBGP (on the API process's stdin) are ``done`` / ``error``
acks, ``shutdown``, JSON state events, and JSON lines answering
``show adj-rib out json`` (``api.show-routes-format v2``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from orchestrator.domain import (
    BLACKHOLE,
    Community,
    IPAddress,
    IPNetwork,
    LargeCommunity,
    Route,
    RouteKind,
    prefix_key,
)

BATCH = 500  # prefixes per command; ExaBGP handles a few hundred NLRI per line well
_SAFE = re.compile(r"^[0-9A-Za-z .:/\[\]-]+$")
_ADDRESS = re.compile(r"[0-9A-Fa-f.:]+")  # what str() of a plain IPv4/IPv6 address is
_PREFIX = re.compile(r"[0-9A-Fa-f.:]+/[0-9]{1,3}")
SHOW_RIB = "show adj-rib out json"
T = TypeVar("T")


class UnsafeCommand(ValueError):
    """A command contained something that is not an address, number or keyword."""


def _checked(command: str) -> str:
    if not _SAFE.fullmatch(command):
        raise UnsafeCommand(f"refusing to send {command!r}")
    return command


def _field(pattern: re.Pattern[str], text: str, what: str) -> str:
    """One value of a command, held to its own grammar (stricter than ``_SAFE``)."""
    if not pattern.fullmatch(text):
        raise UnsafeCommand(f"not a plain {what}")
    return text


def _attributes(route: Route) -> str:
    parts = ["next-hop self", "as-path [" + " ".join(str(int(a)) for a in route.as_path) + "]"]
    if route.communities:
        parts.append("community [" + " ".join(str(c) for c in route.communities) + "]")
    if route.large_communities:
        parts.append("large-community [" + " ".join(str(c) for c in route.large_communities) + "]")
    if route.med is not None:
        parts.append(f"med {int(route.med)}")
    return _checked(" ".join(parts))


@dataclass
class Rendered(Generic[T]):
    """Commands ready to send, each with the routes (or prefixes) it carries, and the
    items that could not be rendered, each with the reason: one bad value costs only
    its own route, never the batch it would have shared a command with."""

    commands: list[tuple[str, list[T]]] = field(default_factory=list)
    refused: list[tuple[T, str]] = field(default_factory=list)


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, UnsafeCommand) else f"{type(exc).__name__}: {exc}"


def _peer_text(peer: IPAddress) -> str:
    return _field(_ADDRESS, str(peer), "peer address")


def _prefix_text(prefix: IPNetwork) -> str:
    return _field(_PREFIX, str(prefix), "prefix")


def _announce(peer: str, attributes: str, nlri: Iterable[str]) -> str:
    return _checked(f"neighbor {peer} announce attributes {attributes} nlri {' '.join(nlri)}")


def _withdraw(peer: str, nlri: Iterable[str]) -> str:
    return _checked(f"neighbor {peer} withdraw attributes next-hop self nlri {' '.join(nlri)}")


def announce_line(peer: IPAddress, routes: Sequence[Route]) -> str:
    """One command for ``routes``, which share their attributes (``Route.wire_key``)."""
    nlri = [_prefix_text(r.prefix) for r in routes]
    return _announce(_peer_text(peer), _attributes(routes[0]), nlri)


def withdraw_line(peer: IPAddress, prefixes: Sequence[IPNetwork]) -> str:
    return _withdraw(_peer_text(peer), map(_prefix_text, prefixes))


def announce_commands(peer: IPAddress, routes: Iterable[Route]) -> Rendered[Route]:
    """One command per group of routes with identical attributes, ``BATCH`` prefixes each.
    Every route's own values are checked first: one that does not render is refused
    alone, and the others go out without it."""
    out: Rendered[Route] = Rendered()
    try:
        address = _peer_text(peer)
    except UnsafeCommand as exc:
        out.refused = [(r, str(exc)) for r in routes]
        return out
    groups: dict[str, list[Route]] = defaultdict(list)
    last: tuple[object, ...] | None = None
    members: list[Route] = []
    refusal: str | None = None  # why the current run's attributes do not render
    for route in routes:  # runs of routes share attributes: render them once a run
        key = route.wire_key()
        if key != last:
            last, refusal = key, None
            try:
                members = groups[_attributes(route)]
            except Exception as exc:  # any value that does not render refuses its routes
                refusal = _why(exc)
        if refusal is None:
            members.append(route)
        else:
            out.refused.append((route, refusal))
    for attributes, group in sorted(groups.items()):
        group.sort(key=lambda r: r.sort_key)
        plain, nlri = _plain_prefixes(group, out, _prefix_of)
        for start in range(0, len(plain), BATCH):
            line = _announce(address, attributes, nlri[start : start + BATCH])
            out.commands.append((line, plain[start : start + BATCH]))
    return out


def withdraw_commands(peer: IPAddress, prefixes: Iterable[IPNetwork]) -> Rendered[IPNetwork]:
    out: Rendered[IPNetwork] = Rendered()
    try:
        address = _peer_text(peer)
    except UnsafeCommand as exc:
        out.refused = [(p, str(exc)) for p in prefixes]
        return out
    ordered = sorted(prefixes, key=prefix_key)
    plain, nlri = _plain_prefixes(ordered, out, lambda p: p)
    for start in range(0, len(plain), BATCH):
        line = _withdraw(address, nlri[start : start + BATCH])
        out.commands.append((line, plain[start : start + BATCH]))
    return out


def _plain_prefixes(
    items: list[T], out: Rendered[T], prefix_of: Callable[[T], IPNetwork]
) -> tuple[list[T], list[str]]:
    """The items whose prefix renders plainly, and those texts; the others are refused."""
    plain: list[T] = []
    texts: list[str] = []
    match = _PREFIX.fullmatch
    for item in items:
        text = str(prefix_of(item))
        if match(text):
            plain.append(item)
            texts.append(text)
        else:
            out.refused.append((item, "not a plain prefix"))
    return plain, texts


def _prefix_of(route: Route) -> IPNetwork:
    return route.prefix


# --- messages from ExaBGP ---------------------------------------------------


@dataclass(frozen=True)
class Ack:
    ok: bool


@dataclass(frozen=True)
class Shutdown:
    pass


@dataclass(frozen=True)
class StateEvent:
    peer: IPAddress
    state: str  # connected | up | down
    reason: str


@dataclass(frozen=True)
class RibEntry:
    peer: IPAddress
    route: Route


@dataclass(frozen=True)
class Other:
    text: str


Message = Ack | Shutdown | StateEvent | RibEntry | Other


log = logging.getLogger("scrubctl.exabgp")


def parse_message(line: str) -> Message:
    """One line from ExaBGP. A line this code does not understand (another version's
    JSON, a field of the wrong type) is ``Other`` with a warning, never an exception:
    an agent that died on it would be respawned into the same line, and ExaBGP stops
    respawning after a few deaths a minute and exits, taking the site down."""
    text = line.strip()
    if text == "done":
        return Ack(True)
    if text == "error":
        return Ack(False)
    if text == "shutdown":
        return Shutdown()
    if not text.startswith("{"):
        return Other(text)
    try:
        return _json_message(json.loads(text), text)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        log.warning("ExaBGP sent a line not understood (%s: %s): %.300s",
                    type(exc).__name__, exc, text)  # fmt: skip
        return Other(text)


def _json_message(data: Any, text: str) -> Message:
    if data.get("type") == "state":
        neighbor = data["neighbor"]
        return StateEvent(
            peer=ipaddress.ip_address(neighbor["address"]["peer"]),
            state=str(neighbor["state"]),
            reason=str(neighbor.get("reason", "")),
        )
    if "route" in data and "peer" in data:
        return RibEntry(ipaddress.ip_address(data["peer"]["address"]), _route(data["route"]))
    return Other(text)


def _route(data: dict[str, Any]) -> Route:
    attributes = data.get("attributes", {})
    path: list[int] = []
    segments = attributes.get("as-path", {})
    for key in sorted(segments, key=int):
        path.extend(int(a) for a in segments[key]["value"])
    communities = tuple(sorted(Community.parse(c) for c in attributes.get("community", [])))
    large = tuple(sorted(LargeCommunity.parse(c) for c in attributes.get("large-community", [])))
    med = attributes.get("med")
    return Route(
        prefix=ipaddress.ip_network(data["nlri"]["prefix"]),
        as_path=tuple(path),
        communities=communities,
        large_communities=large,
        med=int(med) if med is not None else None,
        kind=RouteKind.RTBH if BLACKHOLE in communities else RouteKind.SCRUB,
    )
