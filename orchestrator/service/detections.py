"""Use case: a detector (FastNetMon, a script) reports an attack on an address.

``ban`` finds the customer whose authorised prefix holds the address and starts
an on-demand diversion of that prefix naming the address as target (RTBH of
that host stays the last resort). One detection is open per address: a second
``ban`` of the same address changes nothing (it is the same attack), or, while
a hold-down runs, cancels it (the attack came back).

``unban`` stops the diversion the detection started: at once, or after the
hold-down (``hold_down``: the diversion stays for that long after the detector
calls the attack over, so an attack that pauses and comes back is not
withdrawn and re-announced; ``release_due`` then stops it). A diversion the
detection found already running (an operator's identical one) is left alone.

An address no customer owns, or an outgoing attack (scrubbing carries traffic
*towards* a customer), is refused: an audit event says so, nothing is announced.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.domain import host_route
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.inventory import Inventory
from orchestrator.planner import owner_of
from orchestrator.service.common import check_actor, check_text, record_event
from orchestrator.service.diversions import (
    DiversionView,
    DivertRequest,
    parse_address,
    start_in,
    stop_rows,
    view,
)
from orchestrator.service.results import Result, Time
from orchestrator.service.snapshot import load_inventory
from orchestrator.store.db import Database, unchanged
from orchestrator.store.models import DetectionRow, DiversionRow

DIRECTIONS = ("incoming", "outgoing")
ACTIONS = ("ban", "unban")
MAX_RATE = 2**62  # packets or bits per second: any real figure, and fits a BIGINT
MAX_HOLD_DOWN = timedelta(days=1)

Outcome = Literal["diverted", "already-diverted", "resumed", "stopped", "hold-down", "released"]


class DetectionView(Result):
    id: int
    address: str
    customer: str
    detector: str
    direction: str
    pps: int | None
    bps: int | None
    diversion_id: int
    owns_diversion: bool  # False: the detection found an operator's diversion running
    banned_by: str
    banned_at: Time
    unbanned_by: str | None
    unbanned_at: Time | None
    release_at: Time | None  # the hold-down ends then
    ended_at: Time | None
    state: Literal["open", "hold-down", "ended"]


class DetectionResult(Result):
    outcome: Outcome
    changed: bool  # False: a repeated report; nothing written
    detection: DetectionView
    diversion: DiversionView
    note: str


class Report:
    """One detector report, checked: every field is typed before anything is read."""

    def __init__(self, address: str, direction: str, action: str, detector: str,
                 pps: int | None = None, bps: int | None = None) -> None:  # fmt: skip
        self.address: IPv4Address | IPv6Address = parse_address(address, "address")
        if direction not in DIRECTIONS:
            raise InvalidInput(f"{direction!r} is not incoming or outgoing", where="direction")
        if action not in ACTIONS:
            raise InvalidInput(f"{action!r} is not ban or unban", where="action")
        for where, rate in (("pps", pps), ("bps", bps)):
            if rate is not None and not 0 <= rate <= MAX_RATE:
                raise InvalidInput(f"{rate} is not between 0 and {MAX_RATE}", where=where)
        self.direction, self.action = direction, action
        self.detector = check_actor(detector, "detector")
        self.pps, self.bps = pps, bps

    def describe(self) -> str:
        rates = ", ".join(f"{v} {unit}" for unit, v in (("pps", self.pps), ("bps", self.bps))
                          if v is not None)  # fmt: skip
        return f"{self.detector}: {self.direction} attack on {self.address}" + (
            f" ({rates})" if rates else ""
        )


def detection_view(row: DetectionRow) -> DetectionView:
    state: Literal["open", "hold-down", "ended"] = (
        "ended" if row.ended_at else "hold-down" if row.release_at else "open"
    )
    return DetectionView(
        id=row.id, address=row.address, customer=row.customer, detector=row.detector,
        direction=row.direction, pps=row.pps, bps=row.bps, diversion_id=row.diversion_id,
        owns_diversion=row.owns_diversion, banned_by=row.banned_by, banned_at=row.banned_at,
        unbanned_by=row.unbanned_by, unbanned_at=row.unbanned_at, release_at=row.release_at,
        ended_at=row.ended_at, state=state,
    )  # fmt: skip


def _open(session: Session, address: str) -> DetectionRow | None:
    query = select(DetectionRow).where(
        DetectionRow.address == address, DetectionRow.ended_at.is_(None)
    )
    return session.scalars(query.order_by(DetectionRow.id).limit(1)).first()


def _result(session: Session, row: DetectionRow, outcome: Outcome, changed: bool,
            note: str) -> DetectionResult:  # fmt: skip
    diversion = session.get(DiversionRow, row.diversion_id)
    assert diversion is not None  # a foreign key
    return DetectionResult(outcome=outcome, changed=changed, detection=detection_view(row),
                           diversion=view(diversion), note=note)  # fmt: skip


def _refuse(db: Database, report: Report, message: str, where: str, actor: str,
            now: datetime) -> InvalidInput:  # fmt: skip
    """Record the refusal (its own transaction: the error must not roll it back)."""
    with db.write(bump=False) as session:  # an event only: no plan changes
        record_event(session, at=now, actor=actor, action="detection.refused",
                     target=str(report.address), reason=message,
                     detail={"detector": report.detector, "direction": report.direction,
                             "action": report.action, "pps": report.pps,
                             "bps": report.bps})  # fmt: skip
    return InvalidInput(message, where=where, hint="nothing was announced")


def _owner(db: Database, report: Report, actor: str, now: datetime) -> str:
    if report.direction == "outgoing":
        raise _refuse(db, report, "outgoing attacks are not diverted (scrubbing carries "
                      "traffic towards a customer)", "direction", actor, now)  # fmt: skip
    with db.read() as session:
        inv = load_inventory(session)
    owner = owner_of(inv, host_route(report.address))
    if owner is None:
        raise _refuse(db, report, f"{report.address} is not inside any customer's prefixes",
                      "address", actor, now)  # fmt: skip
    return owner


def report(
    db: Database, report: Report, *, actor: str, now: datetime, hold_down: timedelta
) -> DetectionResult:
    """``ban`` or ``unban`` ``report.address``; ``actor`` is who called (a token's name)."""
    if not timedelta(0) <= hold_down <= MAX_HOLD_DOWN:
        raise InvalidInput(f"must be between 0 and {MAX_HOLD_DOWN.days}d", where="hold_down")
    customer = _owner(db, report, actor, now)
    if report.action == "ban":
        return _ban(db, report, customer, actor, now)
    return _unban(db, report, actor, now, hold_down)


def _ban(db: Database, report: Report, customer: str, actor: str, now: datetime
         ) -> DetectionResult:  # fmt: skip
    address = str(report.address)
    with db.write() as session:
        inv = load_inventory(session)
        row = _open(session, address)
        if row is not None:
            diversion = session.get(DiversionRow, row.diversion_id)
            if diversion is not None and diversion.stopped_at is None:
                return _again(session, row, report, actor, now)
            row.ended_at = now  # its diversion was stopped by someone: a new attack
        return _start(session, inv, report, customer, actor, now)


def _again(session: Session, row: DetectionRow, report: Report, actor: str, now: datetime
           ) -> DetectionResult:  # fmt: skip
    if row.release_at is None:
        result = _result(
            session,
            row,
            "already-diverted",
            False,
            f"{row.address} already diverted by diversion #{row.diversion_id}",
        )
        unchanged(session)
        return result
    row.release_at, row.unbanned_at, row.unbanned_by = None, None, None
    record_event(session, at=now, actor=actor, action="detection.ban", target=row.address,
                 reason=report.describe(), detail={"detection": row.id, "resumed": True,
                                                   "diversion": row.diversion_id})  # fmt: skip
    return _result(session, row, "resumed", True,
                   f"{row.address} attacked again: hold-down cancelled, diversion "
                   f"#{row.diversion_id} stays")  # fmt: skip


def _start(session: Session, inv: Inventory, report: Report, customer: str, actor: str,
           now: datetime) -> DetectionResult:  # fmt: skip
    entry = inv.customers[customer].authorising(host_route(report.address))
    assert entry is not None  # owner_of found it
    reason = check_text(report.describe(), "detector")
    request = DivertRequest(customer=customer, reason=reason, prefixes=(str(entry.prefix),),
                            targets=(str(report.address),))  # fmt: skip
    detail = {"detector": report.detector, "address": str(report.address),
              "direction": report.direction, "pps": report.pps, "bps": report.bps}  # fmt: skip
    started = start_in(session, inv, request, reason=reason, actor=actor, now=now,
                       action="detection.ban", detail=detail)  # fmt: skip
    if not started.created:
        record_event(session, at=now, actor=actor, action="detection.ban",
                     target=customer, reason=reason,
                     detail={"diversion": started.row.id, **detail})  # fmt: skip
    row = DetectionRow(address=str(report.address), customer=customer, detector=report.detector,
                       direction=report.direction, pps=report.pps, bps=report.bps,
                       diversion_id=started.row.id, owns_diversion=started.created,
                       banned_by=actor, banned_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    what = "started" if started.created else "already running (an operator's; left alone)"
    return _result(session, row, "diverted", True,
                   f"{customer}'s {entry.prefix} diverted for {report.address}: diversion "
                   f"#{started.row.id} {what}")  # fmt: skip


def _unban(db: Database, report: Report, actor: str, now: datetime, hold_down: timedelta
           ) -> DetectionResult:  # fmt: skip
    address = str(report.address)
    with db.write() as session:
        row = _open(session, address)
        if row is None:
            raise NotFound(f"no open detection for {address}", where="address")
        if row.release_at is not None:
            result = _result(
                session,
                row,
                "hold-down",
                False,
                f"{address} already in hold-down until {row.release_at:%F %T}Z",
            )
            unchanged(session)
            return result
        if hold_down:
            row.unbanned_at, row.unbanned_by, row.release_at = now, actor, now + hold_down
            record_event(session, at=now, actor=actor, action="detection.unban", target=address,
                         reason=report.describe(), detail={"detection": row.id,
                         "release_at": row.release_at.isoformat()})  # fmt: skip
            return _result(session, row, "hold-down", True,
                           f"diversion #{row.diversion_id} stops at {row.release_at:%F %T}Z "
                           f"unless {address} is attacked again")  # fmt: skip
        row.unbanned_at, row.unbanned_by = now, actor
        _end(session, row, "detection.unban", actor, report.describe(), now)
        return _result(session, row, "stopped", True, _ended_note(row))


def _end(session: Session, row: DetectionRow, action: str, actor: str, reason: str,
         now: datetime) -> None:  # fmt: skip
    """Close the detection and stop its diversion (if it started it and it still runs)."""
    row.ended_at = now
    diversion = session.get(DiversionRow, row.diversion_id)
    if row.owns_diversion and diversion is not None and diversion.stopped_at is None:
        stop_rows(session, [diversion], reason=reason, actor=actor, now=now, action=action,
                  detail={"detection": row.id, "address": row.address})  # fmt: skip
    else:
        record_event(session, at=now, actor=actor, action=action, target=row.address,
                     reason=reason, detail={"detection": row.id})  # fmt: skip


def _ended_note(row: DetectionRow) -> str:
    if row.owns_diversion:
        return f"diversion #{row.diversion_id} for {row.address} stopped"
    return f"detection of {row.address} closed; diversion #{row.diversion_id} is not its own"


def release_due(db: Database, *, now: datetime) -> list[DetectionResult]:
    """Stop the diversions whose hold-down has ended (the resident service calls this)."""
    with db.write() as session:
        query = select(DetectionRow).where(
            DetectionRow.ended_at.is_(None), DetectionRow.release_at <= now
        )
        rows = list(session.scalars(query.order_by(DetectionRow.id)))
        if not rows:
            unchanged(session)
            return []
        results = []
        for row in rows:
            _end(session, row, "detection.release", row.unbanned_by or "hold-down",
                 f"hold-down for {row.address} ended", now)  # fmt: skip
            results.append(_result(session, row, "released", True, _ended_note(row)))
        return results


def open_detections(db: Database) -> list[DetectionView]:
    with db.read() as session:
        query = select(DetectionRow).where(DetectionRow.ended_at.is_(None))
        return [detection_view(r) for r in session.scalars(query.order_by(DetectionRow.id))]
