"""ExaBGP's configuration as `site run` renders it, checked by ExaBGP's own validator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.drivers.exabgp.config import render_config, render_env
from orchestrator.errors import InvalidInput
from orchestrator.inventory import Inventory, load_inventory, parse_inventory

ROOT = Path(__file__).resolve().parents[2]
EXABGP = Path(sys.executable).with_name("exabgp")


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Inventory:
    monkeypatch.setenv("SCRUBCTL_MD5_FRA_TRANSIT_A", "s3cret!")
    return load_inventory(ROOT / "examples" / "inventory.yml")


def test_neighbors_families_secrets_and_the_agent(example: Inventory) -> None:
    text = render_config(example, "fra")
    assert text.count("neighbor ") == 2
    assert "neighbor 192.0.2.254 {" in text and "neighbor 2001:db8:ffff:1::1 {" in text
    assert "local-address 192.0.2.253;" in text and "peer-as 64501;" in text
    assert 'md5-password "s3cret!";' in text
    assert text.count("adj-rib-out true;") == 2
    assert "ipv4 unicast;" in text and "ipv6 unicast;" in text
    assert f"run {sys.executable} -m orchestrator.site.agent fra;" in text
    assert text.count("neighbor-changes;") == 2


def test_exabgp_accepts_the_rendered_files(example: Inventory, tmp_path: Path) -> None:
    conf, env = tmp_path / "exabgp.conf", tmp_path / "exabgp.env"
    conf.write_text(render_config(example, "fra"))
    env.write_text(render_env("fra"))
    done = subprocess.run(
        [str(EXABGP), "validate", str(conf)],
        env=dict(os.environ, EXABGP_ENVFILE=str(env)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_missing_secret_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRUBCTL_MD5_FRA_TRANSIT_A", raising=False)
    inv = load_inventory(ROOT / "examples" / "inventory.yml")
    with pytest.raises(InvalidInput, match=r"^sites\.fra\.peers\[0\]\.md5: environment variable"):
        render_config(inv, "fra")


@pytest.mark.parametrize("secret", ['a"b', "a b", "x;", "a\\b", "x" * 81, ""])
def test_a_secret_that_could_break_the_config_is_refused(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SCRUBCTL_MD5_FRA_TRANSIT_A", secret)
    inv = load_inventory(ROOT / "examples" / "inventory.yml")
    with pytest.raises(InvalidInput, match="MD5 secret must be"):
        render_config(inv, "fra")


def test_a_peer_without_local_address_cannot_run() -> None:
    inv = parse_inventory({
        "policy": {"asn": 64500},
        "sites": {"x": {"router_id": "192.0.2.1",
                        "peers": [{"name": "t", "address": "192.0.2.9", "asn": 64501}]}},
    })  # fmt: skip
    with pytest.raises(InvalidInput, match=r"sites\.x\.peers\[0\]\.local_address: needed"):
        render_config(inv, "x")
