"""Network namespaces for the real-kernel netlink tests: created by the test, always deleted.

Names are ``scrt-<pid>-<random>-<role>`` so parallel runs never meet; the
namespaces are removed in the fixture's ``finally`` even when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


def ip_json(ns: str, *args: str) -> list[dict[str, Any]]:
    out = sh("ip", "-n", ns, "-j", *args).stdout
    return json.loads(out) if out.strip() else []


def kernel_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2's ip"
    return None


@pytest.fixture
def netns() -> Iterator[Callable[[str], str]]:
    """``netns("site")`` creates a namespace (lo up) and returns its name."""
    reason = kernel_reason()
    if reason:
        pytest.skip(reason)
    tag = f"scrt-{os.getpid()}-{secrets.token_hex(2)}"
    made: list[str] = []

    def make(role: str) -> str:
        name = f"{tag}-{role}"
        sh("ip", "netns", "add", name)
        made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        for conf in ("all", "default"):  # no duplicate detection delays on test links
            sh("ip", "netns", "exec", name, "sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0")
        return name

    try:
        yield make
    finally:
        for name in made:
            sh("ip", "netns", "del", name, check=False)
