"""The site's return-path loop: build the paths, probe them, record their health.

Runs as its own process under the site supervisor (``python -m
orchestrator.site.returnpaths SITE``, ``SCRUBCTL_DB`` in the environment), so
netlink work and probes never hold up the agent's ack loop; it talks to the
rest only through the store.

- **Reconcile** (netlink driver ``apply``, then the MSS clamp) at start, when
  the inventory's desired kernel state changes (looked at whenever the change
  counter moves: one integer read), and every ``RESYNC`` seconds (a dump, no
  write when nothing changed), so an interface that appears or comes back
  is noticed.
- **Probe** every built path at its ``interval``; a path the driver reports
  down (missing interface, next hop outside the line's subnets) is down with
  that cause and not probed. A path whose interface loses its carrier, is
  set down or deleted (the prober's link notifications) is down at once, with
  that cause; it is probed on and comes back after ``rise`` answers.
- **Record**: a health transition at once (bump + audit event), the figures
  (loss, RTT, last probe) at most once per ``FIGURES_EVERY`` seconds, without
  a bump.
- **History** (the customer page's loss/RTT plot): a sample of every path each
  ``HISTORY_EVERY`` seconds and one at each transition, not one per probe: a
  probe every 0.2 to 1 s would be up to 432,000 rows a day per path, and a
  plot over a day shows no more than one point a minute anyway; a transition
  sampled at once keeps an outage shorter than the period on the plot. Each
  write prunes the site's samples older than ``HISTORY_KEEP`` and beyond
  ``HISTORY_MAX`` per path (a flapping path's transitions), so the table
  stays bounded: about 1,440 rows per path.
- **Stop** (SIGTERM/SIGINT): the kernel objects stay. Routes and rules carry
  the clean traffic still arriving while peers converge after the site's
  withdrawal, and a loop restarted by the supervisor must not cut a working
  path (it starts from the stored health, see ``site/health.py``). The
  objects of a customer or path removed from the inventory are removed by the
  next reconcile.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from orchestrator.domain import Health, IPAddress
from orchestrator.drivers.netlink.desired import desired_state
from orchestrator.drivers.netlink.kernel import Kernel
from orchestrator.drivers.netlink.reconcile import ApplyReport, apply
from orchestrator.drivers.netlink.state import DesiredState
from orchestrator.drivers.probe import Outcome, Prober, ProbeTarget
from orchestrator.errors import NotFound, ScrubError
from orchestrator.inventory import Inventory
from orchestrator.service import observed
from orchestrator.service.observed import HistoryLimits, PathReading, PathSample
from orchestrator.service.paths import HISTORY_KEEP  # samples older are pruned: 24 h
from orchestrator.service.snapshot import load_inventory
from orchestrator.site import health
from orchestrator.site.health import PathHealth, Thresholds
from orchestrator.store.db import Database
from orchestrator.store.models import utcnow

log = logging.getLogger("scrubctl.returnpaths")
RESYNC = 5.0  # seconds between reconciliations without an inventory change
FIGURES_EVERY = 1.0  # seconds between writes of the loss/RTT figures
MAX_WAIT = 0.2  # longest wait on the sockets: how fast a stop or a change is seen
PROBE_TIMEOUT = 2.0  # an answer later than min(interval, this) counts as lost
HISTORY_EVERY = 60.0  # seconds between the samples of each path's history
HISTORY_MAX = 2_000  # samples kept per path at most (a day of minutes plus transitions)


@dataclass
class Path:
    """One customer's return path at this site, as the loop tracks it."""

    customer: str
    kind: str
    interface: str | None
    target: IPAddress
    interval: float
    limits: Thresholds
    state: PathHealth
    cause: str | None = None  # the driver's: not built, not probed
    due: float = 0.0
    checked_at: datetime | None = None


