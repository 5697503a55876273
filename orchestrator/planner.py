"""The planner: (inventory, intent, observed, now) -> what every site announces.

A pure function: no I/O, no clock (``now`` is an argument), no database. The
steps run in a fixed order, each a small function:

1. ``wanted_prefixes``   what should be diverted (always-on + active diversions)
2. ``site_eligibility``  which sites can carry each customer's traffic, and why not
3. ``scrub_routes``      announcements from eligible (and draining) sites, then
                         make-before-break: a site leaving a customer by plan (moved
                         away by ``failover``, drained) keeps each prefix, with
                         GRACEFUL_SHUTDOWN, until another eligible site has it acked
4. ``last_resort``       RTBH host routes when no site can carry a customer
5. ``forced_rtbh``       operator-forced RTBH entries that have not expired
6. ``check_limits``      peer max-prefix and GRE loop checks (violations)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from orchestrator.domain import (
    BLACKHOLE,
    GRACEFUL_SHUTDOWN,
    MAX_SCRUB_LEN,
    NO_EXPORT,
    AdminState,
    Community,
    Health,
    Intent,
    IPNetwork,
    Mode,
    Move,
    Observed,
    Protection,
    Role,
    Route,
    RouteKind,
    contains,
    host_route,
    prefix_key,
)
from orchestrator.inventory import AuthorisedPrefix, Customer, GreReturnPath, Inventory, Peer


@dataclass(frozen=True)
class PlannedRoute:
    route: Route
    peers: tuple[str, ...]  # names of the site's peers that receive it
    customer: str
    reason: str


@dataclass(frozen=True)
class SiteStatus:
    eligible: bool
    draining: bool  # still announcing with GRACEFUL_SHUTDOWN
    reason: str
    # Leaving by plan (moved away, drained): each prefix stays announced, with
    # GRACEFUL_SHUTDOWN, until another eligible site has it acknowledged.
    handover: bool = False
    promoted: bool = False  # the target of a move: announced as a primary site


@dataclass(frozen=True)
class CustomerVerdict:
    state: Protection
    reason: str
    sites: dict[str, SiteStatus]
    wanted: tuple[IPNetwork, ...]


@dataclass(frozen=True)
class Plan:
    routes: dict[str, tuple[PlannedRoute, ...]]  # site -> routes
    customers: dict[str, CustomerVerdict]
    violations: tuple[str, ...] = ()
    next_change_at: datetime | None = None
    # (site, prefix) whose acknowledgement a leaving site waits for before it withdraws
    # that prefix: the agent of ``site`` wakes the others when it has acked one.
    awaiting: frozenset[tuple[str, IPNetwork]] = frozenset()

    def peer_routes(self, site: str) -> dict[str, set[Route]]:
        """Peer name -> exact set of routes that peer must receive from ``site``."""
        out: dict[str, set[Route]] = defaultdict(set)
        for planned in self.routes.get(site, ()):
            for peer in planned.peers:
                out[peer].add(planned.route)
        return dict(out)


@dataclass
class _Want:
    """What one customer wants diverted: prefix -> sites allowed for it (None: policy)."""

    prefixes: dict[IPNetwork, set[str] | None] = field(default_factory=dict)
    targets: set[IPNetwork] = field(default_factory=set)
    # prefix -> what asks for it ("always-on", "diversion #3"): a route's reason names
    # only the diversions that cover its prefix. Prefixes of one request share a tuple.
    sources: dict[IPNetwork, tuple[str, ...]] = field(default_factory=dict)
    _ordered: list[IPNetwork] | None = field(default=None, repr=False, compare=False)

    def ordered(self) -> list[IPNetwork]:
        """The wanted prefixes in address order (computed once: the plan sorts them
        in several places, which matters with tens of thousands of prefixes)."""
        if self._ordered is None:
            self._ordered = sorted(self.prefixes, key=prefix_key)
        return self._ordered

    def add(self, prefix: IPNetwork, sites: Iterable[str], source: tuple[str, ...]) -> None:
        self._ordered = None
        restricted = set(sites)
        if prefix not in self.prefixes:
            self.prefixes[prefix] = restricted or None
            self.sources[prefix] = source
            return
        if source[0] not in self.sources[prefix]:
            self.sources[prefix] += source
        current = self.prefixes[prefix]
        self.prefixes[prefix] = None if current is None or not restricted else current | restricted


def _halves(prefix: IPNetwork) -> list[IPNetwork]:
    return list(prefix.subnets(prefixlen_diff=1))


def _authoriser(customer: Customer) -> Callable[[IPNetwork], AuthorisedPrefix | None]:
    """``customer.authorising`` with the covering test done on integers: the same
    answer (the first authorised prefix that contains the prefix), several times
    faster, which counts when a diversion lists tens of thousands of prefixes."""
    entries = [
        (e, e.prefix.version, e.prefix.prefixlen, int(e.prefix.network_address),
         int(e.prefix.netmask))
        for e in customer.prefixes
    ]  # fmt: skip

    def authorising(prefix: IPNetwork) -> AuthorisedPrefix | None:
        version, length, address = prefix.version, prefix.prefixlen, int(prefix.network_address)
        for entry, v, entry_length, network, mask in entries:
            if v == version and length >= entry_length and address & mask == network:
                return entry
        return None

    return authorising


# --- step 1 ---------------------------------------------------------------


def wanted_prefixes(inv: Inventory, intent: Intent) -> dict[str, _Want]:
    wants: dict[str, _Want] = {}
    for name, customer in inv.customers.items():
        if customer.mode is Mode.ALWAYS_ON:
            want = wants.setdefault(name, _Want())
            for entry in customer.prefixes:
                want.add(entry.prefix, (), ("always-on",))
    for div in sorted(intent.diversions, key=lambda d: d.id):
        owner = inv.customers.get(div.customer)
        if owner is None:
            continue  # inventory no longer has it; the service reports this
        want = wants.setdefault(div.customer, _Want())
        source = (f"diversion #{div.id}",)
        authorising = _authoriser(owner)
        prefixes = div.prefixes or tuple(e.prefix for e in owner.prefixes)
        for prefix in prefixes:
            parts = _halves(prefix) if div.more_specifics else [prefix]
            for part in parts:
                auth = authorising(part)
                # Defence in depth: the service refuses these before they are stored.
                if auth is not None and part.prefixlen <= auth.longest and scrub_length_ok(part):
                    want.add(part, div.sites, source)
        # Same defence for targets: only hosts inside the customer's authorised space.
        hosts = (host_route(t) for t in div.targets)
        want.targets.update(h for h in hosts if authorising(h) is not None)
    return wants


# --- step 2 ---------------------------------------------------------------


def _sessions_up(site: str, peers: Iterable[Peer], observed: Observed) -> list[str]:
    return [p.name for p in peers if observed.sessions.get((site, p.name), False)]


def _site_status(
    inv: Inventory,
    cname: str,
    customer: Customer,
    site: str,
    intent: Intent,
    observed: Observed,
    now: datetime,
    moves: dict[tuple[str, str], Move],
) -> SiteStatus:
    admin = intent.site_admin.get(site)
    if admin is not None and admin.state is AdminState.DISABLED:
        return SiteStatus(False, False, "site disabled")
    if not _sessions_up(site, inv.sites[site].peers, observed):
        return SiteStatus(False, False, "no established BGP session")
    if site not in customer.return_paths:
        return SiteStatus(False, False, "no return path at this site")
    if observed.return_paths.get((cname, site), Health.UNKNOWN) is Health.DOWN:
        return SiteStatus(False, False, "return path down")
    # Everything above is unplanned (the site cannot deliver): withdrawn at once.
    # Below, the site still works and leaves by plan: make-before-break.
    away = moves.get((cname, site))
    if away is not None and away.from_site == site:
        return SiteStatus(False, False, f"moved away by failover #{away.id}", handover=True)
    if admin is not None and admin.state is AdminState.DRAINING:
        end = _drain_end(inv, admin.since, now)
        if end > now:
            return SiteStatus(False, True, f"draining until {end:%H:%M:%S}")
        return SiteStatus(False, False, "drained", handover=True)
    if away is not None:  # the site the customer was moved to
        return SiteStatus(True, False, f"eligible, primary by failover #{away.id}", promoted=True)
    return SiteStatus(True, False, "eligible")


def _drain_end(inv: Inventory, since: datetime | None, now: datetime) -> datetime:
    return (since or now) + timedelta(seconds=inv.policy.drain_time)


def _moves_by_site(intent: Intent) -> dict[tuple[str, str], Move]:
    """(customer, site) -> the move that takes the customer away from or to that site
    (away wins; of several moves the oldest)."""
    out: dict[tuple[str, str], Move] = {}
    for move in sorted(intent.moves, key=lambda m: m.id):
        if move.to_site is not None:
            out.setdefault((move.customer, move.to_site), move)
    for move in sorted(intent.moves, key=lambda m: m.id, reverse=True):
        out[(move.customer, move.from_site)] = move
    return out


def site_eligibility(
    inv: Inventory, intent: Intent, observed: Observed, now: datetime
) -> dict[str, dict[str, SiteStatus]]:
    moves = _moves_by_site(intent)
    return {
        cname: {
            entry.site: _site_status(inv, cname, customer, entry.site, intent, observed, now, moves)
            for entry in customer.sites
        }
        for cname, customer in inv.customers.items()
    }


# --- step 3 ---------------------------------------------------------------


def _role(customer: Customer, site: str, st: SiteStatus) -> Role | None:
    return Role.PRIMARY if st.promoted else customer.role_at(site)


def _scrub_route(
    inv: Inventory,
    customer: Customer,
    site: str,
    prefix: IPNetwork,
    draining: bool,
    role: Role | None,
) -> Route:
    asn = inv.site_asn(site)
    prepend = inv.policy.backup_prepend if role is Role.BACKUP else 0
    origin = (customer.asn,) if customer.origin_preserving else ()
    communities = [*inv.policy.communities, *customer.communities]
    if draining:
        communities.append(GRACEFUL_SHUTDOWN)
    return Route(
        prefix=prefix,
        as_path=(asn,) * (1 + prepend) + origin,
        communities=tuple(sorted(set(communities))),
        large_communities=tuple(
            sorted(set(inv.policy.large_communities) | set(customer.large_communities))
        ),
        med=customer.med,
    )


def scrub_routes(
    inv: Inventory,
    wants: dict[str, _Want],
    status: dict[str, dict[str, SiteStatus]],
) -> dict[str, list[PlannedRoute]]:
    routes: dict[str, list[PlannedRoute]] = defaultdict(list)
    for cname, want in wants.items():
        _customer_routes(inv, cname, want, status[cname], routes, hold=None)
    return routes


def handover_routes(
    inv: Inventory,
    wants: dict[str, _Want],
    status: dict[str, dict[str, SiteStatus]],
    routes: dict[str, list[PlannedRoute]],
    acked: frozenset[tuple[str, IPNetwork]],
) -> tuple[dict[str, list[PlannedRoute]], set[tuple[str, IPNetwork]]]:
    """Make-before-break. A site leaving a customer by plan keeps a prefix (with
    GRACEFUL_SHUTDOWN) while another eligible site plans it but none has it acked yet;
    once one has, or if none plans it at all (nothing else can carry it), it is gone.
    Returns those routes and the (taking site, prefix) pairs being waited for."""
    takers: dict[tuple[str, IPNetwork], set[str]] = defaultdict(set)
    for site, planned in routes.items():
        for entry in planned:
            if status.get(entry.customer, {}).get(site, _IDLE).eligible:
                takers[(entry.customer, entry.route.prefix)].add(site)
    held: dict[str, list[PlannedRoute]] = defaultdict(list)
    awaiting: set[tuple[str, IPNetwork]] = set()

    def hold(cname: str, site: str, prefix: IPNetwork) -> bool:
        others = takers.get((cname, prefix), set()) - {site}
        if not others or any((other, prefix) in acked for other in others):
            return False
        awaiting.update((other, prefix) for other in others)
        return True

    for cname, want in wants.items():
        _customer_routes(inv, cname, want, status[cname], held, hold=hold)
    return held, awaiting


_IDLE = SiteStatus(False, False, "")


def _customer_routes(
    inv: Inventory,
    cname: str,
    want: _Want,
    sites: dict[str, SiteStatus],
    routes: dict[str, list[PlannedRoute]],
    hold: Callable[[str, str, IPNetwork], bool] | None,
) -> None:
    """One customer's routes: from eligible and draining sites (``hold`` None), or
    from the sites leaving it by plan, for the prefixes ``hold`` says they keep."""
    customer = inv.customers[cname]
    # Everything but the prefix is the same for all of a customer's routes at a site
    # that the same requests ask for: work it out once per site, IP version and
    # requests, not once per prefix.
    per_site: dict[tuple[str, int, tuple[str, ...]], tuple[Route, tuple[str, ...], str] | None] = {}
    for prefix in want.ordered():
        allowed = want.prefixes[prefix]
        sources = want.sources[prefix]
        for site, st in sites.items():
            if allowed and site not in allowed:
                continue
            if hold is None and not (st.eligible or st.draining):
                continue
            if hold is not None and not (st.handover and hold(cname, site, prefix)):
                continue
            key = (site, prefix.version, sources)
            if key not in per_site:
                why = ", ".join(sources)
                per_site[key] = _site_template(inv, cname, why, customer, site, st, prefix)
            template = per_site[key]
            if template is None:
                continue
            shape, peers, reason = template
            route = Route(prefix, shape.as_path, shape.communities,
                          shape.large_communities, shape.med)  # fmt: skip
            routes[site].append(PlannedRoute(route, peers, cname, reason))


def _site_template(
    inv: Inventory, cname: str, why: str, customer: Customer, site: str, st: SiteStatus,
    prefix: IPNetwork,
) -> tuple[Route, tuple[str, ...], str] | None:  # fmt: skip
    """(route for ``prefix``, receiving peers, reason) for one customer at one site, or
    None when the site has no peer of the prefix's IP version."""
    peers = tuple(p.name for p in inv.sites[site].peers if p.address.version == prefix.version)
    if not peers:
        return None
    role = _role(customer, site, st)
    reason = f"{cname} {why}: {role} site"
    if st.promoted:
        reason += f" ({st.reason.removeprefix('eligible, ')})"
    if st.draining:
        reason += f", GRACEFUL_SHUTDOWN while {st.reason}"
    if st.handover:
        reason += f", {st.reason}: GRACEFUL_SHUTDOWN until another site has it acknowledged"
    leaving = st.draining or st.handover
    return _scrub_route(inv, customer, site, prefix, leaving, role), peers, reason


