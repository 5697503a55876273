"""The customer edge's half of a return path, rendered for the customer's router.

One module per vendor in this package, each with a ``VENDOR`` implementing
``Vendor``; vendors are looked up by their name (``frr``, ``cisco-ios``,
``junos``). Adding a vendor is adding a module and its templates under
``templates/customer-edge/<name>/``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Protocol

from orchestrator.customer_edge.model import (
    DedicatedHalf,
    GreHalf,
    Request,
    dedicated_half,
    gre_half,
    return_path,
)
from orchestrator.errors import InvalidInput
from orchestrator.inventory import DedicatedReturnPath, Inventory


class Vendor(Protocol):
    name: str

    def interface(self, given: str | None, site: str, position: int) -> str:
        """The tunnel interface: ``given`` (checked) or the default for the site's
        position in the customer's sites; ``InvalidInput`` at ``--interface``."""
        ...

    def render_gre(self, half: GreHalf) -> str: ...

    def render_dedicated(self, half: DedicatedHalf) -> str: ...


@cache
def vendors() -> dict[str, Vendor]:
    found: dict[str, Vendor] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        vendor: Vendor | None = getattr(module, "VENDOR", None)
        if vendor is not None:
            found[vendor.name] = vendor
    return dict(sorted(found.items()))


def vendor(name: str) -> Vendor:
    found = vendors().get(name)
    if found is None:
        raise InvalidInput(
            f"unknown vendor {name!r} (known: {', '.join(vendors())})", where="--vendor"
        )
    return found


def render(inv: Inventory, request: Request) -> str:
    """The configuration text for the customer's side of one return path."""
    target = vendor(request.vendor)
    customer, path, position = return_path(inv, request)
    if isinstance(path, DedicatedReturnPath):
        if request.interface is not None:
            raise InvalidInput(
                f"{request.site} reaches {request.customer} over a dedicated line: "
                "there is no tunnel interface to name",
                where="--interface",
            )
        return target.render_dedicated(
            dedicated_half(request.customer, customer, request.site, path)
        )
    interface = target.interface(request.interface, request.site, position)
    half = gre_half(request.customer, customer, request.site, path, interface, request.keepalive)
    return target.render_gre(half)
