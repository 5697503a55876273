"""The CLI's start-up budget, by what it imports (not by timing: the machine is shared).

``--help`` of any command, and ``scrubctl`` with no command, must not load the
database layer, the HTTP service, the lab's netlink driver or the templates: each
of these costs tens to hundreds of milliseconds before the operator sees anything.
A command that runs loads only its own service (``divert start`` needs SQLAlchemy,
but not FastAPI, jinja2 or pyroute2). Each case runs the real entry point in a
fresh interpreter and reports the modules it had loaded at exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "pyroute2")
NOT_FOR_A_COMMAND = ("alembic", "fastapi", "starlette", "uvicorn", "jinja2", "pyroute2")

PROBE = """
import atexit, json, sys
path = sys.argv[1]
def report():
    with open(path, "w") as out:
        json.dump(sorted(sys.modules), out)
atexit.register(report)
sys.argv = ["scrubctl", *sys.argv[2:]]
from orchestrator.cli.main import main
main()
"""

HELP_PATHS = [
    [],
    ["--help"],
    ["divert", "--help"],
    ["divert", "start", "--help"],
    ["rtbh", "--help"],
    ["site", "--help"],
    ["site", "run", "--help"],
    ["inventory", "apply", "--help"],
    ["customer", "config", "--help"],
    ["lab", "--help"],
    ["lab", "up", "--help"],
    ["token", "--help"],
    ["hook", "--help"],
    ["report", "--help"],
    ["status", "--help"],
    ["plan", "--help"],
    ["events", "--help"],
    ["paths", "--help"],
    ["failover", "--help"],
    ["serve", "--help"],
]


def loaded_modules(tmp_path: Path, args: list[str]) -> tuple[int, set[str]]:
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # the installed package, not whatever the current directory holds
    )
    return done.returncode, set(json.loads(report.read_text()))


def heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


@pytest.mark.parametrize("args", HELP_PATHS, ids=lambda a: " ".join(a) or "bare")
def test_help_loads_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    code, modules = loaded_modules(tmp_path, args)
    assert code in (0, 2)  # help, or a bare group's help (exit 2 like click's)
    assert heavy(modules, HEAVY) == []
    assert sorted(m for m in modules if m.startswith("orchestrator.service")) == []


def test_divert_start_loads_no_api_lab_or_templates(tmp_path: Path) -> None:
    db = tmp_path / "scrub.db"
    inventory = Path(__file__).resolve().parents[1] / "bench" / "inventory.yml"
    subprocess.run(
        [sys.executable, "-m", "orchestrator", "inventory", "apply", str(inventory),
         "--db", str(db)],
        check=True, capture_output=True,
    )  # fmt: skip
    code, modules = loaded_modules(
        tmp_path, ["divert", "start", "ttd", "--reason", "import budget", "--db", str(db)]
    )
    assert code == 0
    assert "sqlalchemy.orm" in modules  # it did run the service
    assert heavy(modules, NOT_FOR_A_COMMAND) == []
    assert "orchestrator.drivers.netlink" not in modules
