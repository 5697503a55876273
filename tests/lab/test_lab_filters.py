"""The lab's packet filters on the iptables-legacy backend (user-mode Linux has
no nftables ip family): each ``*.nft`` file's twin loads into a real kernel and
counts under the same names; exec lines and counter reads follow the backend."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.drivers.netlink.mss import FilterBackend
from orchestrator.lab import filters
from orchestrator.lab.shell import LabError

ROOT = Path(__file__).resolve().parents[2]
NFT_FILES = sorted((ROOT / "lab").glob("*/*.nft"))
IDS = [str(p.relative_to(ROOT / "lab")) for p in NFT_FILES]


def nft_counters(path: Path) -> set[str]:
    text = path.read_text()
    table = re.search(r"^table inet (\w+) \{", text, re.MULTILINE)
    assert table is not None
    return {f"{table.group(1)}:{name}" for name in re.findall(r'counter name "(\w+)"', text)}


@pytest.mark.parametrize("path", NFT_FILES, ids=IDS)
def test_every_nft_file_has_an_iptables_twin(path: Path) -> None:
    assert filters.twin(path).is_file()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("iptables-legacy-restore") is None,
                    reason="needs root and iptables-legacy (scripts/bootstrap.sh)")  # fmt: skip
@pytest.mark.parametrize("path", NFT_FILES, ids=IDS)
def test_twin_loads_and_counts_the_same_names(path: Path) -> None:
    """Loaded into a throwaway network namespace of the real kernel, then read back."""
    script = f"iptables-legacy-restore --noflush {filters.twin(path)} && iptables-legacy-save -c"
    done = subprocess.run(["unshare", "--net", "sh", "-c", script],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = filters.parse_saved(done.stdout)
    names = {f"{table}:{name}" for table, counters in saved.items() for name in counters}
    assert names == nft_counters(path)


def test_parse_saved_sums_rules_with_one_comment() -> None:
    text = (
        '[3:300] -A LAB -d 203.0.113.0/24 -i eth1 -m comment --comment "lab:from_transit"\n'
        '[4:400] -A LAB -d 203.0.113.0/24 -i eth2 -m comment --comment "lab:from_transit"\n'
        "[9:900] -A FORWARD -j LAB\n"
        "[1:84] -A SCRUB -m comment --comment scrub:misrouted -j DROP\n"
    )
    assert filters.parse_saved(text) == {
        "lab": {"from_transit": {"packets": 7, "bytes": 700}},
        "scrub": {"misrouted": {"packets": 1, "bytes": 84}},
    }


def test_exec_line_loads_the_twin_on_iptables_legacy() -> None:
    source = str(ROOT / "lab/fra/scrub.nft")
    line = ("nft", "-f", source)
    assert filters.exec_line(line, FilterBackend.NFTABLES) == line
    assert filters.exec_line(line, FilterBackend.IPTABLES_LEGACY) == (
        "iptables-legacy-restore", "--noflush", str(ROOT / "lab/fra/scrub.rules"),
    )  # fmt: skip
    assert filters.exec_line(("ip", "link"), FilterBackend.IPTABLES_LEGACY) == ("ip", "link")


def test_exec_line_without_a_twin_is_an_error(tmp_path: Path) -> None:
    lonely = tmp_path / "x.nft"
    lonely.write_text("table inet x {}\n")
    with pytest.raises(LabError, match=r"x\.rules is missing: this kernel's nftables has no ip"):
        filters.exec_line(("nft", "-f", str(lonely)), FilterBackend.IPTABLES_LEGACY)
