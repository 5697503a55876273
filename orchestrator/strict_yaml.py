"""A strict YAML loader for the files operators write by hand.

PyYAML's ``SafeLoader`` speaks YAML 1.1: ``yes`` is true, ``1:2:3`` is the
integer 3723, ``2024-13-45`` is a date that fails to construct, anchors and
merge keys let 1 KB expand to gigabytes, and a repeated key silently keeps the
last value. This loader reads the YAML 1.2 core schema instead (``true`` and
``false`` only, decimal/0o/0x integers, no timestamps: a date stays text) and
refuses anchors, aliases, merge keys, duplicate keys, explicit tags other than
the core ones, and nesting deeper than ``MAX_DEPTH``. Every refusal is a
``StrictYAMLError`` with the line it is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser as LibyamlParser
except ImportError:  # PyYAML built without libyaml
    LibyamlParser = None  # type: ignore[assignment,misc]

MAX_DEPTH = 64  # an inventory nests about 8 levels
MAX_NUMBER_TEXT = 100  # characters; the largest inventory number has 10 digits

_TAG = "tag:yaml.org,2002:"
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_NULL = re.compile(r"~|null|Null|NULL|")
_MERGE = re.compile(r"<<")


class StrictYAMLError(yaml.MarkedYAMLError):
    """Valid YAML that this loader refuses; ``problem`` says why, ``problem_mark`` where."""

    def __init__(self, problem: str, node_or_event: Node | NodeEvent) -> None:
        mark: Any = node_or_event.start_mark  # libyaml's marks are its own class
        super().__init__(problem=problem, problem_mark=mark)


def _anchored(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The resolver calls ``match``: anchor at both ends."""
    return re.compile(rf"(?:{pattern.pattern})\Z")


def _scalar(loader: SafeConstructor, node: Node) -> str:
    if not isinstance(node, ScalarNode):
        raise StrictYAMLError(f"{node.tag.replace(_TAG, '!!')} needs a plain value", node)
    text = loader.construct_scalar(node)
    assert isinstance(text, str)
    return text


def _number_text(loader: SafeConstructor, node: Node, pattern: re.Pattern[str], what: str) -> str:
    text = _scalar(loader, node)
    if len(text) > MAX_NUMBER_TEXT:
        raise StrictYAMLError(
            f"{what} of {len(text)} characters is too long (at most {MAX_NUMBER_TEXT})", node
        )
    if not pattern.fullmatch(text):
        raise StrictYAMLError(f"{text!r} is not {what}", node)
    return text


def _construct_int(loader: SafeConstructor, node: Node) -> int:
    text = _number_text(loader, node, _INT, "an integer")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: SafeConstructor, node: Node) -> float:
    text = _number_text(loader, node, _FLOAT, "a number").lower()
    if text.endswith(".inf"):
        return float(text.replace(".inf", "inf"))
    if text == ".nan":
        return float("nan")
    return float(text)


def _construct_bool(loader: SafeConstructor, node: Node) -> bool:
    text = _scalar(loader, node)
    if not _BOOL.fullmatch(text):
        raise StrictYAMLError(f"{text!r} is not a boolean (write true or false)", node)
    return text.lower() == "true"


def _refuse_tag(loader: SafeConstructor, node: Node) -> Any:
    tag = node.tag.replace(_TAG, "!!")
    raise StrictYAMLError(f"the tag {tag} is not allowed (write a plain value)", node)


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """YAML 1.2 core schema, plus ``<<`` so that a merge key can be named and refused."""
    table: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in (
        ("bool", _BOOL, "tTfF"),
        ("int", _INT, "-+0123456789"),
        ("float", _FLOAT, "-+.0123456789"),
        ("null", _NULL, ["~", "n", "N", ""]),
        ("merge", _MERGE, "<"),
    ):
        for char in first:
            table.setdefault(char, []).append((_TAG + tag, _anchored(pattern)))
    return table


def _constructors() -> dict[Any, Callable[..., Any]]:
    """The core tags only: no timestamp, binary, set, omap or pairs."""
    kept: dict[Any, Callable[..., Any]] = {
        tag: constructor
        for tag, constructor in SafeConstructor.yaml_constructors.items()
        if tag in {_TAG + "null", _TAG + "str", _TAG + "seq", _TAG + "map"}
    }
    kept[None] = _refuse_tag  # any other tag: !!timestamp, !!binary, !!set, !local
    kept[_TAG + "bool"] = _construct_bool
    kept[_TAG + "int"] = _construct_int
    kept[_TAG + "float"] = _construct_float
    return kept


class _StrictRules(Composer, SafeConstructor, Resolver):
    """Composing, resolving and constructing; the parser comes from a subclass."""

    yaml_implicit_resolvers = _resolvers()
    yaml_constructors = _constructors()
    depth = 0
    peek_event: Callable[[], Any]  # from the parser

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise StrictYAMLError(
                f"YAML aliases are not allowed (*{event.anchor}); write the value out", event
            )
        if event.anchor is not None:
            raise StrictYAMLError(
                f"YAML anchors are not allowed (&{event.anchor}); write the value out", event
            )
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise StrictYAMLError(f"nested more than {MAX_DEPTH} levels deep", event)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == _TAG + "merge":
                raise StrictYAMLError("YAML merge keys (<<) are not allowed", key_node)
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:
                raise StrictYAMLError("a mapping key must be a plain value", key_node) from None
            if seen is not None:
                raise StrictYAMLError(f"duplicate key {key!r} (first on line {seen})", key_node)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


class StrictLoader(Reader, Scanner, Parser, _StrictRules):
    """Pure Python, for a PyYAML built without libyaml (about 3 times slower)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


if LibyamlParser is not None:

    class StrictCLoader(LibyamlParser, _StrictRules):
        """libyaml turns the text into events, the rules above compose them: libyaml's
        own composer would accept anchors and aliases without asking."""

        check_node = Composer.check_node
        get_node = Composer.get_node
        get_single_node = Composer.get_single_node

        def __init__(self, stream: str) -> None:
            LibyamlParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


def load(text: str) -> Any:
    """One YAML document from ``text``; raises ``yaml.YAMLError`` (or ``StrictYAMLError``)."""
    loader: _StrictRules = StrictCLoader(text) if LibyamlParser is not None else StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[attr-defined]
