"""Junos: a ``gr-`` tunnel unit as ``set`` commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.customer_edge.model import DedicatedHalf, GreHalf, IPInterface
from orchestrator.errors import InvalidInput
from orchestrator.templating import render

_GR_UNIT = re.compile(r"^(gr-[0-9]{1,2}/[0-9]{1,2}/[0-9]{1,2})\.([0-9]{1,5})$")
DEFAULT_IFD = "gr-0/0/0"  # SRX and vSRX; MX names the PIC that runs tunnel services
FIRST_UNIT = 100  # default: unit <100 + the site's position in the customer's sites>
FAMILY = {4: "inet", 6: "inet6"}


@dataclass(frozen=True)
class Family:
    name: str  # inet | inet6
    address: IPInterface | None  # none: the family is only enabled, to carry prefixes


class Junos:
    name = "junos"

    def interface(self, given: str | None, site: str, position: int) -> str:
        if given is None:
            return f"{DEFAULT_IFD}.{FIRST_UNIT + position}"
        if not _GR_UNIT.match(given):
            raise InvalidInput(
                f"{given!r} is not a Junos GRE unit (gr-F/P/N.UNIT, e.g. gr-0/0/0.100)",
                where="--interface",
            )
        return given

    def render_gre(self, half: GreHalf) -> str:
        match = _GR_UNIT.match(half.interface)
        assert match is not None  # checked by interface()
        families = [
            Family(FAMILY[version], half.address if half.inner_version == version else None)
            for version in (4, 6)
            if half.inner_version == version or half.carries(version) is not None
        ]
        return render(
            f"customer-edge/{self.name}/gre.j2",
            half=half,
            ifd=match.group(1),
            unit_number=int(match.group(2)),
            families=families,
            description=f"scrubctl: {half.customer} return path from {half.site}",
        )

    def render_dedicated(self, half: DedicatedHalf) -> str:
        return render(f"customer-edge/{self.name}/dedicated.j2", half=half)


VENDOR = Junos()
