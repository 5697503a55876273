"""GRE and ip6gre return paths on a real kernel with GRE (run inside user-mode Linux here).

The site, upstream and customer-edge namespaces and the hand-made peer come
from ``gre_support`` (its docstring has the picture).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ip_json, sh
from gre_support import GRE4, GRE6, PEER4, PEER6, Lab, build_lab, inventory, pings

from orchestrator.domain import Health
from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.mss import MssClamper, detect_backend

pytestmark = pytest.mark.uml
PROBE = Path(__file__).parent / "mss_probe.py"


@pytest.fixture
def lab(netns: Callable[[str], str]) -> Lab:
    return build_lab(netns)


def link_details(ns: str, name: str) -> dict[str, Any]:
    [link] = ip_json(ns, "-d", "link", "show", "dev", name)
    return link


def test_gre_tunnel_has_key_ttl_mtu_alias_and_address(lab: Lab) -> None:
    report, _ = lab.apply(inventory(GRE4))
    assert report.status("acme").health is Health.UNKNOWN, report
    link = link_details(lab.site, "scr-acme")
    data = link["linkinfo"]["info_data"]
    assert link["linkinfo"]["info_kind"] == "gre"
    assert (data["local"], data["remote"], data["ttl"]) == ("198.18.0.1", "198.18.0.2", 64)
    assert (data["ikey"], data["okey"]) == ("0.0.3.233", "0.0.3.233")  # 1001
    assert (link["mtu"], link["ifalias"]) == (1472, "scrubctl site=fra customer=acme")
    [entry] = ip_json(lab.site, "-4", "addr", "show", "dev", "scr-acme")
    [address] = entry["addr_info"]
    assert (address["local"], address["prefixlen"]) == ("192.0.2.161", 30)


def test_ip6gre_tunnel_has_hop_limit_and_mtu(lab: Lab) -> None:
    report, _ = lab.apply(inventory(GRE6))
    assert report.status("acme").health is Health.UNKNOWN, report
    link = link_details(lab.site, "scr-acme")
    data = link["linkinfo"]["info_data"]
    assert link["linkinfo"]["info_kind"] == "ip6gre"
    assert (data["local"], data["remote"], data["ttl"]) == (  # shown as "hoplimit 32"
        "2001:db8:f::1",
        "2001:db8:f::2",
        32,
    )
    assert link["mtu"] == 1456


@pytest.mark.parametrize(
    ("path", "peer", "peer_address"),
    [
        (GRE4, PEER4, "192.0.2.162/30"),
        (GRE6, PEER6, "2001:db8:ff00::2/64"),
    ],
    ids=["gre", "ip6gre"],
)
def test_ping_through_the_tunnel(
    lab: Lab, path: dict[str, Any], peer: list[str], peer_address: str
) -> None:
    lab.apply(inventory(path))
    lab.peer(peer, peer_address)
    assert pings(lab.site, peer_address.split("/")[0])


@pytest.mark.parametrize("target", ["203.0.113.1", "2001:db8:100::1"])
def test_upstream_traffic_for_the_customer_goes_through_the_tunnel(lab: Lab, target: str) -> None:
    lab.apply(inventory(GRE4))
    lab.peer(PEER4, "192.0.2.162/30")
    assert pings(lab.up, target)
    assert not pings(lab.site, target)  # the site's own traffic: main table, no route


def test_mtu_is_enforced_through_the_tunnel(lab: Lab) -> None:
    lab.apply(inventory(GRE4))
    lab.peer(PEER4, "192.0.2.162/30")
    assert pings(lab.site, "192.0.2.162", "-M", "do", "-s", str(1472 - 28))
    assert not pings(lab.site, "192.0.2.162", "-M", "do", "-s", str(1472 - 27))


def test_wrong_key_on_the_peer_carries_nothing(lab: Lab) -> None:
    lab.apply(inventory(GRE4))
    lab.peer([*PEER4[:-4], "key", "1002", "ttl", "64"], "192.0.2.162/30")
    assert not pings(lab.site, "192.0.2.162")


SERVER = textwrap.dedent(
    """
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("192.0.2.162", 7000)); s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept(); data = b""
    while len(data) < 100000:
        chunk = c.recv(65536)
        if not chunk: break
        data += chunk
    c.sendall(data[::-1]); c.close()
    """
)


def test_tcp_exchange_through_the_tunnel(lab: Lab) -> None:
    lab.apply(inventory(GRE4))
    lab.peer(PEER4, "192.0.2.162/30")
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.ce, sys.executable, "-c", SERVER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = textwrap.dedent(
            """
            import socket
            s = socket.create_connection(("192.0.2.162", 7000), timeout=10)
            payload = (bytes(range(256)) * 400)[:100000]
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                got += s.recv(65536)
            print("ok" if got == payload[::-1] else "different")
            """
        )
        done = sh("ip", "netns", "exec", lab.site, sys.executable, "-c", client)
        assert done.stdout.strip() == "ok"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_second_apply_makes_no_netlink_write(lab: Lab) -> None:
    lab.apply(inventory(GRE4))
    assert lab.apply(inventory(GRE4))[1] == 0
    lab.apply(inventory(GRE6))
    assert lab.apply(inventory(GRE6))[1] == 0


def test_changed_key_recreates_the_tunnel(lab: Lab) -> None:
    lab.apply(inventory(GRE4))
    _, writes = lab.apply(inventory(GRE4, key=7))
    assert writes == 6  # delete, create, alias, address, two routes
    assert link_details(lab.site, "scr-acme")["linkinfo"]["info_data"]["ikey"] == "0.0.0.7"
    assert lab.apply(inventory(GRE4, key=7))[1] == 0


def test_removed_path_removes_its_tunnel_and_nothing_else(lab: Lab) -> None:
    sh("ip", "-n", lab.site, "link", "add", "gre9", *PEER4[:2], "local", "198.18.0.1",
       "remote", "198.18.0.9")  # fmt: skip
    sh("ip", "-n", lab.site, "link", "add", "scr-other", *PEER4[:2], "local", "198.18.0.1",
       "remote", "198.18.0.8")  # fmt: skip
    lab.apply(inventory(GRE4))
    _, writes = lab.apply(inventory(None))
    names = {link["ifname"] for link in ip_json(lab.site, "link", "show")}
    assert "scr-acme" not in names
    assert {"gre9", "scr-other", "up0", "wan0"} <= names
    # the tunnel (its routes went with it) and the probes' rule per family (no path is
    # left to probe); the upstream rules stay: they are the site's
    assert writes == 3


def test_mss_clamp_on_the_tunnel_with_the_detected_backend(lab: Lab) -> None:
    """Inside UML nftables lacks the inet family: detection picks iptables-legacy there."""
    lab.apply(inventory(GRE4))
    lab.peer(PEER4, "192.0.2.162/30")
    probe = [sys.executable, str(PROBE)]

    def syn_mss_at_ce(port: int) -> int:
        args = ["4", "203.0.113.1", str(port)]
        server = subprocess.Popen(
            ["ip", "netns", "exec", lab.ce, *probe, "server", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            sh("ip", "netns", "exec", lab.up, *probe, "client", *args)
            return int(server.stdout.readline().strip())
        finally:
            server.kill()
            server.wait(timeout=10)

    assert syn_mss_at_ce(7001) == 1460
    backend = detect_backend(lab.site)
    tunnels = desired_state(inventory(GRE4), "fra").tunnels
    assert MssClamper("fra", backend, netns=lab.site).apply(tunnels)
    assert syn_mss_at_ce(7002) == 1432  # keyed GRE: MTU 1472 - 40
