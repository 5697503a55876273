"""A normal, non-editable install works: the wheel carries the templates and the
Alembic migrations, and a site configuration renders from the installed package
(run from outside the repository, so nothing can be found relative to it)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB_INVENTORY = ROOT / "lab" / "inventory.yml"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (no dependencies: those come from the
    project's venv through a path entry, without its editable-install hook)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wheel = next((tmp / "dist").glob("scrubctl-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    # Dependencies from the project's venv, appended after the fresh site-packages; a
    # path entry from a .pth file does not run that venv's editable-install hook.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRUBCTL_")}
    env["SCRUBCTL_DB"] = str(cwd / "scrub.db")
    env["SCRUBCTL_LAB_MD5"] = "secret-from-env"
    return subprocess.run(
        [str(venv / "bin" / "python"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_wheel_carries_templates_and_migrations(installed: Path, tmp_path: Path) -> None:
    where = _run(installed, tmp_path, "-c", "import orchestrator; print(orchestrator.__file__)")
    assert where.stdout.startswith(str(installed)), where.stdout + where.stderr
    listed = _run(
        installed, tmp_path, "-c",
        "from orchestrator.templating import environment; "
        "print(' '.join(environment().list_templates()))",
    )  # fmt: skip
    in_repo = {str(p.relative_to(ROOT / "templates")) for p in (ROOT / "templates").rglob("*.j2")}
    assert "exabgp/site.conf.j2" in in_repo
    shipped = {name for name in listed.stdout.split() if name.endswith(".j2")}
    assert shipped == in_repo, listed.stderr


def test_an_installed_scrubctl_renders_a_site_config(installed: Path, tmp_path: Path) -> None:
    cli = ("-m", "orchestrator")
    applied = _run(installed, tmp_path, *cli, "inventory", "apply", str(LAB_INVENTORY))
    assert applied.returncode == 0, applied.stderr  # the schema came from packaged migrations
    shown = _run(installed, tmp_path, *cli, "site", "run", "fra", "--print-config")
    assert shown.returncode == 0, shown.stderr
    assert "process scrubctl-agent" in shown.stdout
    assert "-m orchestrator.site.agent fra;" in shown.stdout


def test_the_wheel_carries_the_dashboards_assets(installed: Path, tmp_path: Path) -> None:
    """The stylesheet and script the pages load are package data too (no CDN)."""
    read = _run(
        installed, tmp_path, "-c",
        "from importlib import resources; base = resources.files('orchestrator.templates'); "
        "print(*(len(base.joinpath('web', 'static', n).read_bytes()) > 0 "
        "for n in ('dashboard.css', 'dashboard.js')))",
    )  # fmt: skip
    assert read.stdout.split() == ["True", "True"], read.stderr
