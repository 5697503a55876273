"""ExaBGP 5.0 text API: build commands from validated objects, parse what comes back.

Commands are assembled only from ``Route`` values (ipaddress objects, ints,
``Community``); a final character check refuses anything else, so no user
string can reach ExaBGP. Messages from ExaBGP (on the API process's stdin)
are ``done`` / ``error`` acks, ``shutdown``, JSON state events, and JSON
lines answering ``show adj-rib out json`` (``api.show-routes-format v2``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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
SHOW_RIB = "show adj-rib out json"


class UnsafeCommand(ValueError):
    """A command contained something that is not an address, number or keyword."""


def _checked(command: str) -> str:
    if not _SAFE.fullmatch(command):
        raise UnsafeCommand(f"refusing to send {command!r}")
    return command


def _attributes(route: Route) -> str:
    parts = ["next-hop self", "as-path [" + " ".join(str(int(a)) for a in route.as_path) + "]"]
    if route.communities:
        parts.append("community [" + " ".join(str(c) for c in route.communities) + "]")
    if route.large_communities:
        parts.append("large-community [" + " ".join(str(c) for c in route.large_communities) + "]")
    if route.med is not None:
        parts.append(f"med {int(route.med)}")
    return " ".join(parts)


def announce_commands(
    peer: IPAddress, routes: Iterable[Route]
) -> Iterator[tuple[str, list[Route]]]:
    """One command per group of routes with identical attributes, ``BATCH`` prefixes each."""
    groups: dict[str, list[Route]] = defaultdict(list)
    last: tuple[object, ...] | None = None
    members: list[Route] = []
    for route in routes:  # runs of routes share attributes: render them once a run
        key = route.wire_key()
        if key != last:
            members, last = groups[_attributes(route)], key
        members.append(route)
    for attributes, members in sorted(groups.items()):
        members.sort(key=lambda r: r.sort_key)
        for start in range(0, len(members), BATCH):
            chunk = members[start : start + BATCH]
            nlri = " ".join(str(r.prefix) for r in chunk)
            line = f"neighbor {peer} announce attributes {attributes} nlri {nlri}"
            yield _checked(line), chunk


def withdraw_commands(
    peer: IPAddress, prefixes: Iterable[IPNetwork]
) -> Iterator[tuple[str, list[IPNetwork]]]:
    ordered = sorted(prefixes, key=prefix_key)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        nlri = " ".join(str(p) for p in chunk)
        yield _checked(f"neighbor {peer} withdraw attributes next-hop self nlri {nlri}"), chunk


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


def parse_message(line: str) -> Message:
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
        data = json.loads(text)
    except json.JSONDecodeError:
        return Other(text)
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
