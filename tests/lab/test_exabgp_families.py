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
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.files import stop_process
from orchestrator.lab.frr import Frr
from orchestrator.lab.runner import missing_prerequisites
from orchestrator.lab.shell import in_netns, remove_namespace, run

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


class Pair:
    def __init__(self, work: Path) -> None:
        tag = f"{os.getpid() % 100000}"
        self.site, self.peer = f"scx{tag}s", f"scx{tag}p"
        self.work = work
        self.frr = Frr(self.peer, work / "frr")

    def up(self) -> None:
        for ns in (self.site, self.peer):
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "link", "add", "v0", "netns", self.site, "type", "veth",
             "peer", "name", "v1", "netns", self.peer])  # fmt: skip
        ends = [(self.site, "v0", "192.0.2.134/30", "2001:db8:ff::2/64"),
                (self.peer, "v1", "192.0.2.133/30", "2001:db8:ff::1/64")]  # fmt: skip
        for ns, dev, v4, v6 in ends:
            run(["ip", "-n", ns, "addr", "add", v4, "dev", dev])
            run(["ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        self.frr.prepare()
        self.frr.start(["zebra", "bgpd"])
        conf = self.work / "frr.conf"
        conf.write_text(FRR_CONF)
        self.frr.configure(conf)

    def down(self) -> None:
        for ns in (self.site, self.peer):
            remove_namespace(ns)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    work = Path(tempfile.mkdtemp(prefix="scrubctl-families-"))
    os.chmod(work, 0o755)  # FRR (user frr) needs to reach its run directory
    pairs = Pair(work)
    try:
        pairs.up()
        yield pairs
    finally:
        pairs.down()
        run(["rm", "-rf", str(work)], check=False)


def start_site(pair: Pair, families: str, tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
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
    pair: Pair, tmp_path: Path, families: str, warnings: list[str]
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
