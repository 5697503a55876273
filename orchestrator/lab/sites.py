"""Run ``scrubctl site run SITE`` inside the lab's scrubbing-site nodes.

Each site's runner lives in the namespace of the lab node with the site's
name (``fra``, ``ams``); all of them share one database file. Used by the lab
tests, the demo and the benchmarks; ``lab down`` would kill them anyway, but
``stop_all`` ends them cleanly first (SIGTERM: ExaBGP says goodbye to its peers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from orchestrator.files import stop_process
from orchestrator.lab.shell import in_netns, namespace_pids
from orchestrator.lab.topology import Topology

# The lab's one TCP MD5 secret (fra <-> transit1): lab/transit1/frr.conf holds it
# in clear, as routers do; lab/inventory.yml only names this variable.
LAB_SECRETS = {"SCRUBCTL_LAB_MD5": "scrub-lab-md5"}


def scrubctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator", *args]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class LabSites:
    def __init__(self, topology: Topology, db_url: str, workdir: Path) -> None:
        self.topology = topology
        self.db_url = db_url
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, site: str) -> Path:
        return self.workdir / f"site-{site}.log"

    def start(self, site: str) -> None:
        namespace = self.topology.namespace(site)
        argv = scrubctl_argv("site", "run", site, "--db", self.db_url,
                             "--run-dir", str(self.workdir / f"run-{site}"))  # fmt: skip
        log = self.log_path(site).open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **LAB_SECRETS)
        self.processes[site] = subprocess.Popen(
            in_netns(namespace, argv), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        log.close()

    def stop(self, site: str, timeout: float = 15.0) -> None:
        process = self.processes.pop(site, None)
        if process is None:
            return
        stop_process(process, timeout)
        self.kill_matching(site, "orchestrator", signal.SIGKILL)  # nothing may outlive it

    def stop_all(self) -> None:
        for site in list(self.processes):
            self.stop(site)

    def pids_matching(self, site: str, needle: str) -> list[int]:
        """Processes in the site's namespace whose command line contains ``needle``."""
        namespace = self.topology.namespace(site)
        return [p for p in namespace_pids(namespace) if needle in cmdline(p)]

    def kill_matching(self, site: str, needle: str, sig: int = signal.SIGKILL) -> list[int]:
        pids = self.pids_matching(site, needle)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pids

    def log_tail(self, site: str, lines: int = 30) -> str:
        try:
            text = self.log_path(site).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
