"""TCP MSS clamp: golden renderings, and the clamp at work on a real kernel.

Real-kernel topology (namespaces we create)::

    client --c0-- router --scr-t1 (MTU 1400)-- server

The client and the server have 1500-byte links, so without the clamp both
offer MSS 1460 (1440 over IPv6); with it, the SYN arrives at the server and
the SYN-ACK at the client with 1360 (1340).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import sh
from netlink_support import inventory

from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.mss import (
    FilterBackend,
    MssClamper,
    clamps_for,
    render_iptables,
    render_nftables,
)
from orchestrator.drivers.netlink.state import Tunnel, TunnelParams

GOLDEN = Path(__file__).parent / "golden"
PROBE = Path(__file__).parent / "mss_probe.py"


def _tunnels() -> tuple[Tunnel, ...]:
    return desired_state(inventory(), "fra").tunnels


RENDERINGS: dict[str, Callable[[], str]] = {
    "mss_two_tunnels.nft": lambda: render_nftables("fra", clamps_for(_tunnels())),
    "mss_none.nft": lambda: render_nftables("fra", ()),
    "mss_two_tunnels.v4.rules": lambda: render_iptables("fra", clamps_for(_tunnels()), 4, True),
    "mss_two_tunnels.v6.rules": lambda: render_iptables("fra", clamps_for(_tunnels()), 6, True),
    "mss_jump_present.v4.rules": lambda: render_iptables("fra", clamps_for(_tunnels()), 4, False),
    "mss_none.v4.rules": lambda: render_iptables("fra", (), 4, False),
}


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_golden_rendering(name: str) -> None:
    got = RENDERINGS[name]()
    path = GOLDEN / name
    if os.environ.get("SCRUBCTL_REGOLD"):
        path.write_text(got)
    want = path.read_text()
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), name, "got"))
    assert got == want, diff


def test_clamp_values_follow_the_tunnel_mtu() -> None:
    [acme, gamma] = clamps_for(_tunnels())
    assert (acme.interface, acme.mss_v4, acme.mss_v6) == ("scr-acme", 1432, 1412)  # keyed: 1472
    assert (gamma.interface, gamma.mss_v4, gamma.mss_v6) == ("scr-gamma", 1416, 1396)  # 1456


# --- on a real kernel ---------------------------------------------------------

T1 = Tunnel(
    name="scr-t1",
    alias="scrubctl site=fra customer=t1",
    params=TunnelParams(
        "gre", ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2"), None, 64
    ),
    mtu=1400,
    address=ipaddress.ip_interface("10.2.0.1/24"),
)


@dataclass(frozen=True)
class Lab:
    client: str
    router: str
    server: str


def _link(
    a: str, a_if: str, b: str, b_if: str, a_addrs: tuple[str, str], b_addrs: tuple[str, str]
) -> None:
    sh("ip", "-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b)
    for ns, dev, addrs in ((a, a_if, a_addrs), (b, b_if, b_addrs)):
        for address in addrs:
            sh("ip", "-n", ns, "addr", "add", address, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")


@pytest.fixture
def lab(netns: Callable[[str], str]) -> Lab:
    client, router, server = netns("client"), netns("router"), netns("server")
    _link(
        client, "c0", router, "r0", ("10.1.0.2/24", "fd00:1::2/64"), ("10.1.0.1/24", "fd00:1::1/64")
    )
    _link(
        router,
        "scr-t1",
        server,
        "s0",
        ("10.2.0.1/24", "fd00:2::1/64"),
        ("10.2.0.2/24", "fd00:2::2/64"),
    )
    sh("ip", "-n", router, "link", "set", "scr-t1", "mtu", "1400")  # the lower-MTU path
    for ns, v4, v6 in ((client, "10.1.0.1", "fd00:1::1"), (server, "10.2.0.1", "fd00:2::1")):
        sh("ip", "-n", ns, "route", "add", "default", "via", v4)
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", v6)
    for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
        sh("ip", "netns", "exec", router, "sysctl", "-qw", key)
    return Lab(client, router, server)


def seen_mss(lab: Lab, family: int, port: int) -> tuple[int, int]:
    """(MSS of the SYN at the server, MSS of the SYN-ACK at the client)."""
    address = "10.2.0.2" if family == 4 else "fd00:2::2"
    probe = [sys.executable, str(PROBE)]
    args = [str(family), address, str(port)]
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.server, *probe, "server", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = sh("ip", "netns", "exec", lab.client, *probe, "client", *args)
        syn = server.stdout.readline().strip()
        assert server.wait(timeout=20) == 0
        return int(syn), int(client.stdout.strip())
    finally:
        server.kill()
        server.wait(timeout=10)


def backend_missing(backend: FilterBackend) -> str | None:
    tool = "nft" if backend is FilterBackend.NFTABLES else "iptables-legacy-restore"
    return None if shutil.which(tool) else f"{tool} is not installed"


BACKENDS = [
    pytest.param(FilterBackend.NFTABLES, id="nftables"),
    pytest.param(FilterBackend.IPTABLES_LEGACY, id="iptables-legacy"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("family", "unclamped", "clamped"), [(4, 1460, 1360), (6, 1440, 1340)])
def test_syn_mss_is_clamped_across_the_lower_mtu_path(
    lab: Lab, backend: FilterBackend, family: int, unclamped: int, clamped: int
) -> None:
    if reason := backend_missing(backend):
        pytest.skip(reason)
    assert seen_mss(lab, family, 7001) == (unclamped, unclamped)
    assert MssClamper("fra", backend, netns=lab.router).apply([T1])
    assert seen_mss(lab, family, 7002) == (clamped, clamped)


FOREIGN_NFT = """table inet other {
	chain c {
		type filter hook forward priority 0; policy accept;
		counter
	}
}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_clamp_replaces_only_its_own_table_or_chain(lab: Lab, backend: FilterBackend) -> None:
    if reason := backend_missing(backend):
        pytest.skip(reason)
    in_router = ["ip", "netns", "exec", lab.router]
    if backend is FilterBackend.NFTABLES:
        subprocess.run([*in_router, "nft", "-f", "-"], input=FOREIGN_NFT, text=True, check=True)
    else:
        sh(
            *in_router,
            "iptables-legacy",
            "-t",
            "mangle",
            "-A",
            "FORWARD",
            "-p",
            "udp",
            "-j",
            "ACCEPT",
        )
    clamper = MssClamper("fra", backend, netns=lab.router)
    assert clamper.apply([T1])
    assert not clamper.apply([T1])  # unchanged: nothing written
    assert MssClamper("fra", backend, netns=lab.router).apply([T1])  # a restarted site
    assert clamper.apply([])  # no tunnels left
    if backend is FilterBackend.NFTABLES:
        assert sh(*in_router, "nft", "list", "tables").stdout == "table inet other\n"
        assert "counter" in sh(*in_router, "nft", "list", "table", "inet", "other").stdout
    else:
        rules = sh(*in_router, "iptables-legacy-save", "-t", "mangle").stdout.splitlines()
        assert [r for r in rules if r.startswith("-A")] == [
            "-A FORWARD -p udp -j ACCEPT",
            "-A FORWARD -j SCRUBCTL_MSS",
        ]
