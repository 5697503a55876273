"""Run a ``scrubctl lab`` command inside a user-mode Linux guest (kernels without GRE).

The guest (``lab.uml``) sees the host's filesystem read-only, so the same
interpreter, virtualenv, FRR and topology run inside; its /run and /tmp are
its own tmpfs, so the lab built there (namespaces, daemons, run directory,
database) exists only while the guest runs and vanishes when it halts. Hence
one guest per command: ``lab demo --uml`` runs the whole demo in one boot
(with ``--keep`` the guest, and so the lab, stays up until the command is
interrupted); ``lab up --uml`` builds the lab, shows its status and halts.
What the command prints is shown as it runs. A ``GuestLink`` (a tap on this
host) lets the host reach the demo's dashboard in the guest.
Inside, the lab's packet filters use iptables-legacy (``lab.filters``): the
guest kernel's nftables has only the bridge family.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.lab.guestlink import GuestLink
from orchestrator.lab.shell import LabError
from orchestrator.lab.uml import UmlError, UmlResult, UmlRunner, kernel_has_gre, missing_uml

IN_GUEST_ENV = "SCRUBCTL_IN_UML"  # set inside the guest (tests/uml_support.py uses it too)
MEMORY_MB = 1536  # FRR x3, ExaBGP x2, the site runners: about 700 MB used
BOOT_BUDGET = 60.0  # boot, mounts and halt, on a busy 2-core machine


def in_guest() -> bool:
    return os.environ.get(IN_GUEST_ENV) == "1"


def want_guest(uml: bool) -> bool:
    """``--uml`` given, or this kernel lacks GRE and we are not already in a guest."""
    if in_guest():
        return False
    return uml or not kernel_has_gre()


def run_in_guest(
    commands: list[list[str]],
    *,
    workdir: Path,
    timeout: float,
    link: GuestLink | None = None,
    follow: Callable[[str], None] | None = None,
) -> UmlResult:
    """``python -m orchestrator lab ARGS`` for each ARGS in ``commands``, in order,
    as root in one fresh guest, stopping at the first that fails; the result.
    ``follow`` gets their output line by line as it is written; ``link`` joins the
    guest to a tap on this host (``guestlink.host_link`` must hold it)."""
    missing = missing_uml()
    if missing is not None:
        raise LabError(
            f"this kernel has no GRE and user-mode Linux cannot run: {missing}",
            hint="install user-mode-linux (scripts/bootstrap.sh)",
        )
    env = {k: v for k, v in os.environ.items() if k.startswith("SCRUBCTL_")}
    env[IN_GUEST_ENV] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    runner = UmlRunner(memory_mb=MEMORY_MB, timeout=BOOT_BUDGET + timeout, link=link)
    lines = [shlex.join([sys.executable, "-m", "orchestrator", "lab", *c]) for c in commands]
    argv = ["sh", "-c", " && ".join(lines)]
    try:
        return runner.run(argv, env=env, cwd=workdir, follow=follow)
    except UmlError as exc:
        raise LabError(f"user-mode Linux guest: {exc}") from None
