"""Run inside a namespace: report the MSS option of the SYN (server) or SYN-ACK (client) seen.

    python mss_probe.py server FAMILY ADDRESS PORT   # listen; print the SYN's MSS
    python mss_probe.py client FAMILY ADDRESS PORT   # connect; print the SYN-ACK's MSS

A raw TCP socket sees every TCP segment the namespace receives, after the
forwarding path (and its clamp) has done its work. The server prints
``ready`` once it listens, so the caller knows when to connect.
"""

from __future__ import annotations

import socket
import struct
import sys

SYN, ACK = 0x02, 0x10


def mss_option(segment: bytes) -> int | None:
    offset = (segment[12] >> 4) * 4
    options, i = segment[20:offset], 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        length = options[i + 1]
        if kind == 2 and length == 4:
            return int(struct.unpack("!H", options[i + 2 : i + 4])[0])
        i += max(length, 2)
    return None


def watch(raw: socket.socket, family: int, port: int, want: int) -> int | None:
    """The MSS of the first segment with exactly SYN (+ ACK if wanted) for ``port``."""
    while True:
        data = raw.recv(65535)
        segment = data[(data[0] & 0x0F) * 4 :] if family == 4 else data
        sport, dport = struct.unpack("!HH", segment[:4])
        flags = segment[13] & (SYN | ACK)
        if flags == want and (sport if want & ACK else dport) == port:
            return mss_option(segment)


def main(role: str, version: str, address: str, port_text: str) -> None:
    family, port = int(version), int(port_text)
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    raw = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_TCP)
    raw.settimeout(15)
    if role == "server":
        listener = socket.socket(af, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(1)
        print("ready", flush=True)
        print(watch(raw, family, port, SYN), flush=True)
        listener.settimeout(15)
        listener.accept()[0].close()
    else:
        client = socket.socket(af, socket.SOCK_STREAM)
        client.settimeout(15)
        client.connect((address, port))
        print(watch(raw, family, port, SYN | ACK), flush=True)
        client.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
