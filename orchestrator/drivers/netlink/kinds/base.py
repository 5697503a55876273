"""The one Protocol every return-path kind implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.domain import IPNetwork
from orchestrator.drivers.netlink.state import DesiredPath, KernelState
from orchestrator.inventory import ReturnPath


@dataclass(frozen=True)
class PathContext:
    """Where a path is built: the site, its table, the customer and its prefixes."""

    site: str
    table: int
    customer: str
    prefixes: Sequence[IPNetwork]


class PathKind(Protocol):
    """A return-path kind, looked up by the inventory's ``kind``."""

    name: str

    def desired(self, ctx: PathContext, path: ReturnPath) -> DesiredPath:
        """The kernel objects the path needs (pure: from the inventory alone)."""
        ...

    def problem(self, path: DesiredPath, kernel: KernelState) -> str | None:
        """Why the path cannot be built on this kernel right now, or None."""
        ...
