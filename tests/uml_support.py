"""pytest support for tests marked ``uml``: they need kernel GRE (and root).

On a host whose kernel has GRE, run as root, a ``uml`` test runs directly.
Elsewhere each such test is replaced by a ``UmlItem`` with the same node id,
and all the selected ``uml`` tests of the run go into ONE user-mode Linux guest
(``orchestrator.lab.uml``): ``python -m pytest NODEID...`` with
``SCRUBCTL_IN_UML=1``, so that the guest-side run executes them directly. One
boot, because the boot and pytest's start-up inside the guest cost far more
than a typical test. The guest boots in a background thread as soon as the
host starts running tests, and the stand-ins go last: the host's own tests run
meanwhile on the other CPU (the guest is one CPU, its own kernel with its own
namespaces, and its own tmpfs on /run and /tmp, so its labs, lab lock and
scratch files cannot meet the host's; it sees the host's files read-only).
If the host's run ends first (``-x``, Ctrl-C), the guest is killed.
The guest writes one JSON line per test phase to ``$SCRUBCTL_UML_OUT`` (with
the phase's duration); each host item passes, fails (with the guest's traceback
and output) or skips from its own lines, and ``--durations=N`` lists the
guest's slowest phases too. Without UML the tests are skipped with the reason.
``SCRUBCTL_UML_FORCE=1`` sends them to the guest even on a GRE host.

The hooks are imported by ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.lab.guest import MEMORY_MB
from orchestrator.lab.uml import (
    OUT_ENV,
    UmlError,
    UmlResult,
    UmlRunner,
    UmlStopped,
    kernel_has_gre,
    missing_uml,
)

IN_GUEST_ENV = "SCRUBCTL_IN_UML"
FORCE_ENV = "SCRUBCTL_UML_FORCE"
REPORTS = "reports.jsonl"
BOOT_BUDGET = 120.0  # seconds for boot, pytest start-up and halt
TEST_BUDGET = 60.0  # seconds per test on top
# Per test module that builds the namespace lab (marked ``lab``) on top: lab up, the
# site runners' ExaBGP, lab down; measured 150 s in a guest on 2 busy cores.
LAB_MODULE_BUDGET = 300.0
GUEST_MEMORY_MB = MEMORY_MB  # enough for the whole lab (FRR, ExaBGP, site runners)
# No cache (read-only root); no hypothesis plugin: its import costs ~2 s in the guest.
GUEST_PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


@dataclass(frozen=True)
class GuestReport:
    nodeid: str
    when: str  # setup, call, teardown
    outcome: str  # passed, failed, skipped
    text: str  # traceback and captured output; the reason for a skip
    duration: float  # seconds the phase took inside the guest


@dataclass
class GuestBatch:
    """The ``uml`` tests of this run, run in one guest boot in a background thread."""

    rootdir: Path
    nodeids: list[str]
    lab_modules: int = 0  # how many of the tests' modules build the lab
    done: UmlResult | UmlError | None = None
    reports: dict[str, list[GuestReport]] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """Boot the guest in the background (once); the host goes on meanwhile."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="uml-guest", daemon=True)
            self._thread.start()

    def run(self) -> UmlResult | UmlError:
        """The guest's result: started if need be, then waited for."""
        self.start()
        assert self._thread is not None
        self._thread.join()
        assert self.done is not None
        return self.done

    def stop(self) -> None:
        """Kill a guest still running (the host's run ended first) and wait for it."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            self.done = self._boot()
        except Exception as exc:  # reported by every stand-in instead of lost in the thread
            self.done = UmlError(f"the guest's thread failed: {exc!r}")

    def _boot(self) -> UmlResult | UmlError:
        argv = [sys.executable, "-m", "pytest", *self.nodeids, "-q", *GUEST_PYTEST_OPTIONS]
        env = {k: v for k, v in os.environ.items() if k.startswith("SCRUBCTL_")}
        env[IN_GUEST_ENV] = "1"
        path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        if path:
            env["PYTHONPATH"] = os.pathsep.join(path)
        runner = UmlRunner(
            memory_mb=GUEST_MEMORY_MB,
            timeout=BOOT_BUDGET
            + TEST_BUDGET * len(self.nodeids)
            + LAB_MODULE_BUDGET * self.lab_modules,
            keep=tuple(Path(p).absolute() for p in path if Path(p).is_dir()),  # under /tmp too
        )
        try:
            result = runner.run(argv, env=env, cwd=self.rootdir, cancel=self._cancel)
        except UmlStopped as exc:  # the tests that finished still count
            last = self._read(exc.files)
            where = f"after {last.when} of {last.nodeid}" if last else "before any test ended"
            return UmlError(f"{exc}; it stopped {where}")
        except UmlError as exc:
            return exc
        self._read(result.files)
        return result

    def _read(self, files: dict[str, str]) -> GuestReport | None:
        """The guest's reports into ``reports``; the last one."""
        report = None
        for line in files.get(REPORTS, "").splitlines():
            report = GuestReport(**json.loads(line))
            self.reports.setdefault(report.nodeid, []).append(report)
        return report