# --- steps 4 and 5: RTBH --------------------------------------------------


def site_admin_states(inv: Inventory, intent: Intent, now: datetime) -> dict[str, AdminState]:
    """Each site's admin state as the routes see it: a drain whose time is over counts
    as DISABLED (nothing is announced from there any more)."""
    states: dict[str, AdminState] = {}
    for name in inv.sites:
        admin = intent.site_admin.get(name)
        if admin is None:
            states[name] = AdminState.ACTIVE
        elif admin.state is AdminState.DRAINING and _drain_end(inv, admin.since, now) <= now:
            states[name] = AdminState.DISABLED
        else:
            states[name] = admin.state
    return states


def _rtbh_routes(
    inv: Inventory,
    observed: Observed,
    prefix: IPNetwork,
    customer: Customer,
    cname: str,
    reason: str,
    admin: dict[str, AdminState] | None = None,
) -> dict[str, list[PlannedRoute]]:
    """Host route + the peer's RTBH community + NO_EXPORT, to the RTBH peers of every site
    where at least one of them (of the prefix's IP version) is established.

    RTBH routes move with everything else when a site is drained (``admin``): from a
    draining site they carry GRACEFUL_SHUTDOWN until the drain time ends, from a drained
    or disabled site they are not announced."""
    routes: dict[str, list[PlannedRoute]] = defaultdict(list)
    origin = (customer.asn,) if customer.origin_preserving else ()
    for site_name, site in inv.sites.items():
        state = (admin or {}).get(site_name, AdminState.ACTIVE)
        if state is AdminState.DISABLED:
            continue
        draining = state is AdminState.DRAINING
        capable = [
            p for p in site.peers if p.rtbh is not None and p.address.version == prefix.version
        ]
        if not _sessions_up(site_name, capable, observed):
            continue  # no RTBH-capable session of this IP version is established here
        by_community: dict[Community, list[str]] = defaultdict(list)
        for peer in site.peers:
            if peer.rtbh is not None and peer.address.version == prefix.version:
                by_community[peer.rtbh.community].append(peer.name)
        for community, peers in sorted(by_community.items()):
            marks = {community, BLACKHOLE, NO_EXPORT} | ({GRACEFUL_SHUTDOWN} if draining else set())
            route = Route(
                prefix=prefix,
                as_path=(inv.site_asn(site_name), *origin),
                communities=tuple(sorted(marks)),
                kind=RouteKind.RTBH,
            )
            why = f"{reason}, GRACEFUL_SHUTDOWN while the site drains" if draining else reason
            routes[site_name].append(PlannedRoute(route, tuple(peers), cname, why))
    return routes