class ReturnPathLoop:
    def __init__(
        self,
        db: Database,
        site: str,
        kernel: Kernel,
        prober: Prober,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
        clamp: Callable[[DesiredState], None] | None = None,
    ) -> None:
        self.db, self.site, self.kernel, self.prober = db, site, kernel, prober
        self.clock, self.wall, self.clamp = clock, wall, clamp
        self.paths: dict[str, Path] = {}
        self.desired: DesiredState | None = None
        self.generation = -1
        self.next_resync = 0.0
        self.next_figures = 0.0
        self.next_history = 0.0
        self.pending: dict[str, PathReading] = {}  # readings not yet written

    # --- the inventory and the kernel ---------------------------------------

    def _inventory(self) -> Inventory:
        with self.db.read() as session:
            inv = load_inventory(session)
        if self.site not in inv.sites:
            raise NotFound(f"unknown site {self.site!r}", where="SITE")
        return inv

    def refresh(self) -> None:
        """Reconcile if the inventory's desired state changed or a resync is due."""
        now = self.clock()
        generation = self.db.generation()
        if generation != self.generation:
            self.generation = generation
            inv = self._inventory()
            desired = desired_state(inv, self.site)
            if desired != self.desired:
                self.reconcile(inv, desired)
                return
        if now >= self.next_resync and self.desired is not None:
            self.reconcile(self._inventory(), self.desired)

    def reconcile(self, inv: Inventory, desired: DesiredState) -> ApplyReport:
        report = apply(self.kernel, desired)
        for message in (*report.errors, *report.warnings):
            log.warning("%s", message)
        if report.steps:
            log.info("return paths: %d kernel writes", len(report.steps))
        if self.clamp is not None and desired != self.desired:
            try:
                self.clamp(desired)
            except ScrubError as exc:
                log.error("MSS clamp: %s", exc)
        self.desired = desired
        self.next_resync = self.clock() + RESYNC
        self._update_paths(inv, report, rebuilt=bool(report.steps))
        return report

    def _update_paths(self, inv: Inventory, report: ApplyReport, *, rebuilt: bool) -> None:
        stored = observed.stored_health(self.db, self.site) if not self.paths else {}
        before = {c: (p.interface, p.target, p.cause is None) for c, p in self.paths.items()}
        paths: dict[str, Path] = {}
        for status in report.paths:
            check = inv.customers[status.customer].return_paths[self.site].probe
            assert check.target is not None  # .probe fills in the path's far end
            old = self.paths.get(status.customer)
            if old is not None:
                state = old.state
            else:
                seen = stored.get(status.customer)
                state = health.start(seen.health, seen.cause) if seen else health.start(None)
                if seen is None or seen.health is None:  # new: recorded as unknown
                    self._queue(status.customer, state, transition=True)
            path = Path(
                customer=status.customer, kind=status.kind, interface=status.interface,
                target=check.target, interval=check.interval,
                limits=Thresholds(fall=check.threshold, rise=check.rise), state=state,
                cause=status.cause, due=old.due if old else self.clock(),
                checked_at=old.checked_at if old else None,
            )  # fmt: skip
            if status.cause is not None:
                step = health.broken(path.state, status.cause)
                if step.state != path.state:
                    path.state = step.state
                    self._queue(path.customer, path.state, transition=step.changed)
            paths[status.customer] = path
        removed = set(self.paths) - set(paths)
        self.paths = paths
        if removed or not before:
            observed.forget_paths(self.db, self.site, keep=list(paths))
        after = {c: (p.interface, p.target, p.cause is None) for c, p in paths.items()}
        if rebuilt or after != before:
            self.prober.configure(self._targets())

    def _targets(self) -> list[ProbeTarget]:
        return [
            ProbeTarget(
                key=p.customer,
                interface=p.interface,
                target=p.target,
                timeout=min(p.interval, PROBE_TIMEOUT),
            )
            for p in self.paths.values()
            if p.cause is None and p.interface is not None
        ]

    # --- probing ------------------------------------------------------------

    def send_due(self) -> float:
        """Send every probe that is due; seconds until the next one is."""
        now = self.clock()
        wait = MAX_WAIT
        for path in self.paths.values():
            if path.cause is not None:
                continue
            if now >= path.due:
                self.prober.send(path.customer)
                # On time: keep the cadence. Late (the loop was held up): the next probe
                # one interval from now, not at once (a burst would make `rise` answers
                # in less than `rise` intervals).
                late = now - path.due > path.interval / 2
                path.due = now + path.interval if late else path.due + path.interval
            wait = min(wait, path.due - now)
        return max(0.0, wait)

    def handle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            path = self.paths.get(outcome.key)
            if path is None or path.cause is not None:
                continue  # a probe of a path reconfigured meanwhile
            if outcome.link_down:  # the interface itself: down now, no streak to wait for
                step = health.broken(path.state, outcome.detail)
                path.state = step.state
                self._queue(path.customer, path.state, transition=step.changed)
                continue
            target = str(path.target)
            step = health.observe(path.state, outcome.ok, outcome.rtt_ms, path.limits, target)
            path.state, path.checked_at = step.state, self.wall()
            if step.changed and outcome.detail and path.state.health is Health.DOWN:
                path.state = replace(path.state, cause=f"{path.state.cause} ({outcome.detail})")
            self._queue(path.customer, path.state, transition=step.changed)

    def _queue(self, customer: str, state: PathHealth, *, transition: bool) -> None:
        path = self.paths.get(customer)
        earlier = self.pending.get(customer)
        self.pending[customer] = PathReading(
            customer=customer,
            health=state.health,
            cause=state.cause,
            loss=state.loss,
            rtt_ms=state.rtt_ms,
            checked_at=path.checked_at if path else None,
            transition=transition or (earlier is not None and earlier.transition),
        )

    def flush(self, *, force: bool = False) -> None:
        """Write transitions now, figures at most every ``FIGURES_EVERY`` seconds, a
        history sample of every path every ``HISTORY_EVERY`` seconds (of a path whose
        health changed: at once)."""
        now = self.clock()
        due = force or now >= self.next_figures
        readings = [r for r in self.pending.values() if r.transition or due]
        sampling = bool(self.paths) and now >= self.next_history
        sampled = self.paths if sampling else {r.customer for r in readings if r.transition}
        samples = [self._sample(c) for c in sorted(sampled) if c in self.paths]
        if not readings and not samples:
            return
        limits = HistoryLimits(HISTORY_KEEP, HISTORY_MAX) if sampling else None
        observed.record_path_health(self.db, self.site, readings, self.wall(),
                                    samples=samples, limits=limits)  # fmt: skip
        for reading in readings:
            del self.pending[reading.customer]
        if due:
            self.next_figures = now + FIGURES_EVERY
        if sampling:
            self.next_history = now + HISTORY_EVERY

    def _sample(self, customer: str) -> PathSample:
        state = self.paths[customer].state
        return PathSample(customer, state.health, state.loss, state.rtt_ms)

    def step(self) -> None:
        """One turn: look at the inventory, send what is due, wait for answers, record."""
        self.refresh()
        wait = self.send_due()
        self.handle(self.prober.collect(wait))
        self.flush()

    def run(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            try:
                self.step()
            except (ScrubError, SQLAlchemyError) as exc:  # the store busy or gone: again
                log.warning("return paths: %s", exc)
                time.sleep(MAX_WAIT)


def _kernel(netns: str | None) -> Kernel:
    from orchestrator.drivers.netlink.pyroute import PyrouteKernel

    return PyrouteKernel(netns=netns)


def _clamper(site: str, netns: str | None) -> Callable[[DesiredState], None]:
    from orchestrator.drivers.netlink.mss import MssClamper, detect_backend

    clamper = MssClamper(site, detect_backend(netns), netns)

    def clamp(desired: DesiredState) -> None:
        clamper.apply(desired.tunnels)

    return clamp


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestrator.site.returnpaths SITE [--netns NS]`` (``SCRUBCTL_DB`` set)."""
    from orchestrator.drivers.probe import IcmpProber
    from orchestrator.store.db import resolve_url

    parser = argparse.ArgumentParser(prog="orchestrator.site.returnpaths")
    parser.add_argument("site")
    parser.add_argument("--netns", help="work in this network namespace (tests, labs)")
    parser.add_argument("--no-mss", action="store_true", help="leave MSS clamping alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s return-paths %(message)s")
    stop = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    db = Database(resolve_url(None))
    kernel = _kernel(args.netns)
    prober = IcmpProber(netns=args.netns)
    clamp = None if args.no_mss else _clamper(args.site, args.netns)
    loop = ReturnPathLoop(db, args.site, kernel, prober, clamp=clamp)
    try:
        loop.run(lambda: stop)
        loop.flush(force=True)
    except ScrubError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return int(exc.exit_code)
    finally:
        prober.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
