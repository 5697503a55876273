"""``scrubctl hook fastnetmon``: a drop-in for FastNetMon's ``notify_script_path``.

FastNetMon runs the script as ``SCRIPT IP DIRECTION PPS ACTION``: the attacked
address (or, for an outgoing attack, its source), ``incoming``/``outgoing``, the
attack's packets per second, and ``ban``/``unban``. On ``ban`` it writes the
attack's details to the script's standard input and expects them read (it may
fail otherwise), so they are read to the end, whatever follows.

The report goes to the same use case as ``POST /api/v1/detections``: on this
machine's database, or with ``--api URL`` to a running ``scrubctl serve``
(or ``SCRUBCTL_API``; token from ``SCRUBCTL_TOKEN``). Locally there is no hold-down: an ``unban``
stops the diversion at once (FastNetMon's own ``ban_time`` already keeps a ban
for its length); the service applies its ``--hold-down``.
"""

from __future__ import annotations

import sys
from typing import Annotated, BinaryIO

import typer

from orchestrator.cli import remote
from orchestrator.cli.common import ActorOption, DbOption, actor, guard, now, open_db, say
from orchestrator.errors import InvalidInput

app = typer.Typer(help="Detectors calling in: FastNetMon's notify script.", no_args_is_help=True)

DETAILS_LIMIT = 1 << 20  # bytes of attack details read and kept at most; the rest is drained


def drain_details(stream: BinaryIO) -> bytes:
    """Read the attack details to the end (FastNetMon waits for that); keep the start."""
    kept = stream.read(DETAILS_LIMIT)
    while stream.read(1 << 16):
        pass
    return kept


def parse_pps(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"{text!r} is not a number of packets per second", where="PPS")
    return int(text)


@app.command()
@guard
def fastnetmon(
    address: Annotated[str, typer.Argument(metavar="IP", help="The attacked address.")],
    direction: Annotated[str, typer.Argument(metavar="DIRECTION", help="incoming or outgoing.")],
    pps: Annotated[str, typer.Argument(metavar="PPS", help="Packets per second.")],
    action: Annotated[str, typer.Argument(metavar="ACTION", help="ban or unban.")],
    api: remote.ApiOption = None,
    cacert: remote.CacertOption = None,
    detector: Annotated[str, typer.Option("--detector", help="Name in the audit log.")] = (
        "fastnetmon"),
    db: DbOption = None,
    who: ActorOption = None,
) -> None:  # fmt: skip
    """FastNetMon's notify script: IP DIRECTION PPS ban|unban (details on stdin on ban)."""
    if action in ("ban", "attack_details") and not sys.stdin.isatty():
        drain_details(sys.stdin.buffer)
    if action == "attack_details":  # older FastNetMon: a second call with details only
        return
    rate = parse_pps(pps)
    if api is not None:
        answer = remote.send(api, cacert, "/api/v1/detections",
                             {"address": address, "direction": direction, "action": action,
                              "detector": detector, "pps": rate}, db=db, actor=who)  # fmt: skip
        say(str(answer.get("note", "")))
        return
    from datetime import timedelta

    from orchestrator.service import detections

    report = detections.Report(address, direction, action, detector, rate)
    result = detections.report(open_db(db), report, actor=actor(who), now=now(),
                               hold_down=timedelta(0))  # fmt: skip
    say(result.note)
