"""A route's reason names the requests that ask for its prefix, and no others."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.domain import Diversion, Intent, Observed
from orchestrator.inventory import load_inventory
from orchestrator.planner import plan

INVENTORY = Path(__file__).parent / "golden" / "divert_some_prefixes" / "inventory.yml"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
V4, V6 = ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("2001:db8:100::/48")
SESSIONS = Observed(
    sessions={
        ("fra", "transit-a"): True,
        ("fra", "transit-a-v6"): True,
        ("ams", "transit-b"): True,
        ("ams", "transit-b-v6"): True,
    }
)


def _reasons() -> dict[object, set[str]]:
    inv = load_inventory(INVENTORY)
    intent = Intent(
        diversions=(
            Diversion(id=1, customer="acme", prefixes=(V4,)),
            Diversion(id=2, customer="acme", prefixes=(V6,)),
            Diversion(id=3, customer="acme"),  # all prefixes
        )
    )
    result = plan(inv, intent, SESSIONS, NOW)
    out: dict[object, set[str]] = {V4: set(), V6: set()}
    for planned in result.routes["fra"]:
        out[planned.route.prefix].add(planned.reason)
    return out


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (V4, "acme diversion #1, diversion #3: primary site"),
        (V6, "acme diversion #2, diversion #3: primary site"),
    ],
)
def test_reason_names_only_the_diversions_covering_the_prefix(
    prefix: object, expected: str
) -> None:
    assert _reasons()[prefix] == {expected}
