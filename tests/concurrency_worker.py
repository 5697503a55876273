"""One worker of tests/test_concurrency.py: a real process that waits for the start
signal, then runs scrubctl commands back to back against the shared database.

Usage: python concurrency_worker.py INDEX READY_FILE GO_FILE
Prints one line per command: ``rc=<exit code> <command>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from orchestrator.cli.main import app


def run(args: list[str]) -> int:
    try:
        app(args=args, prog_name="scrubctl")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def main() -> None:
    index, ready, go = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    customer, host = f"c{index}", f"198.18.{index}.7"
    commands = [
        ["divert", "start", customer, "-r", f"flood {index}"],
        ["rtbh", "add", host, "-r", f"forced {index}", "-e", "1h", "--force"],
        ["rtbh", "add", f"198.18.{index}.8", "-r", f"standby {index}", "-e", "1h"],
        ["divert", "stop", customer, "-r", f"calm {index}"],
    ]
    ready.touch()
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for command in commands:
        code = run(command)
        print(f"rc={code} {' '.join(command[:3])}", flush=True)


if __name__ == "__main__":
    main()
