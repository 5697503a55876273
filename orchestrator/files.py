"""Reading the YAML files operators write (inventory, topology), with errors
that name the file and, where YAML knows it, the line."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from orchestrator.errors import InvalidInput

MAX_YAML_BYTES = 4 * 1024 * 1024  # an inventory of a thousand customers is under 1 MiB


def _one_line(text: str) -> str:
    """``text`` on one line, any control character escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split()))


def _read_text(path: Path, what: str) -> str:
    """At most ``MAX_YAML_BYTES`` of UTF-8 text (``/dev/zero`` ends at the limit)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    return decode_yaml_bytes(data, str(path), what)


def read_yaml(path: Path, what: str) -> Any:
    """One document of strict YAML (see ``orchestrator.strict_yaml``); every
    problem is an ``InvalidInput`` naming the file and, where known, the line."""
    return parse_yaml(_read_text(path, what), str(path))


def decode_yaml_bytes(data: bytes, source: str, what: str) -> str:
    """Bytes received (an HTTP body) as text, with ``_read_text``'s limits."""
    if len(data) > MAX_YAML_BYTES:
        raise InvalidInput(f"{what} is larger than {MAX_YAML_BYTES // 2**20} MiB", where=source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", where=f"{source}:{line}"
        ) from None


def parse_yaml(text: str, source: str) -> Any:
    """``read_yaml`` for text already read; errors name ``source`` and the line."""
    import yaml  # only commands that read a file need it (not `divert start`)

    from orchestrator import strict_yaml

    path = source
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise InvalidInput(
            f"contains the control character U+{ord(bad.group()):04X}", where=f"{path}:{line}"
        )
    try:
        return strict_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context:  # "while parsing a block mapping", "expected a single document"
            problem = f"{context}{',' if problem.startswith('but ') else ':'} {problem}"
        if not isinstance(exc, strict_yaml.StrictYAMLError):
            problem = f"not valid YAML ({problem})"
        raise InvalidInput(_one_line(problem), where=where) from None
    except (RecursionError, ValueError, OverflowError, MemoryError) as exc:
        raise InvalidInput(
            f"not valid YAML ({type(exc).__name__}: {_one_line(str(exc))})", where=str(path)
        ) from None


def stop_process(
    process: subprocess.Popen[Any], timeout: float = 10.0, *, group: bool = False
) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL (its whole process group if
    ``group``: a process started with ``start_new_session`` and its children)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()
