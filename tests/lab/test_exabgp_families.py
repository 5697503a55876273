"""ExaBGP as `scrubctl site run` starts it, against a real FRR peer: a clean start
logs no "not configured for" warning.

ExaBGP warns when the families of its OPEN and the peer's differ. FRR (like IOS)
activates IPv4 unicast on every neighbor by default (`bgp default ipv4-unicast`),
an IPv6 session included; the inventory's `families` says so, and the rendered
configuration then offers the same. Two private namespaces joined by a veth, FRR
in one, the site in the other; both removed again whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peer_pair import PeerPair, peer_pair

from orchestrator.files import stop_process
from orchestrator.lab.shell import in_netns, run

pytestmark = pytest.mark.lab

FRR_CONF = """\
frr defaults traditional
route-map ANY permit 10
exit
router bgp 64501
 bgp router-id 192.0.2.133
 neighbor 192.0.2.134 remote-as 64500
 neighbor 192.0.2.134 timers connect 1
 neighbor 2001:db8:ff::2 remote-as 64500
 neighbor 2001:db8:ff::2 timers connect 1
 address-family ipv4 unicast
  neighbor 192.0.2.134 route-map ANY in
  neighbor 192.0.2.134 route-map ANY out
  neighbor 2001:db8:ff::2 route-map ANY in
  neighbor 2001:db8:ff::2 route-map ANY out
 exit-address-family
 address-family ipv6 unicast
  neighbor 2001:db8:ff::2 activate
  neighbor 2001:db8:ff::2 route-map ANY in
  neighbor 2001:db8:ff::2 route-map ANY out
 exit-address-family
exit
"""

INVENTORY = """\
policy: {{asn: 64500, allow_reserved_prefixes: true}}
sites:
  x:
    router_id: 192.0.2.134
    peers:
      - {{name: t4, address: 192.0.2.133, local_address: 192.0.2.134, asn: 64501}}
      - {{name: t6, address: "2001:db8:ff::1", local_address: "2001:db8:ff::2", asn: 64501
         {families}}}
"""


@pytest.fixture(scope="module")
def pair() -> Iterator[PeerPair]:
    with peer_pair("x", ["192.0.2.134/30", "2001:db8:ff::2/64"],
                   ["192.0.2.133/30", "2001:db8:ff::1/64"], FRR_CONF) as made:  # fmt: skip
        yield made


def start_site(pair: PeerPair, families: str, tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    inventory, log = tmp / "inventory.yml", tmp / "site.log"
    inventory.write_text(INVENTORY.format(families=families))
    scrubctl = [sys.executable, "-m", "orchestrator"]
    env = dict(os.environ, SCRUBCTL_DB=str(tmp / "site.db"), PYTHONUNBUFFERED="1")
    run([*scrubctl, "inventory", "apply", str(inventory)], env=env)
    with log.open("ab") as out:
        process = subprocess.Popen(
            in_netns(pair.site, [*scrubctl, "site", "run", "x", "--run-dir", str(tmp / "run")]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    return process, log


@pytest.mark.parametrize(
    ("families", "warnings"),
    [
        (", families: [ipv6, ipv4]", []),  # as the peer offers: a clean start
        ("", ["exabgp is not configured for ipv4/unicast"]),  # shows the check can fail
    ],
    ids=["declared", "undeclared"],
)
def test_exabgp_warns_only_when_families_differ_from_the_peers(
    pair: PeerPair, tmp_path: Path, families: str, warnings: list[str]
) -> None:
    process, log = start_site(pair, families, tmp_path)
    try:
        deadline = time.monotonic() + 45
        text = ""
        while not ("peer t4 (192.0.2.133) up" in text and "peer t6 (2001:db8:ff::1) up" in text):
            assert time.monotonic() < deadline, f"sessions did not come up:\n{text}"
            assert process.poll() is None, f"site run exited:\n{text}"
            time.sleep(0.2)
            text = log.read_text(errors="replace")
    finally:
        process.send_signal(signal.SIGTERM)
        stop_process(process)
    found = [line.split(" - ", 1)[-1] for line in text.splitlines() if "not configured" in line]
    assert found == warnings, text
