"""Golden customer-edge cases: an inventory and a request in, one rendering per vendor out.

A case folder ``tests/golden/customer_edge/<case>/`` holds:

- ``inventory.yml``  the inventory, as an operator writes it
- ``request.yml``    ``customer``, ``site``, optional ``keepalive`` (bool) and
                     ``interface`` (a mapping vendor -> name)
- ``<vendor>.txt``   the expected rendering for each vendor (frr, cisco-ios, junos)

Run ``python tests/customer_edge_support.py [CASE ...]`` to rewrite the ``.txt`` files
from the current code; review every rewritten file by hand before committing it.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

import yaml

from orchestrator.customer_edge import render, vendors
from orchestrator.customer_edge.model import Request
from orchestrator.inventory import load_inventory

CASES = Path(__file__).parent / "golden" / "customer_edge"
VENDORS = ("cisco-ios", "frr", "junos")


def cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "request.yml").is_file())


def request(case: str, vendor: str) -> Request:
    spec: dict[str, Any] = yaml.safe_load((CASES / case / "request.yml").read_text("utf-8"))
    unknown = set(spec) - {"customer", "site", "keepalive", "interface"}
    if unknown:
        raise ValueError(f"{case}/request.yml: unknown keys {sorted(unknown)}")
    return Request(
        customer=spec["customer"],
        site=spec["site"],
        vendor=vendor,
        interface=(spec.get("interface") or {}).get(vendor),
        keepalive=bool(spec.get("keepalive", False)),
    )


def rendered(case: str, vendor: str) -> str:
    inv = load_inventory(CASES / case / "inventory.yml")
    return render(inv, request(case, vendor))


def expected(case: str, vendor: str) -> str | None:
    path = CASES / case / f"{vendor}.txt"
    return path.read_text(encoding="utf-8") if path.exists() else None


def unified(expected: str, actual: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{name} (expected)",
            tofile=f"{name} (rendered)",
        )
    )


def regenerate(names: list[str]) -> None:
    assert tuple(vendors()) == VENDORS, "a vendor was added: add it to VENDORS"
    for case in names or cases():
        for vendor in VENDORS:
            (CASES / case / f"{vendor}.txt").write_text(rendered(case, vendor), encoding="utf-8")
        print(f"rewrote {case}/*.txt: review them by hand")


if __name__ == "__main__":
    regenerate(sys.argv[1:])
