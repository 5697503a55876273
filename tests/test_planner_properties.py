"""Properties of the planner over random inventories, intent and observed state.

Whatever is stored (even intent the services would refuse), the planner:
- announces only the customer's authorised space (scrub routes within max_length and
  /24 or /48, RTBH routes host routes inside it);
- never uses RTBH on its own (not forced) while a site could scrub that customer;
- never sends a route to a peer of the other IP family, or of another site.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.domain import (
    GRACEFUL_SHUTDOWN,
    HOST_LEN,
    MAX_SCRUB_LEN,
    AdminState,
    Diversion,
    Health,
    Intent,
    IPNetwork,
    Observed,
    RouteKind,
    RtbhEntry,
    SiteAdmin,
)
from orchestrator.inventory import Inventory, parse_inventory
from orchestrator.planner import Plan, plan

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SITES = ("s0", "s1", "s2")
CUSTOMERS = ("c0", "c1", "c2")


@st.composite
def peers(draw: st.DrawFn, site: int) -> list[dict[str, Any]]:
    out = []
    for j in range(draw(st.integers(1, 3))):
        v6 = draw(st.booleans())
        address = f"2001:db8:ff{site}::{j + 1}" if v6 else f"192.0.2.{site * 10 + j + 1}"
        peer: dict[str, Any] = {"name": f"p{j}", "address": address, "asn": 64501 + j}
        if draw(st.booleans()):
            peer["rtbh"] = {}
        out.append(peer)
    return out


@st.composite
def customer(draw: st.DrawFn, index: int) -> dict[str, Any]:
    v4_len = draw(st.integers(16, 24))
    v6_len = draw(st.integers(32, 48))
    prefixes = []
    if draw(st.booleans()):
        v4 = ipaddress.ip_network(f"10.{index}.0.0/16")
        sub = list(v4.subnets(new_prefix=v4_len))[draw(st.integers(0, 3)) % 2 ** (v4_len - 16)]
        prefixes.append({"prefix": str(sub), "max_length": draw(st.integers(v4_len, 24))})
    v6 = ipaddress.ip_network(f"2001:db8:{index}00::/40")
    v6_len = max(v6_len, 40)
    prefixes.append({"prefix": str(next(v6.subnets(new_prefix=v6_len))),
                     "max_length": draw(st.integers(v6_len, 48))})  # fmt: skip
    sites = draw(st.lists(st.sampled_from(SITES), min_size=1, max_size=3, unique=True))
    paths = {s: LINE for s in sites}  # every site a customer uses has its return path
    return {
        "asn": 64496 + index,
        "mode": draw(st.sampled_from(["on-demand", "always-on"])),
        "origin_preserving": draw(st.booleans()),
        "rtbh_last_resort": draw(st.booleans()),
        "prefixes": prefixes,
        "sites": [{"site": s, "role": draw(st.sampled_from(["primary", "backup"]))} for s in sites],
        "return_paths": paths,
    }


LINE = {"kind": "dedicated", "interface": "eth1", "next_hop": "192.0.2.200"}


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    nsites = draw(st.integers(1, 3))
    ncust = draw(st.integers(1, 3))
    data = {
        "policy": {"asn": 64500, "allow_reserved_prefixes": True, "drain_time": 300},
        "sites": {
            SITES[i]: {"router_id": f"192.0.2.{i + 1}", "peers": draw(peers(i))}
            for i in range(nsites)
        },
        "customers": {CUSTOMERS[i]: draw(customer(i)) for i in range(ncust)},
    }
    for spec in data["customers"].values():  # only sites that exist
        spec["sites"] = [s for s in spec["sites"] if s["site"] in data["sites"]] or [
            {"site": "s0", "role": "primary"}
        ]
        spec["return_paths"] = {s["site"]: LINE for s in spec["sites"]}
    return parse_inventory(data)


def candidate_prefixes(inv: Inventory) -> list[IPNetwork]:
    """Prefixes inside, around and outside the customers' space (also too long, too wide)."""
    out: list[IPNetwork] = [
        ipaddress.ip_network("198.51.100.0/24"),
        ipaddress.ip_network("2001:db8:f00::/48"),
        ipaddress.ip_network("0.0.0.0/0"),
    ]
    for c in inv.customers.values():
        for entry in c.prefixes:
            p = entry.prefix
            out += [p, p.supernet(), *list(p.subnets(prefixlen_diff=1))]
            out.append(next(p.subnets(new_prefix=min(p.prefixlen + 3, HOST_LEN[p.version]))))
            out.append(ipaddress.ip_network(f"{p.network_address + 7}/{HOST_LEN[p.version]}"))
    return out


