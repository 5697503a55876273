"""Files only their owner may read: the database (audit log, intent) and ExaBGP's
configuration (MD5 secrets). Directories we create are 0700, files 0600; a
directory that already exists is left exactly as it is."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE, FILE_MODE = 0o700, 0o600


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and every missing parent, each ``DIR_MODE`` (``mkdir -p`` would
    give the parents the umask's mode). Raises ``OSError`` naming what failed."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue  # another process made it meanwhile: theirs, not ours to chmod
        os.chmod(directory, DIR_MODE)  # the umask may have taken bits away


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with ``FILE_MODE`` unless it exists; True if we created it.
    Never follows a symlink planted at ``path``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, mode ``FILE_MODE`` from the start (the
    secret is never readable by others, not even for a moment)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(fd, FILE_MODE)
        out.write(text)
    tmp.replace(path)
