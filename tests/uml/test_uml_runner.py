"""The user-mode Linux runner and the pytest hook that sends ``uml`` tests into it.

These boot real UML guests (a few seconds each) but need no root; they skip
with the reason where UML is not installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.lab.guestlink import GuestLink, host_link
from orchestrator.lab.shell import LabError, run
from orchestrator.lab.uml import (
    KERNEL,
    HostfsMount,
    UmlRunner,
    UmlStopped,
    hostfs_mounts,
    kernel_version,
    missing_uml,
)

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner() -> UmlRunner:
    reason = missing_uml()
    if reason:
        pytest.skip(reason)
    return UmlRunner(timeout=120)


@pytest.mark.parametrize(
    ("keep", "writable", "expected"),
    [
        pytest.param(
            ["/work/repo", "/usr"], "/tmp/s/result", [("/tmp/s/result", True)], id="nothing-hidden"
        ),
        pytest.param(
            ["/tmp/clone", "/tmp/clone/.venv", "/tmp/s"],
            "/tmp/s/result",
            [("/tmp/clone", False), ("/tmp/s", False), ("/tmp/s/result", True)],
            id="venv-under-tmp",
        ),
        pytest.param(
            ["/run/x", "/var/tmp"],
            "/r",
            [("/r", True), ("/run/x", False), ("/var/tmp", False)],
            id="run-and-var-tmp",
        ),
    ],
)  # fmt: skip
def test_hostfs_mounts_bring_back_what_tmpfs_hides(
    keep: list[str], writable: str, expected: list[tuple[str, bool]]
) -> None:
    mounts = hostfs_mounts([Path(p) for p in keep], Path(writable))
    assert mounts == [HostfsMount(Path(p), w) for p, w in expected]


def test_missing_uml_names_the_missing_kernel() -> None:
    reason = missing_uml(kernel=Path("/nonexistent/linux.uml"))
    assert reason is not None
    assert "/nonexistent/linux.uml is missing" in reason


def test_runner_reports_the_guest_exit_code_and_output(runner: UmlRunner) -> None:
    result = runner.run(["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"])
    assert result.exit_code == 3
    assert result.output == "to-stdout\nto-stderr\n"


def test_follow_gets_the_output_while_the_guest_runs(runner: UmlRunner) -> None:
    seen: list[tuple[float, str]] = []
    result = runner.run(["sh", "-c", "echo first; sleep 5; echo second >&2; exit 4"],
                        follow=lambda line: seen.append((time.monotonic(), line)))  # fmt: skip
    assert [line for _, line in seen] == ["first", "second"]
    assert seen[1][0] - seen[0][0] >= 3  # "first" came while the guest slept
    assert (result.exit_code, result.output) == (4, "first\nsecond\n")


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace of this test's own for the host's end of a guest link."""
    if os.geteuid() != 0:
        pytest.skip("a tap device needs root")
    name = f"scrub-uml-t{os.getpid()}"
    run(["ip", "netns", "add", name])
    try:
        yield name
    finally:
        run(["ip", "netns", "del", name], check=False)


def test_a_guest_link_joins_the_guest_and_the_host_end(runner: UmlRunner, netns: str) -> None:
    link = GuestLink(tap="scrub-uml-t0", netns=netns)
    run(["ip", "-n", netns, "tuntap", "add", "dev", link.tap, "mode", "tap"])  # a leftover
    refused: list[str] = []

    def second_link(line: str) -> None:  # while the guest holds the tap
        if line == "attached":
            with pytest.raises(LabError, match="in use by another") as second:
                host_link(link).__enter__()
            refused.append(str(second.value))

    with host_link(link):
        script = f"ip -4 -o addr show dev vec0; echo attached; ping -c 2 -W 2 {link.host_address}"
        result = UmlRunner(timeout=120, link=link).run(["sh", "-c", script], follow=second_link)
        assert result.exit_code == 0, result.output
        assert f"inet {link.guest_address}/30" in result.output
        assert " 0% packet loss" in result.output  # the second link changed nothing
    assert len(refused) == 1
    assert run(["ip", "-n", netns, "link", "show", link.tap], check=False).returncode != 0


