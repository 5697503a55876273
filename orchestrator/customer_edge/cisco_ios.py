"""Cisco IOS / IOS XE: a ``Tunnel`` interface in configuration-mode syntax."""

from __future__ import annotations

import re

from orchestrator.customer_edge.model import DedicatedHalf, GreHalf
from orchestrator.errors import InvalidInput
from orchestrator.templating import render

_TUNNEL = re.compile(r"^Tunnel[0-9]{1,9}$")
FIRST_TUNNEL = 100  # default: Tunnel<100 + the site's position in the customer's sites>


class CiscoIos:
    name = "cisco-ios"

    def interface(self, given: str | None, site: str, position: int) -> str:
        if given is None:
            return f"Tunnel{FIRST_TUNNEL + position}"
        if not _TUNNEL.match(given):
            raise InvalidInput(
                f"{given!r} is not a Cisco tunnel interface (Tunnel<number>)", where="--interface"
            )
        return given

    def render_gre(self, half: GreHalf) -> str:
        carries_v4 = half.carries(4) is not None
        carries_v6 = half.carries(6) is not None
        inner_v4 = half.inner_version == 4
        return render(
            f"customer-edge/{self.name}/gre.j2",
            half=half,
            description=f"scrubctl: {half.customer} return path from {half.site}",
            ipv4_address=f"{half.address.ip} {half.address.netmask}" if inner_v4 else None,
            ipv6_enable=carries_v6 and inner_v4,
            needs_ipv4_address=carries_v4 and not inner_v4,
            mtu_v4=carries_v4 or inner_v4,
            mtu_v6=carries_v6 or not inner_v4,
        )

    def render_dedicated(self, half: DedicatedHalf) -> str:
        return render(f"customer-edge/{self.name}/dedicated.j2", half=half)


VENDOR = CiscoIos()
