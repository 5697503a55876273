"""A site and one real FRR peer outside the lab: two private namespaces joined by a
veth (``v0`` in the site's, ``v1`` in the peer's), FRR's zebra and bgpd in the
peer's with the module's configuration. For the modules that need a single
session, not the whole lab; removed again whatever happens."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.lab.frr import Frr
from orchestrator.lab.runner import missing_prerequisites
from orchestrator.lab.shell import remove_namespace, run


class PeerPair:
    def __init__(self, work: Path, tag: str, site_addresses: Sequence[str],
                 peer_addresses: Sequence[str], frr_conf: str) -> None:  # fmt: skip
        number = f"{os.getpid() % 100000}"
        self.site, self.peer = f"sc{tag}{number}s", f"sc{tag}{number}p"
        self.work = work
        self.frr = Frr(self.peer, work / "frr")
        self._ends = ((self.site, "v0", site_addresses), (self.peer, "v1", peer_addresses))
        self._frr_conf = frr_conf

    def up(self) -> None:
        for ns in (self.site, self.peer):
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "link", "add", "v0", "netns", self.site, "type", "veth",
             "peer", "name", "v1", "netns", self.peer])  # fmt: skip
        for ns, dev, addresses in self._ends:
            for address in addresses:
                nodad = ["nodad"] if ":" in address else []  # IPv6 usable at once
                run(["ip", "-n", ns, "addr", "add", address, "dev", dev, *nodad])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        self.frr.prepare()
        self.frr.start(["zebra", "bgpd"])
        conf = self.work / "frr.conf"
        conf.write_text(self._frr_conf)
        self.frr.configure(conf)

    def down(self) -> None:
        for ns in (self.site, self.peer):
            remove_namespace(ns)


@contextmanager
def peer_pair(tag: str, site_addresses: Sequence[str], peer_addresses: Sequence[str],
              frr_conf: str) -> Iterator[PeerPair]:  # fmt: skip
    """The pair, up; skipped with the reason where the lab's prerequisites are missing."""
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    work = Path(tempfile.mkdtemp(prefix=f"scrubctl-{tag}-"))
    os.chmod(work, 0o755)  # FRR (user frr) needs to reach its run directory
    pair = PeerPair(work, tag, site_addresses, peer_addresses, frr_conf)
    try:
        pair.up()
        yield pair
    finally:
        pair.down()
        run(["rm", "-rf", str(work)], check=False)