@st.composite
def scenario(draw: st.DrawFn) -> tuple[Inventory, Intent, Observed]:
    inv = draw(inventories())
    pool = candidate_prefixes(inv)
    hosts = [p for p in pool if p.prefixlen == HOST_LEN[p.version]]
    names = [*inv.customers, "ghost"]
    site_names = [*inv.sites, "zz"]
    diversions = tuple(
        Diversion(
            id=i,
            customer=draw(st.sampled_from(names)),
            prefixes=tuple(draw(st.lists(st.sampled_from(pool), max_size=3))),
            sites=tuple(draw(st.lists(st.sampled_from(site_names), max_size=2, unique=True))),
            targets=tuple(h.network_address for h in draw(st.lists(st.sampled_from(hosts)))),
            more_specifics=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    rtbh = tuple(
        RtbhEntry(
            id=i,
            prefix=draw(st.sampled_from(pool)),
            reason="prop",
            expires_at=NOW + timedelta(minutes=draw(st.integers(-60, 60))),
            forced=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    admin = {
        s: SiteAdmin(
            draw(st.sampled_from(list(AdminState))),
            NOW - timedelta(seconds=draw(st.integers(0, 900))),
        )
        for s in inv.sites
        if draw(st.booleans())
    }
    sessions = {
        (s, p.name): draw(st.booleans()) for s, site in inv.sites.items() for p in site.peers
    }
    paths = {
        (c, s): draw(st.sampled_from(list(Health)))
        for c, spec in inv.customers.items()
        for s in spec.return_paths
    }
    return inv, Intent(diversions, rtbh, admin), Observed(sessions, paths)


def _inside(inv: Inventory, cname: str, prefix: IPNetwork, kind: RouteKind) -> bool:
    entry = inv.customers[cname].authorising(prefix)
    if entry is None:
        return False
    if kind is RouteKind.RTBH:
        return prefix.prefixlen >= inv.policy.rtbh.min_length(prefix.version)
    return prefix.prefixlen <= min(entry.longest, MAX_SCRUB_LEN[prefix.version])


def check(inv: Inventory, intent: Intent, result: Plan) -> None:
    forced = {e.prefix for e in intent.rtbh if e.forced and e.expires_at > NOW}
    for site, planned in result.routes.items():
        families = {p.name: p.address.version for p in inv.sites[site].peers}
        for entry in planned:
            route = entry.route
            assert _inside(inv, entry.customer, route.prefix, route.kind), (site, entry)
            assert entry.peers, entry
            for peer in entry.peers:
                assert families[peer] == route.prefix.version, (site, peer, route)
            verdict = result.customers[entry.customer]
            if route.kind is RouteKind.SCRUB:
                status = verdict.sites[site]
                if not (status.eligible or status.draining):
                    # Make-before-break: a site leaving by plan holds a prefix, with
                    # GRACEFUL_SHUTDOWN, only while an eligible site takes it over.
                    assert status.handover, (site, entry)
                    assert GRACEFUL_SHUTDOWN in route.communities, (site, entry)
                    assert any(
                        other != site and other in verdict.sites and verdict.sites[other].eligible
                        and any(e.route.prefix == route.prefix for e in takers)
                        for other, takers in result.routes.items()
                    ), (site, entry)  # fmt: skip
            elif route.prefix not in forced:
                assert not any(s.eligible or s.draining for s in verdict.sites.values()), entry
                assert inv.customers[entry.customer].rtbh_last_resort, entry


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_planner_properties(case: tuple[Inventory, Intent, Observed]) -> None:
    inv, intent, observed = case
    check(inv, intent, plan(inv, intent, observed, NOW))
