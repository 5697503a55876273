"""Fuzz every inventory field through ``scrubctl inventory apply``.

Hypothesis picks one field of a valid inventory (every field it knows is set in
``tests/data/fuzz_inventory.yml``), puts a hostile value of any YAML type there
and applies the file to a fresh copy of a database that already holds the valid
inventory and an active diversion. Accepted: the new inventory renders into
ExaBGP's configuration and its routes into driver commands cleanly. Refused:
exit 2, 3 or 4, one ``error:`` line per problem, the database unchanged. Never a
traceback. Raw documents (any bytes) get the same treatment.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_support import (
    FUZZ,
    FUZZ_INVENTORY,
    Template,
    assert_clean_outcome,
    copy_of,
    hostile_value,
    invoke,
    prepare,
)
from hypothesis import given
from hypothesis import strategies as st

BASE: dict[str, Any] = yaml.safe_load(FUZZ_INVENTORY.read_text(encoding="utf-8"))
_counter = itertools.count()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document: mappings' keys, list items, and the leaves."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


PATHS = _paths(BASE)


def _parent(path: tuple[Any, ...]) -> Any:
    node: Any = BASE
    for part in path[:-1]:
        node = node[part]
    return node


KEYED = [path for path in PATHS if isinstance(_parent(path), dict)]  # places a key can go


def _replace(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return prepare(tmp_path_factory.mktemp("fuzz-inventory"), with_diversion=True)


def _apply(template: Template, tmp: Path, text: bytes, what: str) -> None:
    n = next(_counter)
    source = tmp / f"inventory-{n}.yml"
    source.write_bytes(text)
    try:
        with copy_of(template, tmp, n) as url:
            result = invoke(["inventory", "apply", str(source)], url)
            assert_clean_outcome(result, url, template.dump, what)
    finally:
        source.unlink()


def test_every_field_is_fuzzed() -> None:
    """The base inventory really sets the fields the fuzzer is meant to reach."""
    leaves = {".".join(str(p) for p in path) for path in PATHS}
    for field in (
        "sites.fra.peers.0.local_address",
        "sites.fra.peers.0.rtbh.community",
        "customers.acme.return_paths.ams.inner_local",
        "customers.acme.return_paths.fra.health.target",
        "customers.acme.large_communities.0",
        "policy.rtbh.min_length_v6",
    ):
        assert field in leaves


@FUZZ
@given(path=st.sampled_from(PATHS), value=hostile_value())
def test_fuzz_one_field(
    template: Template, tmp_path: Path, path: tuple[Any, ...], value: Any
) -> None:
    doc = _replace(BASE, path, value)
    text = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
    _apply(template, tmp_path, text, f"{'.'.join(map(str, path))} = {value!r}")


@FUZZ
@given(path=st.sampled_from(KEYED), key=st.text(max_size=12))
def test_fuzz_an_unknown_or_odd_key(
    template: Template, tmp_path: Path, path: tuple[Any, ...], key: str
) -> None:
    parent = _parent(path)
    doc = _replace(BASE, path[:-1], {**parent, key: "x"}) if path[:-1] else {**BASE, key: "x"}
    text = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
    _apply(template, tmp_path, text, f"extra key {key!r} at {path[:-1]}")


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_fuzz_raw_document(template: Template, tmp_path: Path, raw: bytes) -> None:
    _apply(template, tmp_path, raw, f"raw document {raw!r}")


@FUZZ
@given(
    line=st.integers(min_value=0, max_value=60),
    junk=st.sampled_from(
        [
            "&a [1]",
            "*a",
            "<<: *a",
            "!!python/object:os.system",
            "? ",
            "{",
            "- - -",
            "\t",
            "%",
            "  asn: " + "9" * 5000,
            "  asn: 2024-13-45",
            "  asn: 1:2:3",
            "  asn: yes",
            "policy: {asn: 64500}",
            "\ufeff",
            "[" * 600,
        ]
    ),
)
def test_fuzz_yaml_syntax_spliced_into_a_valid_file(
    template: Template, tmp_path: Path, line: int, junk: str
) -> None:
    lines = FUZZ_INVENTORY.read_text(encoding="utf-8").splitlines()
    lines.insert(min(line, len(lines)), junk)
    _apply(template, tmp_path, "\n".join(lines).encode("utf-8"), f"line {line}: {junk!r}")
