"""One exception class per kind of failure, each with its exit code.

An error's ``where`` is a field path (``prefixes[0]``, ``customer``,
``customers.acme.prefixes[2]``), never a command-line flag, and its hint may
name a field or an action as a *term* in braces (``{force}``,
``{failback:acme}``). Each face renders them in its own words: the CLI as
flags and commands (``--prefix[0]``, ```scrubctl failback acme```), the HTTP
API as JSON fields and endpoints. ``str(error)`` is the plain rendering
(field paths, term names). User mistakes never produce a traceback.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from enum import IntEnum

_TERM = re.compile(r"\{([a-z_]+)(?::([^{}]*))?\}")

# A face's words: (field path, hint term with its argument) -> text.
Words = Callable[[str, str], str]


def plain_words(term: str, argument: str) -> str:
    """The service's own words: field names as they are, an action with its argument."""
    return f"{term} {argument}" if argument else term


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # unexpected failure (a bug, a daemon that died, a database server not reached)
    INVALID = 2  # invalid input: bad file, bad field, safety rule
    NOT_FOUND = 3  # unknown customer, site, diversion, RTBH entry
    CONFLICT = 4  # refused because of current state (max-prefix, overlap)
    BUSY = 5  # the database stayed locked by another writer
    UNPROTECTED = 6  # `status --check`: some customer is not protected
    # ``--wait``: the change is committed, but some affected site's agent did not
    # acknowledge it within ``--timeout`` (it may still do so later).
    TIMEOUT = 7


class ScrubError(Exception):
    exit_code = ExitCode.ERROR
    code = "error"  # the kind's name in the HTTP API's error body (``by_code``)

    def __init__(
        self, message: str, *, where: str = "", hint: str = "", message_terms: bool = False
    ) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        # Whether ``message`` names terms too (only a fixed text: a value quoted from
        # the input may contain braces of its own).
        self.message_terms = message_terms
        super().__init__(self.render())

    def render(
        self, words: Words = plain_words, field: Callable[[str], str] = lambda path: path
    ) -> str:
        """One line: ``field(where): message (hint)`` with the terms in ``words``."""
        message = self.rendered_message(words)
        text = f"{field(self.where)}: {message}" if self.where else message
        hint = self.rendered_hint(words)
        return f"{text} ({hint})" if hint else text

    def rendered_message(self, words: Words = plain_words) -> str:
        if not self.message_terms:
            return self.message
        return _TERM.sub(lambda m: words(m[1], m[2] or ""), self.message)

    def rendered_hint(self, words: Words = plain_words) -> str:
        return _TERM.sub(lambda m: words(m[1], m[2] or ""), self.hint)


class InvalidInput(ScrubError):
    exit_code = ExitCode.INVALID
    code = "invalid"


class NotFound(ScrubError):
    exit_code = ExitCode.NOT_FOUND
    code = "not_found"


class Conflict(ScrubError):
    exit_code = ExitCode.CONFLICT
    code = "conflict"


class StaleState(Conflict):
    """A change confirmed against a state read earlier (the change counter it was
    previewed at) found the store changed when its transaction took the write lock;
    nothing was written."""


class DatabaseBusy(ScrubError):
    exit_code = ExitCode.BUSY
    code = "busy"


class SyncTimeout(ScrubError):
    """``--wait`` ran out of time: the change is committed, not yet acknowledged by
    every site it affects."""

    exit_code = ExitCode.TIMEOUT
    code = "timeout"


class DatabaseUnavailable(ScrubError):
    """The database server cannot be reached (down, no socket there, login refused). The
    URL may well be right and the server away: exit 1, not 2 (invalid input)."""

    exit_code = ExitCode.ERROR
    code = "unavailable"


class Unauthenticated(ScrubError):
    """No credentials, or ones that are unknown, expired or revoked (HTTP 401)."""

    exit_code = ExitCode.ERROR
    code = "unauthenticated"


class Forbidden(ScrubError):
    """Credentials whose role does not allow the request (HTTP 403)."""

    exit_code = ExitCode.ERROR
    code = "forbidden"


KINDS: tuple[type[ScrubError], ...] = (InvalidInput, NotFound, Conflict, DatabaseBusy,
                                       SyncTimeout, DatabaseUnavailable, Unauthenticated,
                                       Forbidden)  # fmt: skip


def by_code(code: str) -> type[ScrubError]:
    """The error kind an error body's ``code`` names (``ScrubError`` for any other)."""
    return next((kind for kind in KINDS if kind.code == code), ScrubError)


def database_failure(exc: Exception, *, where: str) -> DatabaseUnavailable | None:
    """A database driver's error that got past the store (the server went away in the
    middle of a command or request, after the first connection) as
    ``DatabaseUnavailable``; None for anything else. SQLAlchemy is looked up in
    ``sys.modules``, not imported: what never loaded it cannot have raised its errors."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.DBAPIError):
        return None
    reason = " ".join(str(exc.orig).split())  # drivers' messages span lines
    message = f"the database failed during the command: {reason}"
    return DatabaseUnavailable(message, where=where, hint="check the state before retrying")
