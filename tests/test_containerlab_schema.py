"""containerlab.yml stays deployable by real containerlab: only documented keys
(containerlab's schema, schemas/clab.schema.json), every bind source exists,
every link endpoint names an existing node. Read as plain YAML, independent of
scrubctl's own parser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "containerlab.yml"

# From containerlab's JSON schema (definitions node-config, link-config, topology).
TOP_KEYS = {"name", "prefix", "mgmt", "topology", "settings"}
TOPOLOGY_KEYS = {"defaults", "kinds", "nodes", "links", "groups"}
NODE_KEYS = {
    "kind", "image", "image-pull-policy", "restart-policy", "type", "group", "license",
    "startup-config", "startup-delay", "enforce-startup-config", "auto-remove", "exec",
    "binds", "ports", "env", "user", "entrypoint", "cmd", "publish", "labels", "runtime",
    "mgmt_ipv4", "mgmt_ipv6", "network-mode", "cpu", "memory", "cpu-set", "sandbox",
    "kernel", "extras", "config", "wait-for", "SANs",
}  # fmt: skip
LINK_KEYS = {"endpoints", "mtu", "vars", "labels"}
KINDS = {"linux", "bridge", "ovs-bridge", "host"}
ENDPOINT = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_./-]+$")


@pytest.fixture(scope="module")
def doc() -> Any:
    return yaml.safe_load(FILE.read_text())


def nodes(doc: Any) -> dict[str, Any]:
    return dict(doc["topology"]["nodes"])


def test_top_level_keys(doc: Any) -> None:
    assert set(doc) <= TOP_KEYS
    assert doc["name"] == "scrub"
    assert set(doc["topology"]) <= TOPOLOGY_KEYS


def test_kinds_section(doc: Any) -> None:
    for kind, spec in doc["topology"].get("kinds", {}).items():
        assert kind in KINDS
        assert set(spec) <= NODE_KEYS


NODE_NAMES = sorted(yaml.safe_load(FILE.read_text())["topology"]["nodes"])


@pytest.mark.parametrize("node", NODE_NAMES)
def test_node_uses_documented_keys(doc: Any, node: str) -> None:
    spec = nodes(doc)[node]
    assert set(spec) <= NODE_KEYS, set(spec) - NODE_KEYS
    assert spec["kind"] in KINDS
    image = spec.get("image") or doc["topology"]["kinds"][spec["kind"]].get("image")
    assert isinstance(image, str) and image
    assert all(isinstance(line, str) and line.strip() for line in spec.get("exec", []))


@pytest.mark.parametrize("node", NODE_NAMES)
def test_bind_sources_exist(doc: Any, node: str) -> None:
    for bind in nodes(doc)[node].get("binds", []):
        source, target, *mode = bind.split(":")
        assert (FILE.parent / source).is_file(), f"{node}: {source} does not exist"
        assert target.startswith("/")
        assert mode in ([], ["ro"], ["rw"])


def test_frr_nodes_bind_config_and_daemons(doc: Any) -> None:
    for name, spec in nodes(doc).items():
        if "frr" not in spec.get("image", ""):
            continue
        targets = {b.split(":")[1] for b in spec.get("binds", [])}
        assert {"/etc/frr/frr.conf", "/etc/frr/daemons"} <= targets, name


def test_links_name_existing_nodes(doc: Any) -> None:
    known = set(nodes(doc))
    seen: set[str] = set()
    for link in doc["topology"]["links"]:
        assert set(link) <= LINK_KEYS
        ends = link["endpoints"]
        assert len(ends) == 2
        for end in ends:
            assert ENDPOINT.match(end), end
            node, iface = end.split(":")
            assert node in known, f"{end}: no node {node}"
            assert iface != "eth0", "eth0 is containerlab's management interface"
            assert end not in seen, f"{end} used twice"
            seen.add(end)


def test_exec_interfaces_exist_as_link_endpoints(doc: Any) -> None:
    """Every ``dev X`` is a link endpoint or an interface an earlier line creates."""
    ends = {e for link in doc["topology"]["links"] for e in link["endpoints"]}
    for name, spec in nodes(doc).items():
        created: set[str] = set()
        for line in spec.get("exec", []):
            words = line.split()
            if words[:3] == ["ip", "link", "add"]:
                created.add(words[4] if words[3] == "name" else words[3])
            elif "dev" in words:
                dev = words[words.index("dev") + 1]
                assert f"{name}:{dev}" in ends or dev in created, f"{name}: `{line}` names {dev}"
