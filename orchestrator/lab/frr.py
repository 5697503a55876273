"""FRR inside one lab namespace: private daemons, vty sockets and config.

Daemons run from ``/usr/lib/frr/`` under ``ip netns exec`` with every path
pointed into the node's run directory (``-i`` pidfile, ``-z`` zserv socket,
``--vty_socket``), no TCP vty (``-P 0``) and an empty startup config; the
node's ``frr.conf`` is then pushed with ``vtysh -f``. They run as the ``frr``
user (FRR's default: root is not in the ``frrvty`` group), so the run
directory belongs to ``frr``. Nothing under ``/etc/frr`` is read or changed.
Each daemon gets its own UTS namespace named after the node: FRR takes its
hostname from there, as in a containerlab container (vtysh's ``hostname``
command only renames vtysh's prompt).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.lab.shell import LabError, alive, in_netns, read_pidfile, run

FRR_DIR = Path("/usr/lib/frr")
FRR_USER = "frr"


def installed() -> bool:
    return (FRR_DIR / "bgpd").exists() and shutil.which("vtysh") is not None


class Frr:
    def __init__(self, namespace: str, run_dir: Path, hostname: str = "") -> None:
        self.namespace = namespace
        self.run_dir = run_dir
        self.hostname = hostname

    @property
    def zserv(self) -> Path:
        return self.run_dir / "zserv.api"

    def pidfile(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.pid"

    def vty_socket(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.vty"

    def vtysh_argv(self) -> list[str]:
        return ["vtysh", "--vty_socket", str(self.run_dir)]

    def prepare(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.run_dir, FRR_USER, FRR_USER)

    def start(self, daemons: Sequence[str], timeout: float = 10.0) -> None:
        """Start ``daemons`` (zebra first) and wait for each one's vty socket."""
        for daemon in daemons:
            argv = [
                str(FRR_DIR / daemon), "-d", "-f", "/dev/null",
                "-i", str(self.pidfile(daemon)), "-z", str(self.zserv),
                "--vty_socket", str(self.run_dir), "-P", "0",
                "--log", f"file:{self.run_dir / daemon}.log",
            ]  # fmt: skip
            if self.hostname:  # as in a container: the daemons see the node's name
                argv = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"',
                        self.hostname, *argv]  # fmt: skip
            run(in_netns(self.namespace, argv), timeout=timeout)
            self._wait_ready(daemon, timeout)

    def _wait_ready(self, daemon: str, timeout: float) -> None:
        needed = [self.vty_socket(daemon), self.pidfile(daemon)]
        if daemon == "zebra":
            needed.append(self.zserv)
        deadline = time.monotonic() + timeout
        while not all(p.exists() for p in needed):
            if time.monotonic() > deadline:
                raise LabError(
                    f"{self.namespace}: {daemon} did not come up within {timeout:.0f} s",
                    hint=f"see {self.run_dir / daemon}.log",
                )
            time.sleep(0.02)

    def configure(self, conf: Path) -> None:
        """Push ``conf`` to the running daemons; any rejected line is an error."""
        done = run([*self.vtysh_argv(), "-f", str(conf)], check=False, timeout=30)
        rejected = [
            line.strip()
            for line in (done.stdout + done.stderr).splitlines()
            if line.lstrip().startswith("%") or ("line " in line and "Error" in line)
        ]
        if done.returncode != 0 or rejected:
            detail = "; ".join(rejected[:3]) or f"vtysh exit code {done.returncode}"
            raise LabError(f"{self.namespace}: FRR rejected {conf}: {detail}")

    def vtysh(self, *commands: str, timeout: float = 10.0) -> str:
        argv = self.vtysh_argv()
        for command in commands:
            argv += ["-c", command]
        return run(argv, timeout=timeout).stdout

    def vtysh_json(self, command: str, timeout: float = 10.0) -> Any:
        text = self.vtysh(command, timeout=timeout)
        try:
            return json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            raise LabError(f"{self.namespace}: `{command}` did not return JSON") from None

    def pids(self, daemons: Sequence[str]) -> dict[str, int | None]:
        """Each daemon's pid if it is running, else None."""
        out: dict[str, int | None] = {}
        for daemon in daemons:
            pid = read_pidfile(self.pidfile(daemon))
            out[daemon] = pid if pid is not None and alive(pid) else None
        return out
