"""Where the database lives: a location that cannot hold one is one clear line and
a documented exit code (2: the location given is unusable; 1: a database server
that cannot be reached), never a traceback, and nothing is changed there. The
SQLite file is created 0600 and the directories created for it 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app
from orchestrator.errors import ExitCode

Setup = Callable[[Path], str]


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and directory under ``root``: mode and content."""
    out = {}
    for path in sorted(root.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(root))] = (path.stat().st_mode, data)
    return out


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def assert_one_error(result: Result, code: int, start: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(start), lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRUBCTL_ACTOR", "tester")
    monkeypatch.delenv("SCRUBCTL_DB", raising=False)
    monkeypatch.delenv("SCRUBCTL_BUSY_TIMEOUT", raising=False)


def _not_a_database(tmp: Path) -> str:
    (tmp / "notes.txt").write_text("not a database, just notes\n")
    return str(tmp / "notes.txt")


def _directory(tmp: Path) -> str:
    (tmp / "state").mkdir()
    return str(tmp / "state")


def _under_a_regular_file(tmp: Path) -> str:
    (tmp / "plain").write_text("x")
    return str(tmp / "plain" / "sub" / "scrub.db")


def _name_too_long(tmp: Path) -> str:
    return str(tmp / ("n" * 300 + ".db"))


def _path_too_long(tmp: Path) -> str:
    return str(tmp.joinpath(*["d" * 200] * 25, "scrub.db"))


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "pipe")  # SQLite would block reading it
    return str(tmp / "pipe")


SQLITE_CASES: dict[str, tuple[Setup, str]] = {
    "not_a_database": (_not_a_database, "{tmp}/notes.txt is not an SQLite database"),
    "directory": (_directory, "{tmp}/state is a directory, not a database file"),
    "directory_as_url": (
        lambda tmp: f"sqlite:///{_directory(tmp)}",
        "{tmp}/state is a directory, not a database file",
    ),
    "dev_null": (lambda _tmp: "/dev/null", "/dev/null is not a regular file"),
    "fifo": (_fifo, "{tmp}/pipe is not a regular file"),
    "parent_under_a_regular_file": (
        _under_a_regular_file,
        "cannot use {tmp}/plain/sub: Not a directory",
    ),
    "name_too_long": (_name_too_long, "cannot use {tmp}/nnnn"),
    "path_too_long": (_path_too_long, "cannot use {tmp}/dddd"),
}


@pytest.mark.parametrize("source", ["--db", "SCRUBCTL_DB"])
@pytest.mark.parametrize("case", sorted(SQLITE_CASES))
def test_unusable_sqlite_location_is_exit_2_and_changes_nothing(
    case: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup, message = SQLITE_CASES[case]
    location = setup(tmp_path)
    before = snapshot(tmp_path)
    args = ["divert", "list"]
    if source == "--db":
        args += ["--db", location]
    else:
        monkeypatch.setenv("SCRUBCTL_DB", location)
    result = run(*args)
    assert_one_error(result, ExitCode.INVALID, f"error: {source}: {message.format(tmp=tmp_path)}")
    assert snapshot(tmp_path) == before


def test_unreachable_postgresql_socket_is_exit_1() -> None:
    result = run("divert", "list", "--db", "postgresql+psycopg://scrub@/scrub?host=/nonexistent")
    assert_one_error(result, ExitCode.ERROR, "error: --db: cannot connect to the database: ")
    assert "/nonexistent/.s.PGSQL.5432" in result.stderr


def test_unusable_default_location_names_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "state").write_text("a file where the state directory should be")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    result = run("divert", "list")
    assert_one_error(
        result, ExitCode.INVALID, f"error: database: cannot use {tmp_path}/state/scrubctl: "
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_database_is_0600_in_directories_created_0700(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old = os.umask(0o022)
    try:
        assert run("divert", "list").exit_code == 0
    finally:
        os.umask(old)
    assert mode(tmp_path / "state") == 0o700
    assert mode(tmp_path / "state" / "scrubctl") == 0o700
    assert mode(tmp_path / "state" / "scrubctl" / "scrubctl.db") == 0o600


def test_given_path_creates_private_file_and_directories_only(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # the user's own directory: left as it is
    old = os.umask(0o000)
    try:
        result = run("divert", "list", "--db", str(tmp_path / "a" / "b" / "scrub.db"))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "a") == 0o700
    assert mode(tmp_path / "a" / "b") == 0o700
    assert mode(tmp_path / "a" / "b" / "scrub.db") == 0o600


def test_existing_database_and_directory_keep_their_modes(tmp_path: Path) -> None:
    path = tmp_path / "scrub.db"
    assert run("divert", "list", "--db", str(path)).exit_code == 0
    os.chmod(path, 0o640)  # the operator's choice, e.g. for a backup group
    os.chmod(tmp_path, 0o750)
    assert run("divert", "list", "--db", str(path)).exit_code == 0
    assert mode(path) == 0o640
    assert mode(tmp_path) == 0o750