def owner_of(inv: Inventory, prefix: IPNetwork) -> str | None:
    for cname, customer in inv.customers.items():
        if customer.authorising(prefix) is not None:
            return cname
    return None


# --- step 6 ---------------------------------------------------------------


def check_limits(inv: Inventory, routes: dict[str, list[PlannedRoute]]) -> list[str]:
    violations = []
    for site, planned in sorted(routes.items()):
        received: dict[str, set[IPNetwork]] = defaultdict(set)  # a peer gets one route/prefix
        announced = [p.route.prefix for p in planned if p.route.kind is RouteKind.SCRUB]
        for entry in planned:
            for name in entry.peers:
                received[name].add(entry.route.prefix)
        for peer in inv.sites[site].peers:
            count = len(received[peer.name])
            if count > peer.max_prefix:
                violations.append(
                    f"sites.{site}.peers.{peer.name}: plan has {count} routes, "
                    f"over its max_prefix {peer.max_prefix}"
                )
        for cname, customer in inv.customers.items():
            path = customer.return_paths.get(site)
            if not isinstance(path, GreReturnPath):
                continue
            for prefix in announced:
                if path.remote in prefix:
                    violations.append(
                        f"customers.{cname}.return_paths.{site}.remote: GRE endpoint "
                        f"{path.remote} lies inside {prefix}, diverted to {site}: "
                        "the tunnel would loop"
                    )
    return violations


