"""Hooks for the whole test suite: tests marked ``uml`` run in a user-mode Linux
guest where this kernel lacks GRE (see ``uml_support``).

typer's ``CliRunner.invoke`` builds the click command from the app again on every
call (every command's signature and type hints: about 0.3 s, most of a fuzz
example's time); the apps do not change during a run, so each is built once.
"""

import functools

import typer.main
import typer.testing
from uml_support import (
    pytest_collection_modifyitems,
    pytest_runtest_logreport,
    pytest_runtestloop,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

typer.testing._get_command = functools.cache(typer.main.get_command)

__all__ = [
    "pytest_collection_modifyitems",
    "pytest_runtest_logreport",
    "pytest_runtestloop",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
]