class GuestFailure(Exception):
    """The test failed inside the guest (or the guest failed); str() is the whole story."""


class UmlItem(pytest.Item):
    """Stands in for a ``uml`` test on the host and reports the guest's outcome."""

    def __init__(self, *, batch: GuestBatch, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.batch = batch

    def runtest(self) -> None:
        done = self.batch.run()
        reports = self.batch.reports.get(self.nodeid, [])
        failed = [r for r in reports if r.outcome == "failed"]
        exit_code = done.exit_code if isinstance(done, UmlResult) else "none: killed"
        if failed:
            story = "\n".join(f"--- in the UML guest, {r.when} ---\n{r.text}" for r in failed)
            raise GuestFailure(f"{story}\n(guest pytest exit code {exit_code})")
        skipped = [r for r in reports if r.outcome == "skipped"]
        if skipped:
            pytest.skip(f"in the UML guest: {skipped[0].text}")
        passed = [r for r in reports if r.when == "call" and r.outcome == "passed"]
        for report in passed:  # what the test printed in the guest: shown by -rP
            self.add_report_section("call", "guest", report.text)
        if passed:
            return
        if isinstance(done, UmlError):
            raise GuestFailure(f"the UML guest failed: {done}")
        tail = "\n".join(done.output.splitlines()[-40:])
        raise GuestFailure(
            f"the UML guest did not run {self.nodeid} "
            f"(guest pytest exit code {done.exit_code}):\n{tail}"
        )

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None
    ) -> str:
        if isinstance(excinfo.value, GuestFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name} (in user-mode Linux)"


def _placement() -> str | None:
    """None to run ``uml`` tests in a guest, "host" to run them here, else a skip reason."""
    if os.environ.get(FORCE_ENV) != "1" and os.geteuid() == 0 and kernel_has_gre():
        return "host"
    missing = missing_uml()
    if missing is None:
        return None
    if os.environ.get(FORCE_ENV) == "1":
        why = f"{FORCE_ENV}=1"
    elif os.geteuid() != 0:
        why = "not root (GRE tests on the host kernel need root)"
    else:
        why = "this kernel has no GRE"
    return f"{why}, and user-mode Linux cannot run: {missing}"


BATCH = pytest.StashKey[GuestBatch]()


@pytest.hookimpl(trylast=True)  # after -m/-k/--deselect have chosen the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(IN_GUEST_ENV) == "1":
        return
    marked = [i for i, item in enumerate(items) if item.get_closest_marker("uml")]
    if not marked:
        return
    placement = _placement()
    if placement == "host":
        return
    if placement is not None:
        for i in marked:
            items[i].add_marker(pytest.mark.skip(reason=placement))
        return
    lab_modules = {items[i].path for i in marked if items[i].get_closest_marker("lab")}
    batch = GuestBatch(config.rootpath, [items[i].nodeid for i in marked], len(lab_modules))
    config.stash[BATCH] = batch
    stand_ins = [_stand_in(items[i], batch) for i in marked]
    chosen = set(marked)
    host = [item for i, item in enumerate(items) if i not in chosen]
    items[:] = host + stand_ins  # the host's own tests first, while the guest runs


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Boot the guest as the host starts its tests (not for ``--collect-only``)."""
    batch = session.config.stash.get(BATCH, None)
    if batch is not None and not session.config.option.collectonly:
        batch.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    batch = session.config.stash.get(BATCH, None)
    if batch is not None:
        batch.stop()


def _stand_in(item: pytest.Item, batch: GuestBatch) -> UmlItem:
    assert item.parent is not None
    stand_in: UmlItem = UmlItem.from_parent(item.parent, name=item.name, batch=batch)
    stand_in.own_markers.extend(item.own_markers)
    stand_in.keywords.update(item.keywords)
    return stand_in


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Inside the guest: one JSON line per test phase for the host to read."""
    out = os.environ.get(OUT_ENV)
    if os.environ.get(IN_GUEST_ENV) != "1" or not out:
        return
    if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
        text = str(report.longrepr[2])
    else:
        captured = "".join(f"\n--- {title} ---\n{body}" for title, body in report.sections)
        text = report.longreprtext + captured
    line = GuestReport(report.nodeid, report.when, report.outcome, text, report.duration)
    with open(Path(out) / REPORTS, "a", encoding="utf-8") as f:
        f.write(json.dumps(line.__dict__) + "\n")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """On the host: how long the guest took, and with ``--durations=N`` its slowest phases."""
    batch = config.stash.get(BATCH, None)
    if batch is None or not isinstance(batch.done, UmlResult):
        return
    terminalreporter.write_sep("=", "user-mode Linux guest")
    terminalreporter.write_line(
        f"{len(batch.nodeids)} tests in one guest boot: {batch.done.seconds:.1f} s boot to halt"
    )
    count = config.option.durations
    if count is None:
        return
    phases = sorted(
        (r for reports in batch.reports.values() for r in reports),
        key=lambda r: r.duration,
        reverse=True,
    )
    for report in phases[:count] if count > 0 else phases:
        terminalreporter.write_line(f"{report.duration:.2f}s {report.when:<8} {report.nodeid}")
