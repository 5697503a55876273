"""The lab's packet filters (scrubbing stand-in and counters) on either backend.

The lab's filters are written for nftables (``lab/<node>/*.nft``). Where the
kernel's nftables lacks the ip/inet families (Debian's user-mode Linux has only
``bridge``), every such file has an ``iptables-legacy`` twin with the same
stem (``*.rules``, for ``iptables-legacy-restore --noflush``) that counts with
the same names: each counting rule carries the comment ``<table>:<counter>``
(the nftables table and counter it stands for). So:

- an exec line ``nft -f X.nft`` runs as ``iptables-legacy-restore --noflush
  X.rules`` there (``exec_line``);
- ``counters_file`` picks ``counters.nft`` or ``counters.rules``;
- ``read_counters`` returns node -> table -> counter -> packets/bytes from
  either (iptables: summed over the rules that carry the same comment).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from orchestrator.drivers.netlink.mss import FilterBackend, detect_backend
from orchestrator.lab.shell import LabError, in_netns, run
from orchestrator.lab.topology import Topology

Counters = dict[str, dict[str, dict[str, dict[str, int]]]]  # node -> table -> name -> value
SUFFIX = {FilterBackend.NFTABLES: ".nft", FilterBackend.IPTABLES_LEGACY: ".rules"}
RESTORE = ("iptables-legacy-restore", "--noflush")
_SAVED = re.compile(r'^\[(\d+):(\d+)\] -A \S+ .*--comment "?([A-Za-z0-9_]+):([A-Za-z0-9_]+)"?')


@functools.cache
def backend() -> FilterBackend:
    """nftables where its inet family works on this kernel, else iptables-legacy."""
    return detect_backend(None)


def twin(path: Path) -> Path:
    """The iptables-legacy file standing for the nftables file ``path``."""
    return path.with_suffix(SUFFIX[FilterBackend.IPTABLES_LEGACY])


def exec_line(argv: tuple[str, ...], chosen: FilterBackend) -> tuple[str, ...]:
    """An exec line for ``chosen``: ``nft -f X.nft`` becomes the restore of X's twin."""
    if chosen is FilterBackend.NFTABLES or argv[:2] != ("nft", "-f") or len(argv) != 3:
        return argv
    rules = twin(Path(argv[2]))
    if not rules.is_file():
        raise LabError(
            f"{rules} is missing: this kernel's nftables has no ip family",
            hint=f"write the iptables-legacy twin of {argv[2]}",
        )
    return (*RESTORE, str(rules))


def counters_file(topology: Topology, node: str, chosen: FilterBackend) -> Path:
    return topology.directory / "lab" / node / f"counters{SUFFIX[chosen]}"


def load_argv(path: Path, chosen: FilterBackend) -> list[str]:
    if chosen is FilterBackend.NFTABLES:
        return ["nft", "-f", str(path)]
    return [*RESTORE, str(path)]


def read_node(namespace: str, chosen: FilterBackend) -> dict[str, dict[str, dict[str, int]]]:
    """One node's counters: table -> counter -> packets/bytes."""
    tables: dict[str, dict[str, dict[str, int]]] = {}
    if chosen is FilterBackend.NFTABLES:
        done = run(in_netns(namespace, ["nft", "-j", "list", "counters"]))
        for item in json.loads(done.stdout or "{}").get("nftables", []):
            counter = item.get("counter")
            if counter:
                tables.setdefault(counter["table"], {})[counter["name"]] = {
                    "packets": int(counter["packets"]),
                    "bytes": int(counter["bytes"]),
                }
        return tables
    done = run(in_netns(namespace, ["iptables-legacy-save", "-c", "-t", "filter"]))
    return parse_saved(done.stdout)


def parse_saved(text: str) -> dict[str, dict[str, dict[str, int]]]:
    """``iptables-legacy-save -c`` output -> table -> counter -> packets/bytes, summed
    over the rules whose comment is ``<table>:<counter>``; other rules are ignored."""
    tables: dict[str, dict[str, dict[str, int]]] = {}
    for line in text.splitlines():
        found = _SAVED.match(line)
        if found is None:
            continue
        pkts, nbytes, table, name = found.groups()
        value = tables.setdefault(table, {}).setdefault(name, {"packets": 0, "bytes": 0})
        value["packets"] += int(pkts)
        value["bytes"] += int(nbytes)
    return tables
