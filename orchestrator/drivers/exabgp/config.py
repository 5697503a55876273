"""Render ExaBGP's configuration and environment file for one site.

Decisions (address family, secrets, the agent's command line) are made here in
Python; the templates in ``templates/exabgp/`` only render.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass

from orchestrator.errors import InvalidInput
from orchestrator.inventory import Inventory, SecretRef
from orchestrator.templating import render

_MD5_OK = re.compile(r"^[!#-:<-\[\]-~]{1,80}$")  # printable ASCII without space " ; \


@dataclass(frozen=True)
class PeerConfig:
    name: str
    address: str
    local_address: str
    asn: int
    family: str
    md5: str | None


def resolve_secret(ref: SecretRef, where: str) -> str:
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise InvalidInput(f"environment variable {ref.env} is not set", where=where)
    else:
        assert ref.file is not None
        try:
            value = ref.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read {ref.file}: {exc.strerror}", where=where) from None
    if not _MD5_OK.match(value):
        raise InvalidInput(
            "the MD5 secret must be 1-80 printable ASCII characters without space, quote, "
            "semicolon or backslash",
            where=where,
        )
    return value


def peer_configs(inv: Inventory, site: str) -> list[PeerConfig]:
    peers = []
    for i, peer in enumerate(inv.sites[site].peers):
        where = f"sites.{site}.peers[{i}]"
        if peer.local_address is None:
            raise InvalidInput("needed to run the site", where=f"{where}.local_address")
        md5 = resolve_secret(peer.md5, f"{where}.md5") if peer.md5 else None
        family = "ipv4" if peer.address.version == 4 else "ipv6"
        peers.append(
            PeerConfig(peer.name, str(peer.address), str(peer.local_address), peer.asn, family, md5)
        )
    return peers


def agent_command(site: str) -> str:
    return shlex.join([sys.executable, "-m", "orchestrator.site.agent", site])


def render_config(inv: Inventory, site: str) -> str:
    return render(
        "exabgp/site.conf.j2",
        site=site,
        router_id=str(inv.sites[site].router_id),
        asn=inv.site_asn(site),
        peers=peer_configs(inv, site),
        agent_command=agent_command(site),
    )


def render_env(site: str, *, user: str = "root", reactor_speed: float = 0.1,
               log_level: str = "INFO") -> str:  # fmt: skip
    return render(
        "exabgp/exabgp.env.j2",
        site=site,
        user=user,
        reactor_speed=reactor_speed,
        log_level=log_level,
    )
