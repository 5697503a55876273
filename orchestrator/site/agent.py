"""The site agent: ExaBGP's API process for one scrubbing site.

Loop: plan for this site -> diff against what ExaBGP holds -> send only the
difference (announcements before withdrawals, grouped by attributes) -> wait
for each ack -> record (the acks, and how long the sync took). It wakes when
the database's change counter moves, when a planned change falls due (drain
end, RTBH expiry), or when ExaBGP reports a session change, which it records as
observed state for the planner. How it learns of a change is its ``Waker``
(``site/waker.py``): on PostgreSQL a NOTIFY, on an SQLite file inotify, wakes it
at once, in the same ``select`` that waits on ExaBGP's pipe; where neither can
be had it reads the counter every 20 ms.

On start it asks ExaBGP what it still announces (``show adj-rib out json``):
after a respawn ExaBGP keeps its routes and replays nothing, so the first
sync withdraws what is stale and sends what is missing, and nothing else.

Run by ExaBGP as ``python -m orchestrator.site.agent SITE`` with ``SCRUBCTL_DB``
in the environment (``scrubctl site run`` sets it up).
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator.domain import IPAddress, IPNetwork, Route, RouteKind
from orchestrator.drivers.exabgp.api import (
    SHOW_RIB,
    Ack,
    Message,
    RibEntry,
    Shutdown,
    StateEvent,
    parse_message,
)
from orchestrator.drivers.exabgp.channel import Channel, StdioChannel
from orchestrator.errors import DatabaseBusy, ScrubError
from orchestrator.inventory import Inventory
from orchestrator.planner import Plan, plan
from orchestrator.service import observed
from orchestrator.service.snapshot import snapshot
from orchestrator.site.delivery import ANNOUNCE, WITHDRAW, Delivery, Refusal, printable
from orchestrator.site.waker import PollWaker, Waker, waker_for
from orchestrator.store.db import Database, resolve_url
from orchestrator.store.models import utcnow

log = logging.getLogger("scrubctl.agent")
ACK_TIMEOUT = 30.0
RETRY_AFTER = timedelta(seconds=5)
EVENTS_PER_SYNC = 20  # agent.error events one sync writes; a summary stands for the rest


class ExaBgpGone(Exception):
    """ExaBGP closed the pipe or said ``shutdown``."""


@dataclass
class SyncResult:
    announced: int = 0
    withdrawn: int = 0
    errors: list[str] = field(default_factory=list)  # everything that went wrong this sync
    conditions: list[str] = field(default_factory=list)  # skipped rows, peers over max_prefix
    refused: list[Refusal] = field(default_factory=list)  # routes not sent
    report: list[str] = field(default_factory=list)  # what is new: recorded as agent.error


class Agent:
    def __init__(
        self,
        db: Database,
        site: str,
        channel: Channel,
        *,
        clock: Callable[[], datetime] = utcnow,
        poll: float = 0.02,
        waker: Waker | None = None,
    ) -> None:
        self.db = db
        self.site = site
        self.channel = channel
        self.clock = clock
        self.waker = waker or PollWaker(poll)
        self.wakes: Counter[str] = Counter()  # why each sync ran: notify, poll, timer
        self.held: dict[IPAddress, dict[IPNetwork, Route]] = {}
        self.generation = -1
        self.wake_at: datetime | None = None
        self._rib_buffer: list[RibEntry] | None = None
        self._peer_names: dict[IPAddress, str] = {}
        self._first_ack_at: datetime | None = None
        self._syncing = -1  # the change counter the running sync started from
        self._sync_started: float | None = None  # time.monotonic() when it started
        self._states: dict[str, tuple[str, str, datetime]] = {}  # not yet recorded
        self.delivery = Delivery(self._command, clock, RETRY_AFTER)
        self._conditions: set[str] = set()  # skipped rows, peers over limit: reported
        self._failure: str | None = None  # the last sync's unexpected error, reported

    # --- messages -------------------------------------------------------------

    def _handle(self, message: Message) -> Ack | None:
        """Dispatch one message; return it if it is an ack for the caller."""
        if isinstance(message, Ack):
            return message
        if isinstance(message, Shutdown):
            raise ExaBgpGone("ExaBGP is shutting down")
        if isinstance(message, StateEvent):
            self._on_state(message)
        elif isinstance(message, RibEntry) and self._rib_buffer is not None:
            self._rib_buffer.append(message)
        return None

    def _on_state(self, event: StateEvent) -> None:
        name = self._peer_names.get(event.peer, str(event.peer))
        log.info("peer %s (%s) %s %s", name, event.peer, event.state, event.reason)
        # ExaBGP keeps its adj-rib-out across a session reset and re-sends it when the
        # session returns (adj-rib-out true): ``held`` stays as it is.
        self._states[name] = (event.state, event.reason, self.clock())
        self.flush_states()

    def flush_states(self) -> None:
        """Write session changes; while the database is busy they wait here (the
        latest per peer) rather than being lost or crashing the agent."""
        for name, (state, reason, at) in list(self._states.items()):
            try:
                observed.record_session(self.db, self.site, name, state, reason, at)
            except DatabaseBusy as exc:
                log.warning("session %s %s not recorded yet: %s", name, state, exc)
                return
            del self._states[name]

    def _receive(self, timeout: float) -> Message | None:
        try:
            line = self.channel.receive(timeout)
        except EOFError as exc:
            raise ExaBgpGone(str(exc)) from None
        return None if line is None else parse_message(line)

    def _command(self, line: str) -> bool:
        """Send one command and wait for its ack, handling whatever arrives meanwhile."""
        try:
            self.channel.send(line)
        except OSError as exc:  # the pipe is gone with ExaBGP
            raise ExaBgpGone(f"cannot write to ExaBGP: {exc}") from None
        deadline = time.monotonic() + ACK_TIMEOUT
        while time.monotonic() < deadline:
            message = self._receive(min(1.0, deadline - time.monotonic()))
            if message is not None and (ack := self._handle(message)) is not None:
                return ack.ok
        raise ExaBgpGone(f"no ack within {ACK_TIMEOUT:.0f} s for: {line[:80]}")

    def pump(self, timeout: float) -> None:
        """Handle messages that arrive within ``timeout`` (state events); a change the
        waker signals ends the wait early."""
        try:
            line = self.channel.receive(timeout, self.waker.fileno())
        except EOFError as exc:
            raise ExaBgpGone(str(exc)) from None
        message = None if line is None else parse_message(line)
        while message is not None:
            self._handle(message)
            message = self._receive(0)

    # --- start-up -------------------------------------------------------------

    def learn(self) -> None:
        """Ask ExaBGP what it still announces (after a respawn it keeps its routes)."""
        self._rib_buffer = []
        try:
            if not self._command(SHOW_RIB):
                raise ExaBgpGone("ExaBGP refused to show its adj-rib-out")
            self.held = {}
            for entry in self._rib_buffer:
                self.held.setdefault(entry.peer, {})[entry.route.prefix] = entry.route
        finally:
            self._rib_buffer = None
        count = sum(len(routes) for routes in self.held.values())
        log.info("ExaBGP holds %d route(s) for site %s", count, self.site)

    # --- the loop ---------------------------------------------------------------

    def due(self) -> bool:
        return self._why(0) is not None

    def _why(self, notified: int) -> str | None:
        """Why a sync is due (``notified``: notifications the waker consumed), or None."""
        if self.db.generation() != self.generation:
            return "notify" if notified else "poll"
        if self.wake_at is not None and self.clock() >= self.wake_at:
            return "timer"
        return None

    def _wait(self) -> float:
        """How long the loop may wait for ExaBGP or the waker: the waker's timeout,
        shortened to the next planned change."""
        timeout = self.waker.timeout()
        if self.wake_at is not None:
            timeout = min(timeout, max(0.0, (self.wake_at - self.clock()).total_seconds()))
        return timeout

    def step(self) -> SyncResult | None:
        """One turn of the loop. Nothing but ExaBGP going away ends the agent: ExaBGP
        respawns a dying API process only a few times a minute and then exits, taking
        the whole site down. A busy database delays the turn; any other failure keeps
        what ExaBGP holds, is recorded, and the turn is tried again after RETRY_AFTER."""
        try:
            self.pump(self._wait())
            notified = self.waker.drain()
            self.flush_states()
            why = self._why(notified)
            if why is None:
                return None
            self.wakes[why] += 1
            log.info("syncing (woken by %s)", why)
            return self.sync()
        except DatabaseBusy as exc:
            log.warning("database busy, retrying: %s", exc)
            self.pump(1.0)  # keep reading ExaBGP meanwhile
            return None
        except ExaBgpGone:
            raise
        except Exception as exc:
            self._failed(exc)
            return None

    def _failed(self, exc: Exception) -> None:
        log.exception("sync failed; keeping what ExaBGP holds, retrying in %s", RETRY_AFTER)
        now = self.clock()
        self._record_sync(None, 1, now)
        self.generation = self._syncing  # only a new change or the retry time wakes us
        self.wake_at = now + RETRY_AFTER
        text = printable(f"sync failed: {type(exc).__name__}: {exc}")
        if text == self._failure:
            return
        try:
            observed.record_agent_event(self.db, self.site, "agent.error", text, now)
            self._failure = text
        except Exception:  # the database may be what failed: the log has it
            log.exception("could not record the failure")

    def load_peers(self) -> None:
        with self.db.read() as session:
            inv = snapshot(session, self.clock()).inventory
        if self.site not in inv.sites:
            raise ExaBgpGone(f"site {self.site!r} is not in the inventory")
        self._peer_names = {p.address: p.name for p in inv.sites[self.site].peers}

    def run(self, stop: Callable[[], bool]) -> None:
        self.load_peers()
        self.learn()
        while not stop():
            self.step()

    def desired(self, inv: Inventory, result: Plan) -> dict[IPAddress, dict[IPNetwork, Route]]:
        """Peer address -> prefix -> route; one route per prefix and peer, the smallest
        if the plan has several (as ``sorted`` would pick it, without sorting 50,000)."""
        addresses = {p.name: p.address for p in inv.sites[self.site].peers}
        out: dict[IPAddress, dict[IPNetwork, Route]] = {a: {} for a in addresses.values()}
        for planned in result.routes.get(self.site, ()):
            route = planned.route
            for name in planned.peers:
                table = out[addresses[name]]
                current = table.get(route.prefix)
                if current is None or route < current:
                    table[route.prefix] = route
        return out

    def sync(self) -> SyncResult:
        self._sync_started = time.monotonic()
        generation = self._syncing = self.db.generation()
        now = self.clock()
        with self.db.read() as session:
            snap = snapshot(session, now)
        inv = snap.inventory
        if self.site not in inv.sites:
            raise ExaBgpGone(f"site {self.site!r} is no longer in the inventory")
        self._peer_names = {p.address: p.name for p in inv.sites[self.site].peers}
        outcome = SyncResult(conditions=list(snap.problems))
        # No limit check here: the service refuses intents over the limits, and
        # _sync_peer holds announcements over a peer's max_prefix itself.
        result = plan(inv, snap.intent, snap.observed, now, check=False)
        wanted = self.desired(inv, result)
        self._first_ack_at = None
        limits = {p.address: p.max_prefix for p in inv.sites[self.site].peers}
        self.delivery.begin()
        for peer in sorted(set(wanted) | set(self.held), key=str):
            self._sync_peer(peer, wanted.get(peer, {}), limits.get(peer), outcome)
        self.delivery.end()
        self._record_acks(result)
        self._hand_over(result)
        self.generation, self._failure = generation, None
        # Only ExaBGP's refusals are retried by time; everything else here can change
        # only with the database, whose change counter wakes the agent anyway.
        wakes = (result.next_change_at, self.delivery.next_retry())
        self.wake_at = min((t for t in wakes if t), default=None)
        self._note_conditions(outcome)
        self._report(outcome.report, now)
        # every planned route acknowledged: ``--wait`` may go on
        synced = None if outcome.errors else generation
        self._record_sync(synced, len(outcome.errors), self.clock())
        return outcome

    def _record_sync(self, generation: int | None, errors: int, now: datetime) -> None:
        """How long the sync that started last took, and its errors (``/metrics``)."""
        if self._sync_started is None:
            return
        took = time.monotonic() - self._sync_started
        self._sync_started = None
        run = observed.SyncRun(duration_s=took, errors=errors, generation=generation)
        try:
            observed.record_sync(self.db, self.site, run, now)
        except Exception:
            if generation is not None:
                raise  # ``--wait`` depends on it: the sync is retried
            log.exception("could not record the sync")  # the database may be what failed

    def _hand_over(self, result: Plan) -> None:
        """Make-before-break: if a site leaving a customer waits for a prefix this site
        now holds, wake the agents (acknowledgements alone bump nothing). The plan
        awaits only pairs not yet recorded as acknowledged, so this does not repeat."""
        if not result.awaiting:
            return
        held = {prefix for routes in self.held.values() for prefix in routes}
        if any(site == self.site and prefix in held for site, prefix in result.awaiting):
            observed.wake_agents(self.db)

    def _note_conditions(self, outcome: SyncResult) -> None:
        """Stored rows the snapshot skipped, peers whose plan exceeds max_prefix: each is
        reported once while it lasts, and again if it comes back after a fix."""
        outcome.errors[:0] = outcome.conditions
        outcome.report[:0] = [c for c in outcome.conditions if c not in self._conditions]
        self._conditions = set(outcome.conditions)

    def _report(self, lines: list[str], now: datetime) -> None:
        for line in lines[:EVENTS_PER_SYNC]:
            log.error("%s", line)
            observed.record_agent_event(self.db, self.site, "agent.error", line, now)
        if len(lines) > EVENTS_PER_SYNC:
            more = f"{len(lines) - EVENTS_PER_SYNC} more refusal(s) this sync, not listed"
            observed.record_agent_event(self.db, self.site, "agent.error", more, now)

    def _sync_peer(
        self, peer: IPAddress, wanted: dict[IPNetwork, Route], limit: int | None,
        outcome: SyncResult,
    ) -> None:  # fmt: skip
        held = self.held.setdefault(peer, {})
        name = self._peer_names.get(peer, str(peer))
        add = [r for p, r in wanted.items() if p not in held or held[p].wire_key() != r.wire_key()]
        remove = [p for p in held if p not in wanted]
        if limit is not None and len(wanted) > limit:
            error = (
                f"{name}: plan has {len(wanted)} routes, over max_prefix {limit}; "
                "holding new announcements"
            )
            outcome.conditions.append(error)
            add = []
        now = self.clock()
        announced = self.delivery.send(peer, ANNOUNCE, add, now)
        acked = announced.accepted
        self._first_ack_at = self._first_ack_at or announced.first_done_at
        held.update((r.prefix, r) for r in acked)
        withdrawn = self.delivery.send(peer, WITHDRAW, remove, now)
        for prefix in withdrawn.accepted:
            held.pop(prefix, None)
        gone = [str(p) for p in withdrawn.accepted]
        for sent in (announced, withdrawn):
            outcome.refused.extend(sent.refused)
            outcome.errors.extend(r.describe(name) for r in sent.refused)
            outcome.report.extend(r.describe(name) for r in sent.new)
        outcome.announced += len(acked)
        outcome.withdrawn += len(gone)
        observed.record_routes(self.db, self.site, name, acked, gone, now)

    def _record_acks(self, result: Plan) -> None:
        held_pairs = {(p, prefix) for p, routes in self.held.items() for prefix in routes}
        addresses = {name: address for address, name in self._peer_names.items()}
        carried = {
            planned.customer
            for planned in result.routes.get(self.site, ())
            if planned.route.kind is RouteKind.SCRUB
            and any((addresses.get(n), planned.route.prefix) in held_pairs for n in planned.peers)
        }
        acked_at = self._first_ack_at or self.clock()  # when ExaBGP said done, not later
        observed.record_first_acks(self.db, self.site, carried, acked_at)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m orchestrator.site.agent SITE (SCRUBCTL_DB in env)\n")
        return 2
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="agent %(levelname)s %(message)s"
    )
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        db = Database(resolve_url(None))
        db.ensure_schema()
        waker = waker_for(db)
    except ScrubError as exc:
        log.error("%s", exc)
        return 2
    agent = Agent(db, args[0], StdioChannel(), waker=waker)
    try:
        agent.run(lambda: stopping)
    except ExaBgpGone as exc:
        log.info("stopping: %s", exc)
    finally:
        waker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
