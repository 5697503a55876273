"""Make the kernel hold a site's desired return paths: read, check, diff, write.

A path that cannot be built (missing interface, next hop outside the line's
subnets, tunnel name held by a foreign interface, a write the kernel
refused) is reported with its cause and health DOWN; it never raises. The
other paths are built regardless.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.domain import Health
from orchestrator.drivers.netlink.diff import plan_steps
from orchestrator.drivers.netlink.kernel import Kernel, KernelError
from orchestrator.drivers.netlink.kinds import KINDS
from orchestrator.drivers.netlink.marks import is_our_link
from orchestrator.drivers.netlink.ops import Step, describe
from orchestrator.drivers.netlink.state import DesiredPath, DesiredState, KernelState


@dataclass(frozen=True)
class PathStatus:
    """What the driver knows about one path: built, or down with the cause.

    A built path's health is UNKNOWN: only the probes (through the path) say UP.
    """

    customer: str
    kind: str
    interface: str | None
    cause: str | None = None

    @property
    def health(self) -> Health:
        return Health.DOWN if self.cause else Health.UNKNOWN


@dataclass(frozen=True)
class ApplyReport:
    paths: tuple[PathStatus, ...]
    steps: tuple[Step, ...]  # the writes made (or tried: see errors and causes)
    errors: tuple[str, ...] = ()  # refused writes of the site's own objects
    warnings: tuple[str, ...] = ()

    def status(self, customer: str) -> PathStatus:
        return next(p for p in self.paths if p.customer == customer)


def _interface(path: DesiredPath) -> str | None:
    if path.tunnel is not None:
        return path.tunnel.name
    return path.line.interface if path.line is not None else None


def path_problem(path: DesiredPath, kernel: KernelState) -> str | None:
    """Why ``path`` cannot be built on ``kernel`` now, or None."""
    if path.problem:
        return path.problem
    if path.tunnel is not None:
        link = kernel.link(path.tunnel.name)
        if link is not None and not is_our_link(link.name, link.alias):
            return f"interface {link.name} exists and is not scrubctl's (no scrubctl alias)"
    return KINDS[path.kind].problem(path, kernel)


def apply(kernel: Kernel, desired: DesiredState) -> ApplyReport:
    """One reconciliation: only the writes needed; none when nothing changed."""
    state = kernel.read(desired.table)
    causes: dict[str, str] = {}
    for path in desired.paths:
        cause = path_problem(path, state)
        if cause:
            causes[path.customer] = cause
    buildable = [p for p in desired.paths if p.customer not in causes]
    steps = plan_steps(buildable, desired.rules, state)
    errors: list[str] = []
    for step in steps:
        if step.owner is not None and step.owner in causes:
            continue  # an earlier write of this path failed: the rest would too
        try:
            kernel.run(step.op)
        except KernelError as exc:
            message = f"{describe(step.op)}: {exc}"
            if step.owner is None:
                errors.append(message)
            else:
                causes[step.owner] = message
    paths = tuple(
        PathStatus(p.customer, p.kind, _interface(p), causes.get(p.customer)) for p in desired.paths
    )
    return ApplyReport(paths, tuple(steps), tuple(errors), desired.warnings)
