"""The return-path loop's process, as the site supervisor runs it.

Started next to ExaBGP (``python -m orchestrator.site.returnpaths SITE``,
``SCRUBCTL_DB`` in its environment), restarted after a back-off
(``RestartBackoff``: a loop that keeps dying waits longer, one that ran a
minute restarts after 1 s) and stopped with SIGTERM (it leaves the kernel
objects in place; see ``site/returnpaths.py``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence

from orchestrator.files import stop_process
from orchestrator.site.backoff import RestartBackoff

log = logging.getLogger("scrubctl.site")


class LoopProcess:
    def __init__(
        self,
        site: str,
        db_url: str,
        *,
        args: Sequence[str] = (),
        backoff: RestartBackoff | None = None,
    ) -> None:
        self.site, self.db_url, self.args = site, db_url, tuple(args)
        self.backoff = backoff or RestartBackoff()
        self.process: subprocess.Popen[bytes] | None = None
        self.restart_at: float | None = None
        self.deaths = 0

    def start(self, now: float) -> None:
        argv = [sys.executable, "-m", "orchestrator.site.returnpaths", self.site, *self.args]
        self.process = subprocess.Popen(
            argv, env=dict(os.environ, SCRUBCTL_DB=self.db_url), stdin=subprocess.DEVNULL
        )
        self.backoff.started(now)
        self.restart_at = None

    def poll(self, now: float) -> str | None:
        """Restart the loop if it died and its back-off has passed; say what happened."""
        if self.process is not None and self.restart_at is None:
            code = self.process.poll()
            if code is None:
                return None
            self.deaths += 1
            delay = self.backoff.died(now)
            self.restart_at = now + delay
            return f"return-path loop exited with code {code}; restarting in {delay:.1f} s"
        if self.restart_at is not None and now >= self.restart_at:
            self.start(now)
            return "return-path loop restarted"
        return None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, group=False)
