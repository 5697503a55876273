"""Commands run through a running ``scrubctl serve`` (``--api URL``) instead of on
this machine's database.

The service holds the database and its imports already, so a command that only
posts a request starts without SQLAlchemy, pydantic or the planner: on this
machine that is the difference between about 1 s and about 0.2 s from launch to
the committed change (``bench/api_ttd.py``). The token comes from
``SCRUBCTL_TOKEN`` (``scrubctl token create``), never from the command line where
``ps`` would show it; the audit actor is the token's name.

An error answer becomes the same error class the local command raises (by the
answer's error code, so the same exit code), with the service's field path, so
``guard`` prints it as one line in this face's flags. A change with ``wait`` that
some site did not acknowledge in time is committed: its 504 carries the result and
the error, and the command prints the one before raising the other (exit 7).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import typer

from orchestrator.defaults import SYNC_TIMEOUT_S, sync_seconds
from orchestrator.errors import InvalidInput, ScrubError, by_code

TOKEN_ENV = "SCRUBCTL_TOKEN"
API_ENV = "SCRUBCTL_API"
TIMEOUT_S = 60.0  # connect, and the answer; a ``wait`` adds its own timeout on top

ApiOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar=API_ENV,
        show_envvar=False,
        help=f"URL of a running `scrubctl serve` to send the change to (env {API_ENV}; "
        f"token from {TOKEN_ENV}); default: this machine's database.",
    ),
]
CacertOption = Annotated[
    str | None, typer.Option("--cacert", help="With an https --api: the CA file to trust.")
]


def send(
    api: str,
    cacert: str | None,
    path: str,
    body: dict[str, Any],
    *,
    db: str | None,
    actor: str | None,
) -> Any:
    """A change command's request. ``--db`` and ``--actor`` mean this machine's
    database and its audit actor: with ``--api`` they are refused, not ignored."""
    if db is not None:
        raise InvalidInput("not with --api (the service uses its own database)", where="--db")
    if actor is not None:
        raise InvalidInput("not with --api (the token's name is the actor)", where="--actor")
    return post(api, path, body, cacert, timeout=TIMEOUT_S + _waits(body))


def _waits(body: dict[str, Any]) -> float:
    """How long the service may hold the answer for the sites: a timeout it would
    refuse (NaN, 0, too long) is refused quickly, so the default is waited then."""
    if not body.get("wait"):
        return 0.0
    return sync_seconds(body.get("timeout")) or SYNC_TIMEOUT_S


def part(name: str) -> str:
    """A name (site, customer) as one segment of the request's path."""
    return quote(name, safe="")


def result(answer: dict[str, Any]) -> dict[str, Any]:
    """A change's answer without its ``wait`` and ``error``: the service's result."""
    return {k: v for k, v in answer.items() if k not in ("wait", "error")}


def post(
    api: str, path: str, body: dict[str, Any], cacert: str | None, timeout: float = TIMEOUT_S
) -> Any:
    """POST ``body`` as JSON to ``api`` + ``path``; the answer's JSON (an object, or
    a list for a removal). A 504 with a result (a change committed, a site late) is
    returned: see ``raise_late``."""
    import http.client

    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise InvalidInput(f"{TOKEN_ENV} is not set (a token from `scrubctl token create`)",
                           where="--api")  # fmt: skip
    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InvalidInput(f"{api!r} is not an http:// or https:// URL", where="--api")
    target = f"{parts.path.rstrip('/')}/{path.lstrip('/')}"
    url = f"{parts.scheme}://{parts.netloc}{target}"
    conn: http.client.HTTPConnection
    try:
        if parts.scheme == "https":
            import ssl

            context = ssl.create_default_context(cafile=cacert)
            conn = http.client.HTTPSConnection(parts.netloc, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    except (OSError, ValueError) as exc:  # an unreadable --cacert, a port that is no number
        raise InvalidInput(f"{exc}", where="--cacert" if cacert else "--api") from None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    try:
        try:
            conn.request("POST", target, body=json.dumps(body).encode(), headers=headers)
        except (OSError, http.client.HTTPException) as exc:
            raise ScrubError(f"cannot reach {url}: {exc}", where="--api") from None
        try:
            response = conn.getresponse()
            status, text = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:  # sent: it may have been done
            raise ScrubError(f"no answer from {url}: {exc}", where="--api",
                             hint="the service may have made the change: look before "
                                  "sending it again") from None  # fmt: skip
    finally:
        conn.close()
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status < 300 and isinstance(answer, (dict, list)):
        return answer
    if not isinstance(answer, dict):
        raise ScrubError(f"{url} answered HTTP {status}, not scrubctl's JSON", where="--api")
    if status == 504 and "error" in answer and len(answer) > 1:
        return answer
    raise _error(status, answer)


def raise_late(answer: dict[str, Any]) -> None:
    """The error of a committed change some site did not acknowledge in time (504)."""
    if "error" in answer:
        raise _error(504, answer)


def _error(status: int, answer: dict[str, Any]) -> ScrubError:
    error = answer.get("error")
    if not isinstance(error, dict):
        return ScrubError(f"the service answered HTTP {status}", where="--api")
    kind = by_code(str(error.get("code")))
    where = str(error.get("field") or "")
    template = error.get("template")
    if isinstance(template, dict):  # terms unrendered: guard says them as flags
        return kind(str(template.get("message", "")), where=where,
                    hint=str(template.get("hint") or ""),
                    message_terms=bool(template.get("message_terms")))  # fmt: skip
    return kind(str(error.get("message") or f"HTTP {status}"), where=where,
                hint=str(error.get("hint") or ""))  # fmt: skip
