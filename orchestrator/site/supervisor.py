"""``scrubctl site run SITE``: render ExaBGP's files, run it, keep it running.

ExaBGP runs the agent as its API process. If ExaBGP dies it is restarted after
a back-off (``RestartBackoff``: 1 s, doubling to 30 s only while ExaBGP dies
without getting a session up; the runner watches the store for the agent's
session records while ExaBGP runs); the agent it starts reconciles from an
empty adj-rib-out, so the full plan goes out again. SIGTERM/SIGINT stop
ExaBGP cleanly (it sends a NOTIFICATION; peers drop the routes) and mark the
site's sessions down so the planner fails over at once.

Next to ExaBGP runs the return-path loop (``site/returnpaths.py``) as its own
process, restarted with its own back-off when it dies and stopped on SIGTERM
(``return_paths=False``, ``site run --no-return-paths``: where another system
owns the kernel's routes).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from orchestrator.drivers.exabgp.config import render_config, render_env
from orchestrator.errors import InvalidInput, NotFound, ScrubError
from orchestrator.files import stop_process
from orchestrator.inventory import Inventory
from orchestrator.private_files import make_private_dirs, write_private_file
from orchestrator.service import observed
from orchestrator.service.common import record_event
from orchestrator.service.snapshot import load_inventory
from orchestrator.site.backoff import RestartBackoff
from orchestrator.site.loopproc import LoopProcess
from orchestrator.store.db import Database
from orchestrator.store.models import utcnow

log = logging.getLogger("scrubctl.site")
SESSION_POLL = 0.5  # seconds between looks at the store for an established session


def default_run_dir(site: str) -> Path:
    base = Path("/run/scrubctl") if os.geteuid() == 0 else Path.home() / ".local/state/scrubctl"
    return base / f"site-{site}"


def exabgp_binary() -> str:
    beside = Path(sys.executable).with_name("exabgp")
    found = str(beside) if beside.exists() else shutil.which("exabgp")
    if not found:
        raise ScrubError("exabgp is not installed (pip install 'exabgp>=5,<6')")
    return found


class SiteRunner:
    def __init__(
        self,
        db: Database,
        site: str,
        run_dir: Path,
        *,
        max_restarts: int | None = None,
        backoff: RestartBackoff | None = None,
        return_paths: bool = True,
    ):
        self.db = db
        self.site = site
        self.run_dir = run_dir
        self.max_restarts = max_restarts
        self.backoff = backoff or RestartBackoff()
        self.stopping = False
        self.process: subprocess.Popen[bytes] | None = None
        self.paths = LoopProcess(site, db.url) if return_paths else None

    def _inventory(self) -> Inventory:
        with self.db.read() as session:
            inv = load_inventory(session)
        if self.site not in inv.sites:
            known = ", ".join(sorted(inv.sites)) or "none"
            raise NotFound(f"unknown site {self.site!r} (known: {known})", where="SITE")
        return inv

    def config_text(self, *, show_secrets: bool = False) -> str:
        """ExaBGP's configuration exactly as ``run`` would write it, MD5 secrets shown
        as their references unless ``show_secrets``; writes nothing."""
        return render_config(self._inventory(), self.site, show_secrets=show_secrets)

    def prepare(self) -> tuple[Path, Path, list[str]]:
        inv = self._inventory()
        texts = render_config(inv, self.site), render_env(self.site)  # refused: nothing written
        try:
            make_private_dirs(self.run_dir)  # ours 0700; one that exists is left alone
        except OSError as exc:
            raise InvalidInput(f"cannot create {exc.filename}: {exc.strerror}",
                               where="--run-dir") from None  # fmt: skip
        conf, env = self.run_dir / "exabgp.conf", self.run_dir / "exabgp.env"
        for path, text in zip((conf, env), texts, strict=True):
            write_private_file(path, text)  # 0600 from the start: may hold MD5 secrets
        return conf, env, [p.name for p in inv.sites[self.site].peers]

    def _start(self, conf: Path, env: Path) -> subprocess.Popen[bytes]:
        environment = dict(os.environ, EXABGP_ENVFILE=str(env), SCRUBCTL_DB=self.db.url)
        return subprocess.Popen(
            [exabgp_binary(), "server", str(conf)],
            env=environment,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # our own process group: stopped together
        )

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def _event(self, action: str, reason: str) -> None:
        with self.db.write(bump=False) as session:
            record_event(session, at=utcnow(), actor="site-runner", action=action,
                         target=self.site, reason=reason)  # fmt: skip

    def run(self) -> int:
        conf, env, peers = self.prepare()
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        self._event("site.run", f"ExaBGP starting with {conf}")
        if self.paths is not None:
            self.paths.start(time.monotonic())
        try:
            return self._supervise(conf, env, peers)
        finally:
            if self.paths is not None:
                self.paths.stop()

    def _tend_paths(self) -> None:
        if self.paths is None:
            return
        note = self.paths.poll(time.monotonic())
        if note is not None:
            log.warning("%s", note)
            self._event("site.return_paths", note)

    def _supervise(self, conf: Path, env: Path, peers: list[str]) -> int:
        restarts = 0
        while not self.stopping:
            observed.mark_site_down(self.db, self.site, peers, "ExaBGP starting", utcnow())
            self.backoff.started(time.monotonic())
            self.process = self._start(conf, env)
            code = self._watch(self.process)
            if self.stopping:
                break
            restarts += 1
            delay = self.backoff.died(time.monotonic())
            reason = f"ExaBGP exited with code {code}"
            log.warning("%s; restarting in %.1f s", reason, delay)
            observed.mark_site_down(self.db, self.site, peers, reason, utcnow())
            self._event("site.exabgp_died", f"{reason}; restarting in {delay:.1f} s")
            if self.max_restarts is not None and restarts > self.max_restarts:
                return 1
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:
                self._tend_paths()
                time.sleep(min(0.1, delay))
        self._stop_process()
        observed.mark_site_down(self.db, self.site, peers, "site stopped", utcnow())
        self._event("site.stop", "stopped by signal")
        return 0

    def _watch(self, process: subprocess.Popen[bytes]) -> int:
        """Wait for ExaBGP to exit; meanwhile tell the back-off once a session is up."""
        established = False
        while True:
            try:
                code = process.wait(timeout=SESSION_POLL)
            except subprocess.TimeoutExpired:
                code = None
            self._tend_paths()
            # once more after the exit: a session recorded since the last look counts
            if not established and self._established():
                established = True
                self.backoff.established()
                log.info("a BGP session of site %s is established", self.site)
            if code is not None:
                return code

    def _established(self) -> bool:
        try:
            return observed.site_established(self.db, self.site)
        except (ScrubError, SQLAlchemyError) as exc:  # busy or gone: look again later
            log.warning("cannot read the session state: %s", exc)
            return False

    def _stop_process(self) -> None:
        if self.process is not None:
            stop_process(self.process, group=True)
