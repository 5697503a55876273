"""The kernel operations the reconciler needs: read our state, run one write.

``PyrouteKernel`` (pyroute2) is the real one; ``orchestrator.testing.netlink``
holds a fake with the same behaviour for unit tests.
"""

from __future__ import annotations

from typing import Protocol

from orchestrator.drivers.netlink.ops import Op
from orchestrator.drivers.netlink.state import KernelState


class KernelError(Exception):
    """A netlink write the kernel refused (the message says which and why)."""


class Kernel(Protocol):
    def read(self, table: int) -> KernelState:
        """Every link with its addresses; only our routes in ``table`` and our rules."""
        ...

    def run(self, op: Op) -> None:
        """Make one write; raise ``KernelError`` if the kernel refuses it."""
        ...
