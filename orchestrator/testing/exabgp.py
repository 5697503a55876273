"""An in-memory ExaBGP for the agent's tests and benchmarks.

``FakeExaBgp`` implements the agent's ``Channel``: it keeps an adj-rib-out like
ExaBGP's, answers ``done``/``error`` and ``show adj-rib out json``, and can emit
state events or forget everything (an ExaBGP restart), so the agent loop is
tested without a daemon.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import deque
from collections.abc import Callable

from orchestrator.domain import Community, IPAddress, IPNetwork, LargeCommunity, Route
from orchestrator.drivers.exabgp.api import SHOW_RIB

_CMD = re.compile(
    r"^neighbor (?P<peer>\S+) (?P<action>announce|withdraw) attributes (?P<attrs>.*?) "
    r"nlri (?P<nlri>.+)$"
)


def _parse_attrs(text: str) -> tuple[tuple[int, ...], tuple[Community, ...],
                                     tuple[LargeCommunity, ...], int | None]:  # fmt: skip
    def bracket(name: str) -> list[str]:
        match = re.search(rf"(?:^| ){name} \[([^\]]*)\]", text)
        return match[1].split() if match else []

    med = re.search(r"(?:^| )med ([0-9]+)", text)
    return (
        tuple(int(a) for a in bracket("as-path")),
        tuple(Community.parse(c) for c in bracket("community")),
        tuple(LargeCommunity.parse(c) for c in bracket("large-community")),
        int(med[1]) if med else None,
    )


class FakeExaBgp:
    """Implements ``Channel`` for the agent, playing ExaBGP's side."""

    def __init__(self, error_if: Callable[[str], bool] | None = None) -> None:
        self.rib: dict[IPAddress, dict[IPNetwork, Route]] = {}
        self.commands: list[str] = []
        self.pending: deque[str] = deque()
        self.error_if = error_if or (lambda _line: False)
        self.closed = False

    # the agent's side
    def send(self, line: str) -> None:
        self.commands.append(line)
        if line == SHOW_RIB:
            for peer, routes in sorted(self.rib.items(), key=lambda kv: str(kv[0])):
                for route in routes.values():
                    self.pending.append(self._rib_line(peer, route))
            self.pending.append("done")
            return
        match = _CMD.match(line)
        if match is None or self.error_if(line):
            self.pending.append("error")
            return
        peer = ipaddress.ip_address(match["peer"])
        table = self.rib.setdefault(peer, {})
        prefixes = [ipaddress.ip_network(p) for p in match["nlri"].split()]
        if match["action"] == "withdraw":
            for prefix in prefixes:
                table.pop(prefix, None)
        else:
            path, communities, large, med = _parse_attrs(match["attrs"])
            for prefix in prefixes:
                table[prefix] = Route(prefix, path, communities, large, med)
        self.pending.append("done")

    def receive(self, timeout: float, wake: int | None = None) -> str | None:
        if self.pending:
            return self.pending.popleft()
        if self.closed:
            raise EOFError("fake ExaBGP closed")
        return None

    # the test's side
    def state(self, peer: str, state: str, reason: str = "") -> None:
        neighbor = {"address": {"local": "0.0.0.0", "peer": peer}, "state": state}
        if reason:
            neighbor["reason"] = reason
        self.pending.append(json.dumps({"type": "state", "neighbor": neighbor}))

    def restart(self) -> None:
        """ExaBGP restarted: sessions gone, adj-rib-out empty."""
        self.rib.clear()

    def prefixes(self, peer: str) -> set[str]:
        return {str(p) for p in self.rib.get(ipaddress.ip_address(peer), {})}

    @staticmethod
    def _rib_line(peer: IPAddress, route: Route) -> str:
        attributes: dict[str, object] = {
            "as-path": {"0": {"element": "as-sequence", "value": list(route.as_path)}}
        }
        if route.communities:
            attributes["community"] = [str(c) for c in route.communities]
        if route.large_communities:
            attributes["large-community"] = [str(c) for c in route.large_communities]
        if route.med is not None:
            attributes["med"] = route.med
        nlri = {"prefix": str(route.prefix), "nexthop": "self"}
        return json.dumps({"peer": {"address": str(peer)},
                           "route": {"nlri": nlri, "attributes": attributes}})  # fmt: skip
