"""``scrubctl hook fastnetmon``: a drop-in for FastNetMon's ``notify_script_path``.

FastNetMon runs the script as ``SCRIPT IP DIRECTION PPS ACTION``: the attacked
address (or, for an outgoing attack, its source), ``incoming``/``outgoing``, the
attack's packets per second, and ``ban``/``unban``. On ``ban`` it writes the
attack's details to the script's standard input and expects them read (it may
fail otherwise), so they are read to the end, whatever follows.

The report goes to the same use case as ``POST /api/v1/detections``: on this
machine's database, or with ``--api URL`` to a running ``scrubctl serve``
(token from ``SCRUBCTL_TOKEN``). Locally there is no hold-down: an ``unban``
stops the diversion at once (FastNetMon's own ``ban_time`` already keeps a ban
for its length); the service applies its ``--hold-down``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, BinaryIO

import typer

from orchestrator.cli.common import ActorOption, DbOption, actor, guard, now, open_db, say
from orchestrator.errors import ExitCode, InvalidInput, ScrubError

app = typer.Typer(help="Detectors calling in: FastNetMon's notify script.", no_args_is_help=True)

TOKEN_ENV = "SCRUBCTL_TOKEN"
DETAILS_LIMIT = 1 << 20  # bytes of attack details read and kept at most; the rest is drained
API_EXIT = {422: ExitCode.INVALID, 404: ExitCode.NOT_FOUND, 409: ExitCode.CONFLICT,
            503: ExitCode.BUSY, 504: ExitCode.TIMEOUT}  # fmt: skip


class HookError(ScrubError):
    """An answer of the service, with the exit code its status maps to."""

    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.exit_code = ExitCode(code)


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


def _post(api: str, body: dict[str, Any], cacert: str | None) -> dict[str, Any]:
    import ssl
    import urllib.error
    import urllib.request

    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise InvalidInput(f"{TOKEN_ENV} is not set (a token from `scrubctl token create`)",
                           where="--api")  # fmt: skip
    url = api.rstrip("/") + "/api/v1/detections"
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"{api!r} is not an http:// or https:// URL", where="--api")
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    context = ssl.create_default_context(cafile=cacert) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as exc:
        try:
            text = json.load(exc)["error"]["text"]
        except (ValueError, KeyError, TypeError):
            text = f"HTTP {exc.code}"
        raise HookError(text, API_EXIT.get(exc.code, ExitCode.ERROR)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HookError(f"--api: cannot reach {url}: {reason}", ExitCode.ERROR) from None


@app.command()
@guard
def fastnetmon(
    address: Annotated[str, typer.Argument(metavar="IP", help="The attacked address.")],
    direction: Annotated[str, typer.Argument(metavar="DIRECTION", help="incoming or outgoing.")],
    pps: Annotated[str, typer.Argument(metavar="PPS", help="Packets per second.")],
    action: Annotated[str, typer.Argument(metavar="ACTION", help="ban or unban.")],
    api: Annotated[str | None, typer.Option("--api", help="URL of `scrubctl serve` "
                   f"(token from {TOKEN_ENV}); default: this machine's database.")] = None,
    cacert: Annotated[str | None, typer.Option("--cacert",
                      help="With an https --api: the CA file to trust.")] = None,
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
        answer = _post(api, {"address": address, "direction": direction, "action": action,
                             "detector": detector, "pps": rate}, cacert)  # fmt: skip
        say(str(answer.get("note", "")))
        return
    from datetime import timedelta

    from orchestrator.service import detections

    report = detections.Report(address, direction, action, detector, rate)
    result = detections.report(open_db(db), report, actor=actor(who), now=now(),
                               hold_down=timedelta(0))  # fmt: skip
    say(result.note)
