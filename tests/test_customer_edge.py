"""The customer edge's half of a return path: golden renderings per vendor (see
customer_edge_support), the vendor registry, and the FRR script's own syntax."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from customer_edge_support import CASES, VENDORS, cases, expected, rendered, unified

from orchestrator.customer_edge import render, vendors
from orchestrator.customer_edge.model import Request
from orchestrator.errors import InvalidInput
from orchestrator.inventory import load_inventory, parse_inventory

GOLDEN = [(case, vendor) for case in cases() for vendor in VENDORS]


@pytest.mark.parametrize(("case", "vendor"), GOLDEN)
def test_golden(case: str, vendor: str) -> None:
    want = expected(case, vendor)
    assert want is not None, f"{case}/{vendor}.txt is missing"
    got = rendered(case, vendor)
    if got != want:
        pytest.fail(f"{case}/{vendor}.txt differs:\n" + unified(want, got, f"{case}/{vendor}"))


def test_the_cases_cover_what_the_renderings_must_handle() -> None:
    assert {"ipv4_keyed", "ipv4_unkeyed_keepalive", "ipv6_outer_keyed", "dedicated_line"} <= set(
        cases()
    )


def test_vendors_are_found_by_name() -> None:
    assert tuple(vendors()) == VENDORS


def _frr_script(case: str) -> str:
    text = expected(case, "frr")
    assert text is not None
    return text


GRE_CASES = [c for c in cases() if "type gre" in _frr_script(c) or "type ip6gre" in _frr_script(c)]


@pytest.mark.parametrize("case", GRE_CASES)
def test_frr_script_is_valid_sh(case: str, tmp_path: Path) -> None:
    script = tmp_path / "ce.sh"
    script.write_text(_frr_script(case), encoding="utf-8")
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("vtysh") is None, reason="vtysh (FRR) is not installed")
@pytest.mark.parametrize("case", GRE_CASES)
def test_frr_part_passes_vtysh_dry_run(case: str, tmp_path: Path) -> None:
    found = re.search(r"<<'FRR'\n(.*?)^FRR$", _frr_script(case), re.S | re.M)
    assert found is not None, "no FRR part"
    conf = tmp_path / "ce.conf"
    conf.write_text(found.group(1), encoding="utf-8")
    result = subprocess.run(["vtysh", "-C", "-f", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


BAD_INTERFACES = {
    "frr": ("ce;reboot", "'ce;reboot' is not a Linux interface name"),
    "cisco-ios": ("GigabitEthernet0/1", "'GigabitEthernet0/1' is not a Cisco tunnel interface"),
    "junos": ("ge-0/0/0.1", "'ge-0/0/0.1' is not a Junos GRE unit"),
}


@pytest.mark.parametrize("vendor", sorted(BAD_INTERFACES))
def test_bad_interface_name_is_refused(vendor: str) -> None:
    name, message = BAD_INTERFACES[vendor]
    inv = load_inventory(CASES / "ipv4_keyed" / "inventory.yml")
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        render(inv, Request("acme", "ams", vendor, interface=name))
    assert caught.value.where == "--interface"


def test_a_site_name_too_long_for_linux_needs_an_interface_name() -> None:
    text = (CASES / "ipv4_unkeyed_keepalive" / "inventory.yml").read_text("utf-8")
    inv = parse_inventory(yaml.safe_load(text.replace("fra", "frankfurt-main")))
    with pytest.raises(InvalidInput, match="longer than a Linux interface name") as caught:
        render(inv, Request("pharmanet", "frankfurt-main", "frr"))
    assert caught.value.where == "--interface"
    named = render(inv, Request("pharmanet", "frankfurt-main", "frr", interface="ce-fra1"))
    assert "ip link add name ce-fra1 type gre" in named
