"""`scrubctl site run SITE --print-config`: the configuration that would run, MD5
secrets as their references unless `--show-secrets`, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from db_support import dump_db
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app
from orchestrator.drivers.exabgp.config import render_config
from orchestrator.errors import ExitCode
from orchestrator.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "inventory.yml"
SECRET = "s3cret-Fra!"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "scrub.db"
    monkeypatch.setenv("SCRUBCTL_DB", str(path))
    monkeypatch.setenv("SCRUBCTL_ACTOR", "tester")
    monkeypatch.setenv("SCRUBCTL_MD5_FRA_TRANSIT_A", SECRET)
    monkeypatch.delenv("SCRUBCTL_BUSY_TIMEOUT", raising=False)
    applied = CliRunner().invoke(app, ["inventory", "apply", str(EXAMPLE)])
    assert applied.exit_code == 0, applied.output
    return f"sqlite:///{path}"


def files_besides_the_db(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.name.startswith("scrub.db"))


def print_config(tmp_path: Path, *extra: str) -> Result:
    run_dir = tmp_path / "run"
    return CliRunner().invoke(
        app, ["site", "run", "fra", "--print-config", "--run-dir", str(run_dir), *extra]
    )


def test_print_config_shows_the_reference_not_the_secret(db: str, tmp_path: Path) -> None:
    result = print_config(tmp_path)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.stdout
    assert 'md5-password "<env:SCRUBCTL_MD5_FRA_TRANSIT_A>";' in result.stdout


def test_print_config_is_otherwise_what_would_run(db: str, tmp_path: Path) -> None:
    shown = print_config(tmp_path).stdout
    running = render_config(load_inventory(EXAMPLE), "fra")
    assert shown == running.replace(SECRET, "<env:SCRUBCTL_MD5_FRA_TRANSIT_A>")


def test_show_secrets_prints_the_secret(db: str, tmp_path: Path) -> None:
    result = print_config(tmp_path, "--show-secrets")
    assert result.exit_code == 0, result.output
    assert f'md5-password "{SECRET}";' in result.stdout


@pytest.mark.parametrize("extra", [[], ["--show-secrets"]], ids=["reference", "secret"])
def test_print_config_writes_nothing(db: str, tmp_path: Path, extra: list[str]) -> None:
    before = dump_db(db)
    files = files_besides_the_db(tmp_path)
    assert print_config(tmp_path, *extra).exit_code == 0
    assert not (tmp_path / "run").exists()
    assert files_besides_the_db(tmp_path) == files
    assert dump_db(db) == before


def test_print_config_checks_the_secret_it_does_not_show(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUBCTL_MD5_FRA_TRANSIT_A", "bad'secret")
    result = print_config(tmp_path)
    assert result.exit_code == ExitCode.INVALID
    assert result.stderr.startswith("error: sites.fra.peers[0].md5: the MD5 secret must be")
    assert not (tmp_path / "run").exists()


def test_show_secrets_alone_is_refused(db: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["site", "run", "fra", "--show-secrets"])
    assert result.exit_code == ExitCode.INVALID
    assert result.stderr == "error: --show-secrets: only goes with --print-config\n"
