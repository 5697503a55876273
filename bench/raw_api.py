"""The raw ExaBGP baseline's API process (run by ExaBGP, standard library only).

Waits for a line on ``--fifo`` (the benchmark's start signal; its sessions are
Established by then), then writes the commands of ``--commands`` to ExaBGP one
by one, each after the previous one's ``done``/``error`` ack, exactly as the
scrubctl agent does, and writes its timings (monotonic clock, which is shared
by all processes on the machine) to ``--result``. Then it stays alive until
ExaBGP goes away, so that ExaBGP keeps the routes and does not respawn it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def ack(stdin: object) -> bool:
    """Read ExaBGP's lines until an ack; skip JSON events."""
    assert hasattr(stdin, "readline")
    while True:
        line = stdin.readline()
        if not line:
            raise EOFError("ExaBGP closed the API pipe")
        text = line.strip()
        if text in ("done", "error"):
            return text == "done"
        if text == "shutdown":
            raise EOFError("ExaBGP is shutting down")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fifo", required=True)
    parser.add_argument("--commands", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    with open(args.commands, encoding="ascii") as f:
        commands = [line.rstrip("\n") for line in f if line.strip()]
    with open(args.fifo, encoding="ascii") as go:  # blocks until the benchmark opens it
        go.readline()
    started = time.monotonic()
    errors = 0
    first_ack = 0.0
    for i, command in enumerate(commands):
        sys.stdout.write(command + "\n")
        sys.stdout.flush()
        if not ack(sys.stdin):
            errors += 1
        if i == 0:
            first_ack = time.monotonic()
    result = {
        "started": started,
        "first_ack": first_ack,
        "last_ack": time.monotonic(),
        "commands": len(commands),
        "errors": errors,
    }
    tmp = args.result + ".tmp"
    with open(tmp, "w", encoding="ascii") as out:
        json.dump(result, out)
    os.replace(tmp, args.result)
    while sys.stdin.readline():  # until ExaBGP exits
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
