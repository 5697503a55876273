"""Return-path kinds by the inventory's ``kind``: one module per kind, one Protocol.

Adding a kind is adding a module with a class implementing ``PathKind`` and
listing it in ``KINDS``.
"""

from __future__ import annotations

from orchestrator.drivers.netlink.kinds.base import PathContext, PathKind
from orchestrator.drivers.netlink.kinds.dedicated import DedicatedKind
from orchestrator.drivers.netlink.kinds.gre import GreKind

KINDS: dict[str, PathKind] = {kind.name: kind for kind in (GreKind(), DedicatedKind())}

__all__ = ["KINDS", "PathContext", "PathKind"]
