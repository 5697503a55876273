"""Every validating regex matches the WHOLE value: Python's `$` also matches before a
final newline, so `re.match(r"^...$", "x\\n")` accepts "x\\n"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.cli.common import resolve_actor
from orchestrator.domain import Community, LargeCommunity
from orchestrator.drivers.exabgp.api import UnsafeCommand, _checked
from orchestrator.errors import InvalidInput
from orchestrator.lab.topology import load_topology
from orchestrator.service.common import check_text, parse_duration

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", ["65000:1\n", "no-export\n"])
def test_community_with_a_final_newline_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a community"):
        Community.parse(text)


def test_large_community_with_a_final_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a large community"):
        LargeCommunity.parse("65000:1:2\n")


def test_actor_with_a_final_newline_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^--actor: 'ops\\n' is not a valid name"):
        resolve_actor("ops\n")


def test_api_command_with_a_final_newline_is_refused() -> None:
    with pytest.raises(UnsafeCommand):
        _checked("withdraw route 203.0.113.0/24 next-hop self\n")


def test_lab_name_with_a_final_newline_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^name: 'scrub\\n' is not a valid lab name"):
        load_topology(ROOT / "containerlab.yml").renamed("scrub\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2592000s", 2592000),
        ("43200m", 2592000),
        ("720h", 2592000),
        ("30d", 2592000),
        (" 90s ", 90),
        ("000000000001s", 1),
    ],
)
def test_durations_up_to_the_bound_in_any_unit(text: str, seconds: int) -> None:
    assert parse_duration(text, "--expires") == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2592001s", "2592001s must be more than 0 and at most 30d"),
        ("0s", "0s must be more than 0 and at most 30d"),
        ("999999999999d", "999999999999d must be more than 0 and at most 30d"),
        ("1000000000000s", "'1000000000000s' is not a duration"),
        ("1h\n1h", "'1h\\n1h' is not a duration"),
        ("٣d", "'٣d' is not a duration"),  # a digit, but not an ASCII one
    ],
)
def test_durations_out_of_bounds_or_syntax(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_duration(text, "--expires")
    assert str(refused.value).startswith(f"--expires: {message}")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\u200b"])
def test_line_separators_and_invisible_characters_are_refused_in_text(separator: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--reason: contains a control character"):
        check_text(f"flood{separator}forged", "--reason")
