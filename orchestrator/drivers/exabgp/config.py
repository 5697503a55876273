"""Render ExaBGP's configuration and environment file for one site.

Decisions (address family, secrets, the agent's command line) are made here in
Python; the templates in ``templates/exabgp/`` only render. Like the API driver
refuses a command with a character it does not expect, every value is checked
against its field's grammar before it is written into the file (a quote, a
``;`` or a newline there would change what ExaBGP reads): a value that got past
the inventory's validation still cannot reach the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import sys
from dataclasses import dataclass

from orchestrator.errors import InvalidInput
from orchestrator.inventory import Inventory, SecretRef
from orchestrator.templating import render

# printable ASCII without space, either quote, ; or \ (ExaBGP's tokeniser ends or
# re-opens a quoted string at either quote and unescapes \); 80: the kernel's limit
_MD5 = re.compile(r"[!#-&(-:<-\[\]-~]{1,80}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # the inventory's names
_IP = re.compile(r"[0-9a-f.:]{2,39}")  # an address as Python prints it: no zone, no space
_WORD = re.compile(r"[A-Za-z0-9_./+@%=:-]{1,4096}")  # needs no quoting, in a shell or ExaBGP
_FAMILIES = {4: "ipv4", 6: "ipv6"}  # by IP version of the session
MAX_ASN = 4_294_967_294  # 2**32 - 1 is reserved (RFC 7300)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class PeerConfig:
    name: str
    address: str
    local_address: str
    asn: int
    families: tuple[str, ...]  # ExaBGP's MP capability: must equal what the peer offers
    md5: str | None  # the secret, or its reference when secrets are not shown


@dataclass(frozen=True)
class SiteConfig:
    site: str
    router_id: str
    asn: int
    peers: tuple[PeerConfig, ...]
    agent_command: str


# --- one check per field grammar ----------------------------------------------------


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(f"{value!r} is not a name (a-z, 0-9, _ and -)", where=where)
    return value


def _ip(value: object, where: str, *, version: int | None = None) -> str:
    text = str(value)
    try:
        plain = _IP.fullmatch(text) is not None and str(ipaddress.ip_address(text)) == text
    except ValueError:
        plain = False
    if not plain or (version is not None and ipaddress.ip_address(text).version != version):
        kind = f"an IPv{version} address" if version else "a plain IPv4 or IPv6 address"
        raise InvalidInput(f"{text!r} is not {kind}", where=where)
    return text


def _asn(value: object, where: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ASN:
        raise InvalidInput(f"{value!r} is not an AS number (1-{MAX_ASN})", where=where)
    return value


def _families(value: object, where: str) -> tuple[str, ...]:
    known = tuple(_FAMILIES.values())
    if not isinstance(value, tuple) or not value or any(f not in known for f in value):
        raise InvalidInput(f"{value!r} is not a list of {' and '.join(known)}", where=where)
    return tuple(f for f in known if f in value)  # one order: the file does not churn


def _md5(value: str, where: str) -> str:
    if not _MD5.fullmatch(value):
        raise InvalidInput(
            "the MD5 secret must be 1-80 printable ASCII characters without space, quote, "
            "semicolon or backslash",
            where=where,
        )
    return value


def _word(value: str, where: str) -> str:
    if not _WORD.fullmatch(value):
        raise InvalidInput(
            f"{value!r} cannot go into ExaBGP's configuration (letters, digits, _ . / + @ % = "
            ": - only)",
            where=where,
        )
    return value


# --- values ----------------------------------------------------------------------------


def resolve_secret(ref: SecretRef, where: str) -> str:
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise InvalidInput(f"environment variable {ref.env} is not set", where=where)
    else:
        assert ref.file is not None
        try:
            value = ref.file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise InvalidInput(f"cannot read {ref.file}: {reason}", where=where) from None
    return _md5(value, where)


def secret_reference(ref: SecretRef) -> str:
    """What ``--print-config`` shows instead of the secret: where it comes from. It is
    no secret, and as a password it would only fail."""
    shown = f"<env:{ref.env}>" if ref.env is not None else f"<file:{ref.file}>"
    return shown if _MD5.fullmatch(shown) else "<file>"


def peer_configs(inv: Inventory, site: str, *, show_secrets: bool = True) -> list[PeerConfig]:
    peers = []
    for i, peer in enumerate(inv.sites[site].peers):
        where = f"sites.{site}.peers[{i}]"
        if peer.local_address is None:
            raise InvalidInput("needed to run the site", where=f"{where}.local_address")
        md5 = None
        if peer.md5 is not None:
            md5 = resolve_secret(peer.md5, f"{where}.md5")  # checked even when not shown
            if not show_secrets:
                md5 = secret_reference(peer.md5)
        address = _ip(peer.address, f"{where}.address")
        version = ipaddress.ip_address(address).version
        peers.append(
            PeerConfig(
                name=_name(peer.name, f"{where}.name"),
                address=address,
                local_address=_ip(peer.local_address, f"{where}.local_address", version=version),
                asn=_asn(peer.asn, f"{where}.asn"),
                families=_families(peer.families or (_FAMILIES[version],), f"{where}.families"),
                md5=md5,
            )
        )
    return peers


def agent_command(site: str) -> str:
    """The agent as ExaBGP's API process. ExaBGP splits ``run`` with its own tokeniser,
    not a shell's, so every word must be one that needs no quoting at all."""
    _word(sys.executable, "sys.executable")
    return shlex.join([sys.executable, "-m", "orchestrator.site.agent", _name(site, "SITE")])


def site_config(inv: Inventory, site: str, *, show_secrets: bool = True) -> SiteConfig:
    return SiteConfig(
        site=_name(site, "SITE"),
        router_id=_ip(inv.sites[site].router_id, f"sites.{site}.router_id", version=4),
        asn=_asn(inv.site_asn(site), f"sites.{site}.asn"),
        peers=tuple(peer_configs(inv, site, show_secrets=show_secrets)),
        agent_command=agent_command(site),
    )


def render_config(inv: Inventory, site: str, *, show_secrets: bool = True) -> str:
    """ExaBGP's configuration for ``site``; with ``show_secrets=False`` each MD5 secret
    is still resolved and checked but rendered as its reference (``<env:NAME>``)."""
    config = site_config(inv, site, show_secrets=show_secrets)
    return render(
        "exabgp/site.conf.j2",
        site=config.site,
        router_id=config.router_id,
        asn=config.asn,
        peers=config.peers,
        agent_command=config.agent_command,
    )


def render_env(site: str, *, user: str = "root", reactor_speed: float = 0.1,
               log_level: str = "INFO") -> str:  # fmt: skip
    if log_level not in _LOG_LEVELS:
        raise InvalidInput(
            f"{log_level!r} is not one of {', '.join(_LOG_LEVELS)}", where="log_level"
        )
    if not 0 < reactor_speed <= 10:
        raise InvalidInput(f"{reactor_speed!r} is not between 0 and 10", where="reactor_speed")
    return render(
        "exabgp/exabgp.env.j2",
        site=_name(site, "SITE"),
        user=_word(user, "user"),
        reactor_speed=float(reactor_speed),
        log_level=log_level,
    )
