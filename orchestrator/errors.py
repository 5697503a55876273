"""One exception class per kind of failure, each with its exit code.

The CLI catches ``ScrubError`` at its boundary and prints ``str(error)`` as a
single line; user mistakes never produce a traceback.
"""

from __future__ import annotations

from enum import IntEnum


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

    def __init__(self, message: str, *, where: str = "", hint: str = "") -> None:
        self.where = where
        self.hint = hint
        text = f"{where}: {message}" if where else message
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class InvalidInput(ScrubError):
    exit_code = ExitCode.INVALID


class NotFound(ScrubError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(ScrubError):
    exit_code = ExitCode.CONFLICT


class DatabaseBusy(ScrubError):
    exit_code = ExitCode.BUSY


class SyncTimeout(ScrubError):
    """``--wait`` ran out of time: the change is committed, not yet acknowledged by
    every site it affects."""

    exit_code = ExitCode.TIMEOUT


class DatabaseUnavailable(ScrubError):
    """The database server cannot be reached (down, no socket there, login refused). The
    URL may well be right and the server away: exit 1, not 2 (invalid input)."""

    exit_code = ExitCode.ERROR
