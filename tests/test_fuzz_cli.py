"""Fuzz every argument of every command that takes one, through the real CLI parser.

For each argument, hypothesis puts a hostile value in that one place (the other
arguments valid) and runs the command against a fresh copy of a prepared
database. The outcome must be clean: accepted and then rendered and sent through
the ExaBGP driver without a complaint, or refused with exit 2, 3 or 4, one
``error:`` line and the database unchanged. Never a traceback.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzz_support import (
    FUZZ,
    Template,
    assert_clean_outcome,
    copy_of,
    hostile_text,
    invoke,
    prepare,
)
from hypothesis import given

# command -> its arguments, with ``{}`` where the fuzzed value goes
COMMANDS: dict[str, list[str]] = {
    "divert-start-customer": ["divert", "start", "{}", "--reason", "r"],
    "divert-start-reason": ["divert", "start", "acme", "--reason", "{}"],
    "divert-start-prefix": ["divert", "start", "acme", "--reason", "r", "--prefix", "{}"],
    "divert-start-site": ["divert", "start", "acme", "--reason", "r", "--site", "{}"],
    "divert-start-target": ["divert", "start", "acme", "--reason", "r", "--target", "{}"],
    "divert-start-actor": ["divert", "start", "acme", "--reason", "r", "--actor", "{}"],
    "divert-stop-customer": ["divert", "stop", "{}", "--reason", "r"],
    "divert-stop-id": ["divert", "stop", "acme", "--reason", "r", "--id", "{}"],
    "rtbh-add-host": ["rtbh", "add", "{}", "--reason", "r", "--expires", "1h"],
    "rtbh-add-forced-host": ["rtbh", "add", "{}", "--reason", "r", "--expires", "1h", "--force"],
    "rtbh-add-expires": ["rtbh", "add", "203.0.113.7", "--reason", "r", "--expires", "{}"],
    "rtbh-add-reason": ["rtbh", "add", "203.0.113.7", "--reason", "{}", "--expires", "1h"],
    "rtbh-remove-host": ["rtbh", "remove", "{}", "--reason", "r"],
    "site-drain-site": ["site", "drain", "{}", "--reason", "r", "--force"],
    "site-drain-reason": ["site", "drain", "fra", "--reason", "{}", "--force"],
    "site-undrain-site": ["site", "undrain", "{}", "--reason", "r"],
    "plan-site": ["plan", "--site", "{}"],
    "events-since": ["events", "--since", "{}"],
    "events-limit": ["events", "--limit", "{}"],
    "report-ttm-since": ["report", "ttm", "--since", "{}"],
}
_counter = itertools.count()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    # A diversion is active, so `divert stop` and `--id` have something to act on.
    return prepare(tmp_path_factory.mktemp("fuzz-cli"), with_diversion=True)


def _fuzz(template: Template, tmp: Path, args: list[str], value: str) -> None:
    filled = [value if a == "{}" else a for a in args]
    with copy_of(template, tmp, next(_counter)) as url:
        result = invoke(filled, url)
        assert_clean_outcome(result, url, template.dump, f"scrubctl {filled!r}")


def _case(name: str) -> Callable[[Template, Path], None]:
    args = COMMANDS[name]

    @FUZZ
    @given(value=hostile_text())
    def run(template: Template, tmp_path: Path, value: str) -> None:
        _fuzz(template, tmp_path, args, value)

    return run


# One test function per argument, so one failing argument does not hide the others.
for _name in COMMANDS:
    globals()[f"test_fuzz_{_name.replace('-', '_')}"] = _case(_name)


@FUZZ
@given(value=hostile_text())
def test_fuzz_actor_from_the_environment(template: Template, tmp_path: Path, value: str) -> None:
    args = ["divert", "start", "acme", "--reason", "r", "--prefix", "203.0.113.0/24"]
    with copy_of(template, tmp_path, next(_counter)) as url:
        result = invoke(args, url, env={"SCRUBCTL_ACTOR": value})
        assert_clean_outcome(result, url, template.dump, f"SCRUBCTL_ACTOR={value!r}")
