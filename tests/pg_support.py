"""A private PostgreSQL cluster for a test module: created in a temporary
directory (unix socket only, no TCP) and removed afterwards. Needs Debian's
postgresql package, which scripts/bootstrap.sh installs."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def private_cluster() -> Iterator[str]:
    """Yield the SQLAlchemy URL of an empty database ``scrubctl`` on a new cluster."""
    if not BINDIRS:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    bindir = Path(BINDIRS[-1])
    base = Path(tempfile.mkdtemp(prefix="scrubctl-pg-"))  # pytest's tmp is root-only
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    run = lambda args: subprocess.run(  # noqa: E731
        _as_postgres(args), check=True, capture_output=True, timeout=60, cwd=base
    )
    run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"])
    options = f"-k {sock} -c listen_addresses='' -c fsync=off"
    run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start", "-l",
         str(base / "log")])  # fmt: skip
    try:
        run([str(bindir / "createdb"), "-h", str(sock), "-U", "postgres", "scrubctl"])
        yield f"postgresql+psycopg://postgres@/scrubctl?host={sock}"
    finally:
        run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)
