"""TCP MSS clamping on the return tunnels, with nftables or iptables-legacy.

A tunnel's MTU is below the 1500 bytes the hosts behind it assume, so the
MSS option of every SYN and SYN-ACK crossing a tunnel (both directions) is
lowered to the tunnel's MTU minus 40 (IPv4) or 60 (IPv6) when it is larger.

- ``nftables`` (default): ``templates/nftables/mss.nft.j2``, one table
  ``inet scrubctl_mss`` that scrubctl owns, replaced atomically by one
  ``nft -f`` transaction (declare, delete, re-create); nothing else in the
  ruleset is touched. No tunnels: the table is removed.
- ``iptables-legacy`` (kernels whose nftables lacks the ip/inet families, as
  Debian's user-mode Linux): ``templates/iptables/mss.rules.j2``, one chain
  ``SCRUBCTL_MSS`` in table mangle, refilled with ``iptables-legacy-restore
  --noflush`` (and ``ip6tables-legacy-restore``), jumped to from FORWARD once.

``detect_backend`` asks ``nft -c`` (a check that applies nothing) whether the
inet family works. Decisions are made here; the templates only render.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.drivers.netlink.state import Tunnel
from orchestrator.errors import ScrubError
from orchestrator.templating import render

NFT_TABLE = "scrubctl_mss"
IPT_CHAIN = "SCRUBCTL_MSS"
_RESTORE = {4: "iptables-legacy-restore", 6: "ip6tables-legacy-restore"}
_IPTABLES = {4: "iptables-legacy", 6: "ip6tables-legacy"}
_HEADERS = {4: 40, 6: 60}  # IP + TCP header bytes


class FilterBackend(StrEnum):
    NFTABLES = "nftables"
    IPTABLES_LEGACY = "iptables-legacy"


class MssError(ScrubError):
    """The packet filter refused the clamp (the message carries its error output)."""


@dataclass(frozen=True)
class MssClamp:
    """One tunnel's clamp: its name and the MSS per address family."""

    interface: str
    mss_v4: int
    mss_v6: int

    def mss(self, family: int) -> int:
        return self.mss_v4 if family == 4 else self.mss_v6


@dataclass(frozen=True)
class _FamilyClamp:
    interface: str
    mss: int
    larger: int  # the smallest MSS that is clamped


def clamps_for(tunnels: Sequence[Tunnel]) -> tuple[MssClamp, ...]:
    return tuple(
        MssClamp(t.name, t.mtu - _HEADERS[4], t.mtu - _HEADERS[6])
        for t in sorted(tunnels, key=lambda t: t.name)
    )


def render_nftables(site: str, clamps: Sequence[MssClamp]) -> str:
    return render("nftables/mss.nft.j2", site=site, table=NFT_TABLE, clamps=clamps)


def render_iptables(site: str, clamps: Sequence[MssClamp], family: int, add_jump: bool) -> str:
    rows = [_FamilyClamp(c.interface, c.mss(family), c.mss(family) + 1) for c in clamps]
    return render(
        "iptables/mss.rules.j2",
        site=site,
        family=family,
        chain=IPT_CHAIN,
        restore=_RESTORE[family],
        clamps=rows,
        add_jump=add_jump,
    )


def _run(
    argv: Sequence[str], netns: str | None, text: str | None = None
) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        return subprocess.run(full, input=text, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MssError(f"{argv[0]}: {exc}") from None


def detect_backend(netns: str | None = None) -> FilterBackend:
    """nftables when its inet family works here, else iptables-legacy."""
    if shutil.which("nft") is None:
        return FilterBackend.IPTABLES_LEGACY
    done = _run(["nft", "-c", "-f", "-"], netns, f"table inet {NFT_TABLE}\n")
    if done.returncode == 0:
        return FilterBackend.NFTABLES
    if "Operation not supported" in done.stderr:
        return FilterBackend.IPTABLES_LEGACY
    raise MssError(f"nft -c failed: {done.stderr.strip()}")


class MssClamper:
    """Keeps the clamp in line with the site's tunnels; writes only when they changed.

    The first ``apply`` always writes (so a restart repairs whatever was there).
    """

    def __init__(self, site: str, backend: FilterBackend, netns: str | None = None) -> None:
        self.site = site
        self.backend = backend
        self.netns = netns
        self._applied: tuple[MssClamp, ...] | None = None

    def apply(self, tunnels: Sequence[Tunnel]) -> bool:
        """Install the clamp for ``tunnels``; True if anything was written."""
        clamps = clamps_for(tunnels)
        if clamps == self._applied:
            return False
        if self.backend is FilterBackend.NFTABLES:
            self._check(["nft", "-f", "-"], render_nftables(self.site, clamps))
        else:
            for family in (4, 6):
                jump = _run([_IPTABLES[family], "-t", "mangle", "-C", "FORWARD", "-j", IPT_CHAIN],
                            self.netns)  # fmt: skip
                text = render_iptables(self.site, clamps, family, add_jump=jump.returncode != 0)
                self._check([_RESTORE[family], "--noflush"], text)
        self._applied = clamps
        return True

    def _check(self, argv: list[str], text: str) -> None:
        done = _run(argv, self.netns, text)
        if done.returncode != 0:
            raise MssError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
