"""The inventory fields the return-path driver reads: defaults and errors naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from netlink_support import BASE, inventory

from orchestrator.inventory import GreReturnPath, InventoryErrors, parse_inventory


def test_defaults_keep_old_inventories_valid() -> None:
    data = copy.deepcopy(BASE)
    del data["sites"]["fra"]["upstream_interfaces"]
    site = parse_inventory(data).sites["fra"]
    assert (site.upstream_interfaces, site.return_table) == ((), 4200)
    gre = inventory().customers["acme"].return_paths["fra"]
    assert isinstance(gre, GreReturnPath) and gre.ttl == 64


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (
            {"sites.fra.upstream_interfaces": ["up0", "up1", "up0"]},
            "sites.fra.upstream_interfaces: up0 listed twice",
        ),
        (
            {"sites.fra.upstream_interfaces": ["eth1; reboot"]},
            "sites.fra.upstream_interfaces[0]: String should match pattern "
            "'^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$'",
        ),
        (
            {"sites.fra.return_table": 254},
            "sites.fra.return_table: 254 is the kernel's default, main or local table",
        ),
        (
            {"sites.fra.return_table": 0},
            "sites.fra.return_table: Input should be greater than or equal to 1",
        ),
        (
            {"customers.acme.return_paths.fra.ttl": 0},
            "customers.acme.return_paths.fra.ttl: Input should be greater than or equal to 1",
        ),
    ],
    ids=["duplicate", "bad_name", "reserved_table", "table_zero", "ttl_zero"],
)
def test_bad_value_names_the_field(edit: dict[str, Any], error: str) -> None:
    with pytest.raises(InventoryErrors) as info:
        inventory(edit)
    assert [str(e) for e in info.value.errors] == [error]
