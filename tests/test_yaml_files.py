"""Reading the YAML files operators write (orchestrator.files.read_yaml): YAML 1.2
scalars, no anchors/aliases/merge keys/duplicate keys, bounded size and depth, and
every problem one InvalidInput line naming the file and line. Both loaders: the one
on libyaml's parser and the pure-Python one used where PyYAML has no libyaml."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import strict_yaml
from orchestrator.errors import InvalidInput
from orchestrator.files import MAX_YAML_BYTES, read_yaml


@pytest.fixture(params=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "python":
        monkeypatch.setattr(strict_yaml, "LibyamlParser", None)
    elif strict_yaml.LibyamlParser is None:
        pytest.fail("PyYAML was built without libyaml; the fast loader is untested")
    yield request.param


def read(tmp_path: Path, text: str) -> object:
    path = tmp_path / "in.yml"
    path.write_text(text, encoding="utf-8")
    return read_yaml(path, "inventory")


def refusal(path: Path) -> str:
    with pytest.raises(InvalidInput) as info:
        read_yaml(path, "inventory")
    message = str(info.value)
    assert "\n" not in message
    return message.replace(f"{path}", "FILE")


SCALARS: dict[str, object] = {
    "true": True,
    "false": False,
    "yes": "yes",  # YAML 1.1 reads true
    "No": "No",
    "on": "on",
    "1:2:3": "1:2:3",  # YAML 1.1 reads 3723 (sexagesimal)
    "12:30": "12:30",
    "2024-13-45": "2024-13-45",  # YAML 1.1 tries a date and raises ValueError
    "2024-01-01": "2024-01-01",
    "0755": 755,  # YAML 1.1 reads 493 (octal)
    "0o17": 15,
    "0x1F": 31,
    "0b101": "0b101",
    "1_000": "1_000",
    "+7": 7,
    "1e3": 1000.0,
    "~": None,
    "": None,
}


@pytest.mark.parametrize("text", sorted(SCALARS))
def test_scalars_are_read_as_yaml_1_2(text: str, loader: str, tmp_path: Path) -> None:
    value = read(tmp_path, f"key: {text}\n")
    assert value == {"key": SCALARS[text]}
    assert type(value["key"]) is type(SCALARS[text])  # type: ignore[index]


def test_infinity_is_a_float(loader: str, tmp_path: Path) -> None:
    assert read(tmp_path, "key: -.inf\n") == {"key": -math.inf}


REFUSED: dict[str, tuple[str, str]] = {
    "anchor": ("a: &x 1\nb: 2\n", "FILE:1: YAML anchors are not allowed (&x); write the value out"),
    "alias_bomb": (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(
            f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for n, p in zip("bcdefghi", "abcdefgh", strict=True)
        ),
        "FILE:1: YAML anchors are not allowed (&a); write the value out",
    ),
    "alias": ("a: 1\nb: *a\n", "FILE:2: YAML aliases are not allowed (*a); write the value out"),
    "merge_key": ("a:\n  x: 1\n  <<: {y: 2}\n", "FILE:3: YAML merge keys (<<) are not allowed"),
    "duplicate_key": (
        "policy:\n  asn: 1\n  drain_time: 3\n  asn: 2\n",
        "FILE:4: duplicate key 'asn' (first on line 2)",
    ),
    "duplicate_key_flow": ("{a: 1, a: 1}\n", "FILE:1: duplicate key 'a' (first on line 1)"),
    "deep_flow_nesting": (
        "a: " + "[" * 500 + "]" * 500 + "\n",
        "FILE:1: nested more than 64 levels deep",
    ),
    "deep_block_nesting": (
        "".join("  " * i + f"k{i}:\n" for i in range(100)),
        "FILE:65: nested more than 64 levels deep",
    ),
    "huge_integer": (
        "asn: " + "9" * 5000 + "\n",
        "FILE:1: an integer of 5000 characters is too long (at most 100)",
    ),
    "timestamp_tag": (
        "asn: !!timestamp 2024-01-01\n",
        "FILE:1: the tag !!timestamp is not allowed (write a plain value)",
    ),
    "binary_tag": (
        "name: !!binary YWNtZQ==\n",
        "FILE:1: the tag !!binary is not allowed (write a plain value)",
    ),
    "set_tag": (
        "s: !!set {a: null}\n",
        "FILE:1: the tag !!set is not allowed (write a plain value)",
    ),
    "local_tag": ("s: !vault x\n", "FILE:1: the tag !vault is not allowed (write a plain value)"),
    "yes_as_explicit_bool": (
        "b: !!bool yes\n",
        "FILE:1: 'yes' is not a boolean (write true or false)",
    ),
    "sexagesimal_as_explicit_int": ("asn: !!int 1:2:3\n", "FILE:1: '1:2:3' is not an integer"),
    "list_as_key": ("? [a]\n: 1\n", "FILE:1: a mapping key must be a plain value"),
    "control_character": ("a: 1\n# \x00\n", "FILE:2: contains the control character U+0000"),
    "escape_character": ("a: 1\nb: \x1b[2J\n", "FILE:2: contains the control character U+001B"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_with_file_and_line(case: str, loader: str, tmp_path: Path) -> None:
    text, expected = REFUSED[case]
    path = tmp_path / "in.yml"
    path.write_text(text, encoding="utf-8")
    assert refusal(path) == expected


def test_more_than_one_document_is_refused(loader: str, tmp_path: Path) -> None:
    path = tmp_path / "in.yml"
    path.write_text("a: 1\n---\nb: 2\n", encoding="utf-8")
    assert refusal(path) == (
        "FILE:2: not valid YAML (expected a single document in the stream, "
        "but found another document)"
    )


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.yml"
    path.write_bytes(b"policy:\n  asn: 64500\n  name: caf\xe9\n")
    assert refusal(path) == "FILE:3: not UTF-8 text (byte 0xe9)"


def test_a_file_over_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "in.yml"
    path.write_bytes(b"#" * MAX_YAML_BYTES + b"\n")  # one byte over
    assert refusal(path) == "FILE: inventory is larger than 4 MiB"


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "in.yml"
    path.write_bytes(b"a: 1\n" + b"#" * (MAX_YAML_BYTES - 6) + b"\n")
    assert read_yaml(path, "inventory") == {"a": 1}


def test_an_endless_file_is_read_only_up_to_the_limit() -> None:
    assert refusal(Path("/dev/zero")) == "FILE: inventory is larger than 4 MiB"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path) == "FILE: cannot read inventory: Is a directory"
