"""Return paths in the kernel with pyroute2: GRE tunnels, dedicated lines, routes, rules.

How a site uses it (one reconciliation, idempotent; call it on every change
of the inventory and periodically)::

    desired = desired_state(inventory, site)          # pure: desired.py
    with PyrouteKernel(netns=None) as kernel:         # or netns="name"
        report = apply(kernel, desired)               # reconcile.py
    for status in report.paths:                       # PathStatus per customer
        ...  # status.health is DOWN (with status.cause) or UNKNOWN (built; probes decide)
    clamper = MssClamper(site, backend or detect_backend(netns), netns)  # once (mss.py)
    clamper.apply(desired.tunnels)                    # writes only when the tunnels changed

Kinds (``kinds/``, looked up by the inventory's ``kind``):

- ``gre``: a tunnel the site creates, ``gre`` over IPv4 or ``ip6gre`` over
  IPv6, with ``key`` (both directions), ``ttl`` (default 64), the inner
  address ``inner_local`` and an MTU (1476, 1472 keyed, 1456 over IPv6 unless
  ``mtu`` is set). Every customer prefix (IPv4 and IPv6) is routed out of it.
- ``dedicated``: an existing interface and a next hop on it. Nothing is
  created or changed on the interface; prefixes of the next hop's family are
  routed via it. A missing or down interface, a next hop outside the
  interface's subnets, or a prefix of the other family makes the path DOWN
  with that cause (never an exception).

Routing: every route goes into the site's table (``sites.<s>.return_table``,
default 4200); one rule per upstream interface and family
(``sites.<s>.upstream_interfaces``) selects that table for traffic arriving
there, so the site's own traffic (BGP, GRE outer packets) keeps using the
main table. The return-path probes carry the fwmark ``PROBE_MARK`` and a
rule ``fwmark PROBE_MARK lookup <table>`` (priority 17001, per family) routes
them like clean traffic (``drivers/probe.py``).

Ownership marks (``marks.py``): interface names ``scr-<customer>`` (longer
names: ``scr-`` + 6 characters + ``-`` + 4 hex digits) with the alias
``scrubctl site=<s> customer=<c>``; route protocol 245; rule priorities 17000
(upstream rules) and 17001 (probe rule) in the range 17000-17099, with
protocol 245; the site's table. Only objects with
these marks are ever changed or deleted.
"""
