"""Kernel GRE between two network namespaces, built with pyroute2.

Marked ``uml``: on a kernel without GRE (this machine's, CI's) these run inside
a user-mode Linux guest (``tests/uml_support.py``); on a GRE-capable host, as
root, they run directly and remove their namespaces afterwards.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pyroute2 import IPRoute, netns

pytestmark = pytest.mark.uml

PORT = 8179
GRE_KEY = 0x2000  # the key-present flag of a GRE header


@dataclass(frozen=True)
class Tunnel:
    name: str  # the same on both ends
    kind: str  # gre or ip6gre
    underlay: tuple[str, str]  # outer addresses of a and b (on the veth pair)
    inner: tuple[str, str]  # tunnel addresses of a and b, a /30
    mtu: int
    keys: tuple[int, int] | None = None  # a's and b's key


GRE = Tunnel("gre-plain", "gre", ("198.51.100.1", "198.51.100.2"), ("192.0.2.1", "192.0.2.2"), 1476)
KEYED = Tunnel(
    "gre-keyed", "gre", ("198.51.100.5", "198.51.100.6"), ("192.0.2.5", "192.0.2.6"), 1472, (42, 42)
)
IP6GRE = Tunnel(
    "gre6-keyed",
    "ip6gre",
    ("2001:db8::1", "2001:db8::2"),
    ("192.0.2.9", "192.0.2.10"),
    1452,
    (7, 7),
)
MISKEYED = Tunnel(
    "gre-miskeyed", "gre", ("198.51.100.9", "198.51.100.10"), ("192.0.2.13", "192.0.2.14"), 1472,
    (43, 44),
)  # fmt: skip
TUNNELS = [pytest.param(t, id=t.name) for t in (GRE, KEYED, IP6GRE)]
CLAMP = 1300  # iptables-legacy clamps SYNs into KEYED to this MSS


@dataclass(frozen=True)
class Pair:
    a: str  # namespace names
    b: str
    netlink: tuple[IPRoute, IPRoute]  # open in a and in b, for the whole module


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    """Two fresh namespaces joined by a veth pair, every tunnel above between them.

    Built once for the module: in UML each namespace, netlink socket and fork
    costs a fraction of a second. Removed again even when building fails.
    """
    token = uuid.uuid4().hex[:8]
    a, b = f"ugre-a-{token}", f"ugre-b-{token}"
    try:
        netns.create(a)
        netns.create(b)
        with IPRoute(netns=a) as ipa, IPRoute(netns=b) as ipb:
            ipa.link("add", ifname="veth-a", kind="veth", peer="veth-b")
            ipa.link("set", index=ipa.link_lookup(ifname="veth-b")[0], net_ns_fd=b)
            for i, ipr in enumerate((ipa, ipb)):
                _underlay(ipr, ("veth-a", "veth-b")[i], i)
                for tunnel in (GRE, KEYED, IP6GRE, MISKEYED):
                    _add_tunnel(ipr, tunnel, i)
            _clamp(a, KEYED, CLAMP)
            yield Pair(a, b, (ipa, ipb))
    finally:
        for ns in (a, b):
            if ns in netns.listnetns():
                netns.remove(ns)


def _underlay(ipr: IPRoute, veth: str, side: int) -> None:
    i = ipr.link_lookup(ifname=veth)[0]
    for tunnel in (GRE, KEYED, IP6GRE, MISKEYED):
        address = tunnel.underlay[side]
        v6 = ":" in address
        flags = {"flags": 0x02} if v6 else {}  # IFA_F_NODAD: usable at once
        ipr.addr("add", index=i, address=address, prefixlen=64 if v6 else 30, **flags)
    ipr.link("set", index=i, state="up")
    ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


def _add_tunnel(ipr: IPRoute, tunnel: Tunnel, side: int) -> None:
    p = tunnel.kind + "_"
    local, remote = tunnel.underlay[side], tunnel.underlay[1 - side]
    spec: dict[str, object] = {p + "local": local, p + "remote": remote, p + "ttl": 64}
    if tunnel.keys is not None:
        # GRE_KEY: pyroute2 0.9 encodes gre_*flags big-endian, ip6gre_*flags in host order
        flags = GRE_KEY if tunnel.kind == "gre" else socket.htons(GRE_KEY)
        key = tunnel.keys[side]
        spec |= {p + "ikey": key, p + "okey": key, p + "iflags": flags, p + "oflags": flags}
    ipr.link("add", ifname=tunnel.name, kind=tunnel.kind, **spec)
    i = ipr.link_lookup(ifname=tunnel.name)[0]
    ipr.link("set", index=i, mtu=tunnel.mtu, state="up")
    ipr.addr("add", index=i, address=tunnel.inner[side], prefixlen=30)


def _clamp(ns: str, tunnel: Tunnel, mss: int) -> None:
    """An iptables-legacy TCPMSS rule on SYNs leaving ``ns`` through ``tunnel``."""
    if shutil.which("iptables-legacy") is None:
        return  # test_iptables_legacy_clamps_the_syn_mss skips with the reason
    rule = ["-t", "mangle", "-A", "POSTROUTING", "-o", tunnel.name, "-p", "tcp"]
    rule += ["--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS", "--set-mss", str(mss)]
    argv = ["ip", "netns", "exec", ns, "iptables-legacy", *rule]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def tunnel_link(ipr: IPRoute, tunnel: Tunnel) -> tuple[str, int, int | None]:
    """Kind, MTU and input key of the tunnel as the kernel reports it."""
    link = ipr.link("get", index=ipr.link_lookup(ifname=tunnel.name)[0])[0]
    info = link.get("IFLA_LINKINFO")
    data = info.get("IFLA_INFO_DATA")
    key = data.get("IFLA_GRE_IKEY") or data.get("IFLA_IP6GRE_IKEY")
    return info.get("IFLA_INFO_KIND"), link.get("IFLA_MTU"), key or None


def ping(ns: str, address: str) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", address]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def tcp_echo(pair: Pair, address: str, payload: bytes) -> bytes:
    """Send ``payload`` from a to ``address`` in b; b echoes it back."""
    server = netns.create_socket(pair.b, socket.AF_INET, socket.SOCK_STREAM)
    client = netns.create_socket(pair.a, socket.AF_INET, socket.SOCK_STREAM)
    with server, client:
        server.bind((address, PORT))
        server.listen(1)
        client.settimeout(10)
        server.settimeout(10)
        client.connect((address, PORT))
        conn, _ = server.accept()
        with conn:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            got = _read_all(conn)
            conn.sendall(got)
        return _read_all(client)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("tunnel", TUNNELS)
@pytest.mark.parametrize("side", [0, 1], ids=["a", "b"])
def test_tunnel_has_the_kind_key_and_mtu_set(pair: Pair, tunnel: Tunnel, side: int) -> None:
    key = tunnel.keys[side] if tunnel.keys else None
    assert tunnel_link(pair.netlink[side], tunnel) == (tunnel.kind, tunnel.mtu, key)


@pytest.mark.parametrize("tunnel", TUNNELS)
def test_ping_crosses_the_tunnel(pair: Pair, tunnel: Tunnel) -> None:
    done = ping(pair.a, tunnel.inner[1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 3 received" in done.stdout


@pytest.mark.parametrize("tunnel", TUNNELS)
def test_tcp_exchange_crosses_the_tunnel(pair: Pair, tunnel: Tunnel) -> None:
    payload = bytes(range(256)) * 200  # 51,200 bytes: many full-sized segments
    assert tcp_echo(pair, tunnel.inner[1], payload) == payload


def test_a_mismatched_key_carries_nothing(pair: Pair) -> None:
    done = ping(pair.a, MISKEYED.inner[1])
    assert done.returncode != 0, done.stdout
    assert " 0 received" in done.stdout


def syn_mss(pair: Pair, tunnel: Tunnel) -> int:
    """The MSS option of a SYN from a, as captured on b's end of ``tunnel``."""
    eth_p_all = socket.htons(0x0003)
    capture = netns.create_socket(pair.b, socket.AF_PACKET, socket.SOCK_DGRAM, eth_p_all)
    listener = netns.create_socket(pair.b, socket.AF_INET, socket.SOCK_STREAM)
    client = netns.create_socket(pair.a, socket.AF_INET, socket.SOCK_STREAM)
    with capture, listener, client:
        capture.bind((tunnel.name, 0))
        capture.settimeout(10)
        listener.bind((tunnel.inner[1], PORT))
        listener.listen(1)
        client.settimeout(10)
        client.connect((tunnel.inner[1], PORT))
        while True:
            mss = _mss_of_syn(capture.recv(2048))
            if mss is not None:
                return mss


def _mss_of_syn(packet: bytes) -> int | None:
    """The MSS option of an IPv4 TCP SYN to PORT, or None for any other packet."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_TCP:
        return None
    tcp = packet[(packet[0] & 0x0F) * 4 :]
    dport, flags = struct.unpack("!H", tcp[2:4])[0], tcp[13]
    if dport != PORT or flags & 0x12 != 0x02:  # SYN without ACK
        return None
    options = tcp[20 : (tcp[12] >> 4) * 4]
    i = 0
    while i < len(options) and options[i] != 0:
        if options[i] == 1:  # NOP
            i += 1
        elif options[i] == 2:  # MSS
            return int(struct.unpack("!H", options[i + 2 : i + 4])[0])
        else:
            i += options[i + 1]
    return None


@pytest.mark.parametrize(
    ("tunnel", "expected"),
    [
        pytest.param(GRE, GRE.mtu - 40, id="unclamped"),
        pytest.param(KEYED, CLAMP, id="clamped-by-iptables-legacy"),
    ],
)
def test_iptables_legacy_clamps_the_syn_mss(pair: Pair, tunnel: Tunnel, expected: int) -> None:
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed (Debian iptables; scripts/bootstrap.sh)")
    assert syn_mss(pair, tunnel) == expected