# --- the pipeline ---------------------------------------------------------


def _verdict(
    want: _Want | None,
    sites: dict[str, SiteStatus],
    carriers: set[str],
    carried: set[IPNetwork],
    rtbh_used: bool,
) -> tuple[Protection, str]:
    if want is None or not want.prefixes:
        return Protection.IDLE, "no diversion"
    blockers = "; ".join(f"{s}: {st.reason}" for s, st in sites.items())
    missing = [p for p in want.ordered() if p not in carried]
    if carriers and missing:
        return Protection.UNPROTECTED, (
            f"{', '.join(map(str, missing))} not announced from any site ({blockers})"
        )
    if carriers:
        return Protection.PROTECTED, "announced from " + ", ".join(sorted(carriers))
    if rtbh_used:
        return Protection.LAST_RESORT, f"RTBH for named hosts, no site can scrub ({blockers})"
    return Protection.UNPROTECTED, f"no site can scrub ({blockers})"


def _merge(into: dict[str, list[PlannedRoute]], more: dict[str, list[PlannedRoute]]) -> None:
    for site, planned in more.items():
        into.setdefault(site, []).extend(planned)


def _no_site_can_scrub(
    inv: Inventory,
    wants: dict[str, _Want],
    status: dict[str, dict[str, SiteStatus]],
    carriers: dict[str, set[str]],
) -> set[str]:
    """Customers for which RTBH may be the last resort: they want protection, allow it,
    no site carries them and none could (RTBH is never the first answer)."""
    return {
        cname
        for cname, want in wants.items()
        if want.prefixes
        and inv.customers[cname].rtbh_last_resort
        and not carriers[cname]
        and not any(st.eligible or st.draining for st in status[cname].values())
    }


