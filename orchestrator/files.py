"""Reading the YAML files operators write (inventory, topology), with errors
that name the file and, where YAML knows it, the line."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from orchestrator.errors import InvalidInput


def read_yaml(path: Path, what: str) -> Any:
    import yaml  # only commands that read a file need it (not `divert start`)

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InvalidInput(
            f"not valid YAML ({getattr(exc, 'problem', exc)})", where=where
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
