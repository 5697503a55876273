"""ExaBGP's configuration as `site run` renders it, checked by ExaBGP's own validator."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.drivers.exabgp.config import render_config, render_env
from orchestrator.errors import InvalidInput
from orchestrator.inventory import Inventory, load_inventory, parse_inventory
from orchestrator.site.supervisor import SiteRunner
from orchestrator.store.db import Database

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


# --- every value checked against its field's grammar before it is rendered -------------

PLAIN = {
    "policy": {"asn": 64500},
    "sites": {"x": {"router_id": "192.0.2.1",
                    "peers": [{"name": "t", "address": "192.0.2.9", "local_address": "192.0.2.10",
                               "asn": 64501}]}},
}  # fmt: skip


def with_peer(**changes: object) -> Inventory:
    """The plain inventory with peer fields replaced WITHOUT validation, as if a value
    had got past the inventory's checks."""
    inv = parse_inventory(PLAIN)
    site = inv.sites["x"]
    peer = site.peers[0].model_copy(update=changes)
    return inv.model_copy(update={"sites": {"x": site.model_copy(update={"peers": (peer,)})}})


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"name": 't";\n}'}, "sites.x.peers[0].name"),
        ({"name": "t\n"}, "sites.x.peers[0].name"),
        ({"address": "192.0.2.9;\n"}, "sites.x.peers[0].address"),
        ({"address": ipaddress.IPv6Address("fe80::1%eth0\n}")}, "sites.x.peers[0].address"),
        ({"address": "0192.000.002.009"}, "sites.x.peers[0].address"),
        ({"local_address": ipaddress.IPv6Address("fe80::2%0")}, "sites.x.peers[0].local_address"),
        ({"local_address": "192.0.2.10 "}, "sites.x.peers[0].local_address"),
        ({"asn": "64501;\n"}, "sites.x.peers[0].asn"),
        ({"asn": True}, "sites.x.peers[0].asn"),
        ({"asn": 0}, "sites.x.peers[0].asn"),
        ({"families": ("ipv4", "ipv6 unicast;\n")}, "sites.x.peers[0].families"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else str(v),
)
def test_a_value_outside_its_grammar_is_refused(changes: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^{re.escape(where)}: "):
        render_config(with_peer(**changes), "x")


def test_a_router_id_outside_its_grammar_is_refused() -> None:
    inv = parse_inventory(PLAIN)
    site = inv.sites["x"].model_copy(update={"router_id": "192.0.2.1;\n"})
    with pytest.raises(InvalidInput, match=r"^sites\.x\.router_id: "):
        render_config(inv.model_copy(update={"sites": {"x": site}}), "x")


def test_a_site_name_outside_its_grammar_is_refused() -> None:
    inv = parse_inventory(PLAIN)
    bad = inv.model_copy(update={"sites": {"x\n": inv.sites["x"]}})
    with pytest.raises(InvalidInput, match=r"^SITE: "):
        render_config(bad, "x\n")


@pytest.mark.parametrize(
    "executable",
    [
        "/opt/py\n/bin/python",
        "/opt/py;rm -rf/bin/python",
        "/opt/my venv/python",
        "/opt/it's/python",
        "/opt/a,b/python",
    ],
)
def test_a_python_path_exabgp_cannot_carry_is_refused(
    monkeypatch: pytest.MonkeyPatch, executable: str
) -> None:
    monkeypatch.setattr(sys, "executable", executable)
    with pytest.raises(InvalidInput, match=r"^sys\.executable: "):
        render_config(parse_inventory(PLAIN), "x")


def test_a_refused_value_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(f"sqlite:///{tmp_path / 'site.db'}")
    runner = SiteRunner(db, "x", tmp_path / "run", return_paths=False)
    monkeypatch.setattr(runner, "_inventory", lambda: with_peer(name="t\n}"))
    with pytest.raises(InvalidInput, match=r"^sites\.x\.peers\[0\]\.name: "):
        runner.prepare()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("secret", ["it's", "secret\n", "se\ncret", "tab\there", "x" * 80 + "\n"])
def test_a_secret_with_a_quote_or_a_line_break_is_refused(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SCRUBCTL_MD5_FRA_TRANSIT_A", secret)
    inv = load_inventory(ROOT / "examples" / "inventory.yml")
    with pytest.raises(InvalidInput, match=r"^sites\.fra\.peers\[0\]\.md5: the MD5 secret must"):
        render_config(inv, "fra")


ALLOWED_SECRET = "!#$%&()*+,-./09:<=>?@AZ[]^_`az{|}~"  # every kind of character allowed
# ExaBGP's own parser, in a process of its own (it keeps global state): each neighbor's
# md5-password exactly as ExaBGP will hand it to the kernel
EXABGP_READS_MD5 = """
import sys
from exabgp.configuration.configuration import Configuration
from exabgp.environment import getenv
from exabgp.logger import log
log.init(getenv())
config = Configuration([sys.argv[1]])
assert config.reload(), config.error
for neighbor in config.neighbors.values():
    print(repr(neighbor["md5-password"]))
"""


def test_every_allowed_secret_character_reaches_exabgp_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCRUBCTL_MD5_FRA_TRANSIT_A", ALLOWED_SECRET)
    inv = load_inventory(ROOT / "examples" / "inventory.yml")
    conf = tmp_path / "exabgp.conf"
    conf.write_text(render_config(inv, "fra"))
    done = subprocess.run([sys.executable, "-c", EXABGP_READS_MD5, str(conf)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted([repr(ALLOWED_SECRET), "None"])


def test_declared_families_are_rendered_in_one_order() -> None:
    text = render_config(with_peer(families=("ipv4",)), "x")
    assert "family {\n        ipv4 unicast;\n    }" in text
    six = parse_inventory({**PLAIN, "sites": {"x": {"router_id": "192.0.2.1", "peers": [
        {"name": "t", "address": "2001:db8::1", "local_address": "2001:db8::2", "asn": 64501,
         "families": ["ipv6", "ipv4"]}]}}})  # fmt: skip
    both = "family {\n        ipv4 unicast;\n        ipv6 unicast;\n    }"
    assert both in render_config(six, "x")


@pytest.mark.parametrize("families", [["ipv6"], ["ipv4", "ipv4"]])
def test_families_must_hold_the_sessions_own_once(families: list[str]) -> None:
    data = {**PLAIN, "sites": {"x": {"router_id": "192.0.2.1", "peers": [
        {"name": "t", "address": "192.0.2.9", "asn": 64501, "families": families}]}}}  # fmt: skip
    with pytest.raises(InvalidInput, match=r"^sites\.x\.peers\[0\]: families must list ipv4"):
        parse_inventory(data)
