"""Traffic processes that run INSIDE a lab namespace (started by ``traffic``).

``serve``  a tiny HTTP server (one line of text per request), stops after --lifetime;
``get``    bounded HTTP requests, prints {"sent", "ok", "failed", "elapsed"};
``flood``  a rate-limited UDP stream from a fixed source port (NTP-amplification
           shaped: source port 123, large payloads), prints {"sent", "errors", "elapsed"}.

Every command refuses to run unless it sits in the lab namespace named by
``--namespace`` (a ``clab-*`` namespace), so lab traffic never leaves the lab.
Standard library only: it starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time

MAX_SECONDS = 3600.0


def _in_lab_namespace(namespace: str) -> bool:
    """True when this process runs in the lab namespace ``namespace`` (clab-*)."""
    if not namespace.startswith("clab-") or "/" in namespace:
        return False
    try:
        mine = os.stat("/proc/self/ns/net")
        lab = os.stat(f"/run/netns/{namespace}")
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (lab.st_dev, lab.st_ino)


def serve(bind: str, port: int, lifetime: float) -> dict[str, float]:
    deadline = time.monotonic() + lifetime
    served = 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((bind, port))
        listener.listen(64)
        listener.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                    served += 1
                except OSError:
                    pass
    return {"served": served}


def _one_request(target: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((target, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(f"GET / HTTP/1.0\r\nHost: {target}\r\n\r\n".encode())
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.0 200")


def get(target: str, port: int, count: int, interval: float, timeout: float,
        max_seconds: float) -> dict[str, float]:  # fmt: skip
    """Requests one after the other; SIGTERM ends the stream after the current one
    (the result is still printed: a stream that runs until the caller says stop)."""
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    start = time.monotonic()
    sent = ok = 0
    while sent < count and time.monotonic() - start < max_seconds and not stopping:
        sent += 1
        ok += _one_request(target, port, timeout)
        time.sleep(interval)
    return {"sent": sent, "ok": ok, "failed": sent - ok, "elapsed": time.monotonic() - start}


def flood(target: str, port: int, sport: int, size: int, count: int, rate: float,
          max_seconds: float) -> dict[str, float]:  # fmt: skip
    payload = bytes(size)
    start = time.monotonic()
    sent = errors = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", sport))
        while sent + errors < count:
            now = time.monotonic()
            if now - start >= max_seconds:
                break
            due = start + (sent + errors) / rate
            if due > now:
                time.sleep(due - now)
            try:
                sock.sendto(payload, (target, port))
                sent += 1
            except OSError:
                errors += 1
    return {"sent": sent, "errors": errors, "elapsed": time.monotonic() - start}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.lab.worker")
    parser.add_argument("--namespace", required=True, help="the lab namespace it must run in")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lifetime", type=float, default=MAX_SECONDS)
    p = sub.add_parser("get")
    p.add_argument("--target", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p = sub.add_parser("flood")
    p.add_argument("--target", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sport", type=int, default=123)
    p.add_argument("--size", type=int, default=1200)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--max-seconds", type=float, default=60.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not _in_lab_namespace(args.namespace):
        sys.stderr.write(f"worker: not inside lab namespace {args.namespace}; refusing\n")
        return 2
    if args.command == "serve":
        result = serve(args.bind, args.port, min(args.lifetime, MAX_SECONDS))
    elif args.command == "get":
        result = get(args.target, args.port, args.count, args.interval, args.timeout,
                     min(args.max_seconds, MAX_SECONDS))  # fmt: skip
    else:
        result = flood(args.target, args.port, args.sport, args.size, args.count, args.rate,
                       min(args.max_seconds, MAX_SECONDS))  # fmt: skip
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