def plan(
    inv: Inventory, intent: Intent, observed: Observed, now: datetime, *, check: bool = True
) -> Plan:
    wants = wanted_prefixes(inv, intent)
    status = site_eligibility(inv, intent, observed, now)
    routes = scrub_routes(inv, wants, status)
    held, awaiting = handover_routes(inv, wants, status, routes, observed.acked)
    _merge(routes, held)
    carriers: dict[str, set[str]] = defaultdict(set)
    carried: dict[str, set[IPNetwork]] = defaultdict(set)
    for site, planned in routes.items():
        reaches: dict[tuple[str, ...], bool] = {}  # peers -> any session established
        for entry in planned:
            up = reaches.get(entry.peers)
            if up is None:
                up = reaches[entry.peers] = any(
                    observed.sessions.get((site, peer), False) for peer in entry.peers
                )
            if up:
                carriers[entry.customer].add(site)  # reaches the internet through a session
                carried[entry.customer].add(entry.route.prefix)
    last_resort = _no_site_can_scrub(inv, wants, status, carriers)
    admin = site_admin_states(inv, intent, now)
    rtbh_used: set[str] = set()
    for cname in sorted(last_resort):
        customer = inv.customers[cname]
        for target in sorted(wants[cname].targets, key=prefix_key):
            reason = f"RTBH last resort for {cname}: no site can scrub"
            extra = _rtbh_routes(inv, observed, target, customer, cname, reason, admin)
            if extra:
                rtbh_used.add(cname)
            _merge(routes, extra)
    expiries = []
    forced: dict[str, list[str]] = defaultdict(list)
    for rtbh in sorted(intent.rtbh, key=lambda e: e.id):
        owner_name = owner_of(inv, rtbh.prefix)
        if rtbh.expires_at <= now or owner_name is None or not _rtbh_length_ok(inv, rtbh.prefix):
            continue
        expiries.append(rtbh.expires_at)
        if not rtbh.forced and owner_name not in last_resort:
            continue  # a standby entry: only while no site can scrub a wanted diversion
        label = "forced RTBH" if rtbh.forced else "RTBH (no site can scrub)"
        reason = f"{label} #{rtbh.id} until {rtbh.expires_at:%Y-%m-%d %H:%M}: {rtbh.reason}"
        owner = inv.customers[owner_name]
        extra = _rtbh_routes(inv, observed, rtbh.prefix, owner, owner_name, reason, admin)
        if extra and not rtbh.forced:
            rtbh_used.add(owner_name)
        if extra and rtbh.forced:
            forced[owner_name].append(str(rtbh.prefix))
        _merge(routes, extra)
    verdicts: dict[str, CustomerVerdict] = {}
    for cname in inv.customers:
        want = wants.get(cname)
        state, reason = _verdict(
            want, status[cname], carriers[cname], carried[cname], cname in rtbh_used
        )
        if forced[cname]:  # whatever the state, a blackholed host must show
            reason += f"; forced RTBH in force for {', '.join(forced[cname])}"
        wanted = tuple(want.ordered()) if want else ()
        verdicts[cname] = CustomerVerdict(state, reason, status[cname], wanted)
    final = {site: _dedupe(routes.get(site, [])) for site in sorted(inv.sites)}
    violations = check_limits(inv, {s: list(p) for s, p in final.items()}) if check else []
    drain_ends = [
        _drain_end(inv, admin.since, now)
        for admin in intent.site_admin.values()
        if admin.state is AdminState.DRAINING and _drain_end(inv, admin.since, now) > now
    ]
    upcoming = [t for t in (*expiries, *drain_ends) if t > now]
    return Plan(
        final, verdicts, tuple(violations), min(upcoming, default=None), frozenset(awaiting)
    )