def test_runner_runs_as_root_in_the_uml_kernel_and_returns_files(runner: UmlRunner) -> None:
    script = "echo $(id -u) $(uname -r) $(ip -6 -o addr show dev lo up) > $SCRUBCTL_UML_OUT/who"
    result = runner.run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    who = result.files["who"].split()
    assert who[:2] == ["0", kernel_version()]  # root, in the UML kernel
    assert "::1/128" in who  # lo is up, with IPv6


def test_runner_kills_an_overrunning_guest_and_leaves_nothing(
    runner: UmlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the runner's scratch goes here
    with pytest.raises(UmlStopped, match="did not finish within 8 s"):
        UmlRunner(timeout=8).run(["sleep", "600"])
    assert list(tmp_path.iterdir()) == []
    assert _processes_mentioning(str(tmp_path)) == []


def test_a_cancelled_guest_is_killed_and_hands_back_what_it_wrote(
    runner: UmlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cancel = threading.Event()

    def cancel_once_written() -> None:  # the guest's writable dir is on the host
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("*/result/files/note")) and time.monotonic() < deadline:
            time.sleep(0.1)
        cancel.set()

    watcher = threading.Thread(target=cancel_once_written)
    watcher.start()
    try:
        with pytest.raises(UmlStopped, match="stopped before it finished") as stopped:
            runner.run(["sh", "-c", "echo started; echo partial > $SCRUBCTL_UML_OUT/note; "
                                    "sleep 600"], cancel=cancel)  # fmt: skip
    finally:
        cancel.set()
        watcher.join()
    assert stopped.value.files == {"note": "partial\n"}
    assert stopped.value.output == "started\n"
    assert list(tmp_path.iterdir()) == []
    assert _processes_mentioning(str(tmp_path)) == []


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # the process ended meanwhile
        if text in args:
            found.append(args)
    return found


@pytest.fixture
def short_tmpdir() -> Iterator[Path]:
    """A directory of our own under /tmp, short enough for the guest's socket paths."""
    path = Path(tempfile.mkdtemp(prefix="uml-t-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_marked_tests_run_in_the_guest_while_the_host_runs_its_own(
    runner: UmlRunner,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    short_tmpdir: Path,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("SCRUBCTL_UML_FORCE", "1")
    monkeypatch.setenv("TMPDIR", str(short_tmpdir))  # the guest's scratch dir goes here
    pytester.makeini("[pytest]\nmarkers =\n    uml: needs kernel GRE\n")
    pytester.makeconftest(
        "from uml_support import (pytest_collection_modifyitems, pytest_runtest_logreport,\n"
        "    pytest_runtestloop, pytest_sessionfinish)\n"
    )
    host_test = textwrap.dedent(
        """
        import os
        import time
        from pathlib import Path

        def cmdlines():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    yield path.read_bytes().replace(b"\\0", b" ").decode(errors="replace")
                except OSError:
                    continue  # the process ended meanwhile

        def test_not_marked_runs_on_the_host_while_the_guest_runs():
            # first in the file, yet the guest's kernel (its scratch dir in our TMPDIR)
            # runs beside it: the guest does not wait until the host's tests are done
            assert "SCRUBCTL_IN_UML" not in os.environ
            scratch = os.environ["TMPDIR"] + "/scrubctl-uml-"
            deadline = time.monotonic() + 60
            while not any(KERNEL in args and scratch in args for args in cmdlines()):
                assert time.monotonic() < deadline, "no guest kernel beside the host's test"
                time.sleep(0.1)
        """
    ).replace("KERNEL", repr(str(KERNEL)))
    guest_tests = textwrap.dedent(
        f"""
        import pytest

        @pytest.mark.uml
        def test_passes_in_the_guest():
            assert os.environ["SCRUBCTL_IN_UML"] == "1"
            assert os.uname().release == {kernel_version()!r}

        @pytest.mark.uml
        def test_fails_in_the_guest():
            assert os.uname().release == "the-host-kernel"

        @pytest.mark.uml
        def test_skips_in_the_guest():
            pytest.skip("no widgets here")
        """
    )
    pytester.makepyfile(test_guest=host_test + guest_tests)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    outcome.assert_outcomes(passed=2, failed=1, skipped=1)
    out = outcome.stdout.str()
    assert "in the UML guest, call" in out
    assert f"AssertionError: assert '{kernel_version()}' == 'the-host-kernel'" in out
    assert "in the UML guest: Skipped: no widgets here" in out
