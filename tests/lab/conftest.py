"""The lab fixtures: ``lab`` (containerlab.yml built into namespaces, one build
shared by every module that uses it, see ``lab_support``) and ``running_sites``
(fra's and ams's site runners on a fresh database, per module). The lab is
ALWAYS removed again, even when a test fails: when the next test does not use
it, and at the end of the session at the latest.

Needs root, FRR and nftables; elsewhere the lab tests are skipped with the
reason. ``SCRUBCTL_LAB_NAME`` builds the lab under another name (default: the
file's ``scrub``). ``/run/scrubctl-lab/lock`` is held while the lab is up, so
two test runs on one machine take turns instead of tearing down each other's
lab. Tests of this directory that use the lab run after the others, so that
the shared lab is built once and never meets a module's labs of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_support import LAB_INVENTORY, RunningSites, SharedLab, lab_topology

from orchestrator.lab.handle import LabHandle
from orchestrator.lab.runner import missing_prerequisites

SITES_TIMEOUT = 60.0  # fra's and ams's sessions, from their start (seconds in the guest)
SHARED = pytest.StashKey[SharedLab]()


def _uses_lab(item: pytest.Item) -> bool:
    return "lab" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This directory's tests that use the shared lab after its other tests."""
    here = [i for i, item in enumerate(items) if item.path.is_relative_to(Path(__file__).parent)]
    ordered = sorted((items[i] for i in here), key=_uses_lab)  # stable: file order kept
    for i, item in zip(here, ordered, strict=True):
        items[i] = item


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the item's own teardown (its site runners stopped): the lab goes down
    when the next test does not use it."""
    try:
        return (yield)
    finally:
        shared = item.config.stash.get(SHARED, None)
        if shared is not None and (nextitem is None or not _uses_lab(nextitem)):
            shared.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    shared = session.config.stash.get(SHARED, None)
    if shared is not None:
        shared.close()


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> LabHandle:
    """The shared lab, as ``lab up`` left it (reset or rebuilt for each module)."""
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    config = request.config
    if SHARED not in config.stash:
        config.stash[SHARED] = SharedLab(lab_topology())
    return config.stash[SHARED].handle()


@pytest.fixture(scope="module")
def sites_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inventory ``running_sites`` applies: ``lab/inventory.yml`` unless the
    module overrides this fixture (``lab_support.dedicated_inventory``)."""
    return LAB_INVENTORY


@pytest.fixture(scope="module")
def running_sites(lab: LabHandle, sites_inventory: Path) -> Iterator[RunningSites]:
    """fra and ams running ``scrubctl site run`` with ``sites_inventory`` on a
    database of this module's own, both sessions Established at both transits;
    stopped (and their files removed) after the module."""
    running = RunningSites(lab, Path(tempfile.mkdtemp(prefix="scrubctl-lab-sites-")))
    try:
        running.start(sites_inventory, SITES_TIMEOUT)
        yield running
    finally:
        running.stop()