def _dedupe(planned: list[PlannedRoute]) -> tuple[PlannedRoute, ...]:
    """One entry per (route, peers); the first reason wins (input order is deterministic).
    Sorted by prefix, then route. Duplicates share a prefix, so only entries of the same
    prefix are compared (hashing every Route costs seconds at 50,000 routes)."""
    ordered = sorted(range(len(planned)), key=lambda i: (prefix_key(planned[i].route.prefix), i))
    out: list[PlannedRoute] = []
    for _key, group in groupby(ordered, key=lambda i: prefix_key(planned[i].route.prefix)):
        entries = [planned[i] for i in group]
        if len(entries) == 1:
            out.append(entries[0])
            continue
        seen: dict[tuple[Route, tuple[str, ...]], PlannedRoute] = {}
        for entry in entries:
            seen.setdefault((entry.route, entry.peers), entry)
        out.extend(sorted(seen.values(), key=lambda p: p.route))
    return tuple(out)


def worst_case(inv: Inventory, intent: Intent, now: datetime) -> Plan:
    """The plan with every site up and every return path healthy: the most routes any
    site can ever be asked to carry (failover only moves routes between such sites).
    RTBH candidates are included by counting them as announced too."""
    everything_up = Observed(
        sessions={(s, p.name): True for s, site in inv.sites.items() for p in site.peers}
    )
    base = plan(inv, intent, everything_up, now, check=False)
    routes = {site: list(planned) for site, planned in base.routes.items()}
    for cname, want in wanted_prefixes(inv, intent).items():
        customer = inv.customers[cname]
        if customer.rtbh_last_resort:
            for target in want.targets:
                _merge(routes, _rtbh_routes(inv, everything_up, target, customer, cname, "-"))
    for rtbh in intent.rtbh:
        owner_name = owner_of(inv, rtbh.prefix)
        if rtbh.forced or rtbh.expires_at <= now or owner_name is None:
            continue  # forced entries are already in the base plan
        owner = inv.customers[owner_name]
        if owner.rtbh_last_resort and _rtbh_length_ok(inv, rtbh.prefix):
            _merge(routes, _rtbh_routes(inv, everything_up, rtbh.prefix, owner, owner_name, "-"))
    return Plan(base.routes, base.customers, tuple(check_limits(inv, routes)), base.next_change_at)


def scrub_length_ok(prefix: IPNetwork) -> bool:
    return prefix.prefixlen <= MAX_SCRUB_LEN[prefix.version]


def _rtbh_length_ok(inv: Inventory, prefix: IPNetwork) -> bool:
    """Defence in depth: no RTBH route wider than the policy allows (host routes)."""
    return prefix.prefixlen >= inv.policy.rtbh.min_length(prefix.version)


__all__ = [
    "CustomerVerdict",
    "Plan",
    "PlannedRoute",
    "SiteStatus",
    "contains",
    "plan",
    "scrub_length_ok",
    "worst_case",
]
