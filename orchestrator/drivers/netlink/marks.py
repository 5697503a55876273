"""How the site recognises the kernel objects it owns, and nothing else.

- **Interfaces**: the name starts with ``scr-`` AND the interface alias
  (``ip link`` shows it) starts with ``scrubctl ``. A ``scr-*`` interface
  without our alias belongs to someone else and is never touched.
- **Routes**: route protocol 245 (``proto 245``; free in iproute2's
  ``rt_protos``, after ``eigrp`` 192) in the site's table.
- **Policy rules**: protocol 245, a priority in 17000-17099 (the site's rules
  use 17000; ``main`` is 32766) and the site's table.
- **Probe rule**: ``fwmark 0x5c420001 lookup <site table>`` per address
  family, priority 17001, protocol 245: the return-path probes carry that
  mark (``SO_MARK``), so they are routed like the customer's clean traffic.
- **Table**: one per site, ``sites.<site>.return_table`` (default 4200).
"""

from __future__ import annotations

import hashlib

IFNAME_PREFIX = "scr-"
ALIAS_PREFIX = "scrubctl "
ROUTE_PROTO = 245
RULE_PRIORITY = 17000
RULE_PRIORITIES = range(17000, 17100)
PROBE_RULE_PRIORITY = 17001  # its own priority: a rule delete without fwmark matches any mark
PROBE_MARK = 0x5C420001  # SO_MARK of every probe (drivers/probe.py)
DEFAULT_TABLE = 4200
IFNAMSIZ = 15  # the kernel's IFNAMSIZ (16) minus the terminating NUL
_SHORT = IFNAMSIZ - len(IFNAME_PREFIX)  # 11 characters for the customer


def tunnel_name(customer: str) -> str:
    """``scr-`` + the customer name, or (too long) its first 6 characters + a hash.

    Deterministic: the same customer always gets the same interface name.
    ``acme`` gets ``scr-acme``; ``pharmacy-shops`` (14 > 11 characters) gets
    ``scr-pharma-`` + 4 hex digits of its hash.
    """
    if len(customer) <= _SHORT:
        return IFNAME_PREFIX + customer
    digest = hashlib.blake2s(customer.encode(), digest_size=2).hexdigest()
    return f"{IFNAME_PREFIX}{customer[:6]}-{digest}"


def alias_for(site: str, customer: str) -> str:
    """The interface alias that marks a tunnel as ours and says whose it is."""
    return f"{ALIAS_PREFIX}site={site} customer={customer}"


def is_our_link(name: str, alias: str | None) -> bool:
    return name.startswith(IFNAME_PREFIX) and (alias or "").startswith(ALIAS_PREFIX)


def is_our_rule(priority: int, protocol: int, table: int, site_table: int) -> bool:
    return priority in RULE_PRIORITIES and protocol == ROUTE_PROTO and table == site_table
