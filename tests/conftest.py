"""Hooks for the whole test suite: tests marked ``uml`` run in a user-mode Linux
guest where this kernel lacks GRE (see ``uml_support``)."""

from uml_support import (
    pytest_collection_modifyitems,
    pytest_runtest_logreport,
    pytest_runtestloop,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

__all__ = [
    "pytest_collection_modifyitems",
    "pytest_runtest_logreport",
    "pytest_runtestloop",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
]
