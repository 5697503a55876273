"""A real ``scrubctl serve`` process on a free loopback port, for tests that need the
service as a detector or a script meets it (``tests/test_api_cli.py``, the lab)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.lab.demo_dashboard import wait_answering

SCRUBCTL = Path(sys.executable).parent / "scrubctl"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_service(db_url: str, workdir: Path) -> Iterator[str]:
    """``scrubctl serve`` on ``db_url``; yields its base URL once it answers, stops it
    afterwards (its output is in ``workdir/serve.log``, shown if it never answers)."""
    port = free_port()
    log_path = workdir / "serve.log"
    env = {**os.environ, "SCRUBCTL_DB": db_url}
    with log_path.open("w") as log:
        server = subprocess.Popen([str(SCRUBCTL), "serve", "--listen", f"127.0.0.1:{port}"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_answering(f"{url}/openapi.json", server, START_TIMEOUT):
                raise AssertionError(log_path.read_text())
            yield url
        finally:
            server.terminate()
            server.wait(timeout=20)
