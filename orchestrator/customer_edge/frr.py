"""FRR on Linux: a shell script for the kernel's GRE tunnel plus FRR's part.

FRR does not create GRE interfaces; the kernel does (``ip link``). The script
runs as-is with ``sh``; its FRR part is fed to ``vtysh -f``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.customer_edge.model import DedicatedHalf, GreHalf
from orchestrator.domain import IPNetwork
from orchestrator.errors import InvalidInput
from orchestrator.templating import render

_IFNAME = re.compile(r"^[A-Za-z0-9_-]{1,15}$")  # Linux allows more; these are shell-safe
TTL = 64
TOOLS = {4: "IPTABLES", 6: "IP6TABLES"}


@dataclass(frozen=True)
class Link:
    kind: str  # gre | ip6gre
    options: str  # after local/remote: ttl or hop limit, key, encapsulation limit


@dataclass(frozen=True)
class Clamp:
    tool: str  # the shell variable naming iptables or ip6tables
    prefix: IPNetwork
    mss: int


def _link(half: GreHalf) -> Link:
    # iproute2 documents the IPv6 outer header's hop limit as `hoplimit` for ip6gre
    options = [f"hoplimit {TTL}" if half.outer_version == 6 else f"ttl {TTL}"]
    if half.key is not None:
        options.append(f"key {half.key}")
    if half.outer_version == 6:
        # Without this, ip6gre adds an 8-byte encapsulation-limit option to every
        # packet and the path's MTU (1456 = 1500 - 44) would not fit.
        options.append("encaplimit none")
    return Link("ip6gre" if half.outer_version == 6 else "gre", " ".join(options))


class Frr:
    name = "frr"

    def interface(self, given: str | None, site: str, position: int) -> str:
        if given is None:
            name = f"scrub-{site}"
            if not _IFNAME.match(name):
                raise InvalidInput(
                    f"the default name {name!r} is longer than a Linux interface name (15)",
                    where="--interface",
                    hint="name the tunnel with --interface",
                )
            return name
        if not _IFNAME.match(given):
            raise InvalidInput(
                f"{given!r} is not a Linux interface name (1-15 letters, digits, _ or -)",
                where="--interface",
            )
        return given

    def render_gre(self, half: GreHalf) -> str:
        clamps = [
            Clamp(TOOLS[c.version], prefix, c.mss) for c in half.carried for prefix in c.prefixes
        ]
        return render(
            f"customer-edge/{self.name}/gre.j2",
            half=half,
            link=_link(half),
            rp_filter=half.carries(4) is not None,
            clamps=clamps,
            description=f"scrubctl: {half.customer} return path from {half.site}",
        )

    def render_dedicated(self, half: DedicatedHalf) -> str:
        return render(f"customer-edge/{self.name}/dedicated.j2", half=half)


VENDOR = Frr()
