"""The dashboard during the demo: ``scrubctl serve`` on the demo's database.

Started once the inventory is applied, so a newcomer can open the printed
address and watch the demo's moves as they happen (pages update themselves),
and left running with ``--keep``. Login uses an operator token made for the
demo (12 hours), printed with the address: the dashboard's own actions
(drain, failover, ...) then work too. On a loopback address the service
speaks plain HTTP as always; on the link between this host and a user-mode
Linux guest (``lab.guestlink``: link-local, nothing routed beyond it) it is
started with ``--insecure`` for the same reason.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.cli.serve import parse_listen
from orchestrator.lab.shell import LabError
from orchestrator.lab.sites import scrubctl_argv
from orchestrator.service import tokens
from orchestrator.store.db import Database

TOKEN_NAME = "demo-operator"
TOKEN_LIFETIME = timedelta(hours=12)
START_TIMEOUT = 180.0  # the service's start-up in a slow guest (FastAPI's imports)


@dataclass
class DemoDashboard:
    url: str  # http://ADDR:PORT
    secret: str  # the operator token
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str) -> Any:
        """GET ``/api/v1/<path>`` with the demo's token: the JSON answer."""
        headers = {"Authorization": f"Bearer {self.secret}"}
        request = urllib.request.Request(f"{self.url}/api/v1/{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_dashboard(listen: str, db_url: str, workdir: Path,
                    say: Callable[[str], None]) -> DemoDashboard:  # fmt: skip
    """``scrubctl serve --listen LISTEN`` on ``db_url``, answering; LabError if it never
    does (with the end of its log)."""
    address = parse_listen(listen, where="--dashboard")
    db = Database(db_url)
    try:
        created = tokens.create(db, TOKEN_NAME, tokens.Role.OPERATOR, expires=TOKEN_LIFETIME,
                                actor="demo", now=datetime.now(UTC))  # fmt: skip
    finally:
        db.dispose()
    argv = scrubctl_argv("serve", "--listen", listen, "--db", db_url)
    if not address.loopback:
        argv.append("--insecure")
    log = workdir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    host = f"[{address.host}]" if ":" in address.host else address.host
    dashboard = DemoDashboard(f"http://{host}:{address.port}", created.secret, process, log)
    if not wait_answering(f"{dashboard.url}/login", process, START_TIMEOUT):
        dashboard.stop()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
        raise LabError(f"the dashboard did not answer at {dashboard.url}: {tail}")
    say(f"dashboard: {dashboard.url}/ (log in with the operator token {created.secret}; "
        "it shows this demo as it runs)")  # fmt: skip
    return dashboard


def wait_answering(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once a GET of ``url`` (a ``scrubctl serve`` just started) is answered;
    False when ``process`` ends first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.2)
