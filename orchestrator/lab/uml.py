"""Run one command inside a user-mode Linux (UML) guest, for kernels without GRE.

Debian's ``user-mode-linux`` package ships a 6.1 kernel as a program
(``/usr/bin/linux.uml``) with ``ip_gre``, ``ip6_gre``, ``veth`` and the legacy
iptables modules under ``/usr/lib/uml/modules/<version>/``. ``UmlRunner.run``
boots that kernel with the host's filesystem as a read-only root (hostfs), so
the same Python and virtualenv run inside, and runs one command there as root:

- tmpfs on ``/run``, ``/tmp`` and ``/var/tmp``; host paths the guest needs that
  lie below them (the working directory, the interpreter, the runner's own
  scratch dir, ``keep=``) are mounted back from the host, read-only;
- one writable directory, ``$SCRUBCTL_UML_OUT`` inside the guest, whose files
  come back in ``UmlResult.files``;
- modules load on demand: ``/proc/sys/kernel/modprobe`` points at a wrapper
  running ``modprobe -d`` over a scratch tree whose ``lib/modules/<version>``
  links to the UML modules; ``lo`` is up and ``ipv6`` loaded before the command;
- the command's exit code and combined output are written to the shared
  directory (UML's own exit code is always 0), then the guest halts with
  ``reboot(2)``; with ``follow=``, the output is also copied to the guest's
  console and handed to ``follow`` line by line while the command runs;
- with ``link=`` (``lab.guestlink``), the guest's ``vec0`` is attached to a
  tap on the host and gets the guest's address, so the host can reach a
  service in the guest (the caller creates the tap: ``guestlink.host_link``).

The run is bounded by ``timeout``; the kernel's whole process group is killed
when it overruns, and the scratch directory is always removed. nftables in that
kernel supports only the bridge family: use ``iptables-legacy`` inside.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.lab.guestlink import GuestLink
from orchestrator.lab.shell import LabError

KERNEL = Path("/usr/bin/linux.uml")
MODULES = Path("/usr/lib/uml/modules")
TMPFS_DIRS = (Path("/run"), Path("/tmp"), Path("/var/tmp"))
OUT_ENV = "SCRUBCTL_UML_OUT"  # the writable directory, as the guest command sees it
REBOOT_POWER_OFF = 0x4321FEDC
CANCEL_POLL = 0.5  # seconds between looks at the cancel flag while the guest runs
GUEST_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# The lines between these two on the guest's console are the command's output (follow=).
OUTPUT_BEGIN = "--- scrubctl guest output begins ---"
OUTPUT_END = "--- scrubctl guest output ends ---"
FOLLOW_POLL = 0.2  # seconds between looks at the console while following


class UmlError(LabError):
    """The guest did not report an exit code (timed out, crashed, init failed)."""


class UmlStopped(UmlError):
    """The guest was killed (it overran, or was cancelled): what its command had
    written to its output and to ``$SCRUBCTL_UML_OUT`` by then."""

    def __init__(self, message: str, *, output: str, files: dict[str, str]) -> None:
        super().__init__(message)
        self.output = output
        self.files = files


@dataclass(frozen=True)
class UmlResult:
    exit_code: int  # the command's, inside the guest
    output: str  # the command's stdout and stderr, interleaved
    files: dict[str, str]  # what the command left in $SCRUBCTL_UML_OUT, by name
    console: str  # the guest kernel's console (boot messages, init errors)
    seconds: float  # boot to halt, wall time


@dataclass(frozen=True)
class HostfsMount:
    path: Path  # the same path on the host and in the guest
    writable: bool


def kernel_version(kernel: Path = KERNEL) -> str:
    """The UML kernel's release (``linux.uml --version``), e.g. ``6.1.176``."""
    try:
        done = subprocess.run(
            [str(kernel), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UmlError(f"{kernel} --version failed: {exc}") from None
    words = done.stdout.split()
    if done.returncode != 0 or not words:
        raise UmlError(f"{kernel} --version printed no version (exit code {done.returncode})")
    return words[0]


def missing_uml(kernel: Path = KERNEL, modules: Path = MODULES) -> str | None:
    """Why a UML guest cannot run here, or None. Root is not needed on the host."""
    if not kernel.is_file() or not os.access(kernel, os.X_OK):
        return f"{kernel} is missing (Debian package user-mode-linux; scripts/bootstrap.sh)"
    if shutil.which("modprobe", path=":".join(GUEST_PATH)) is None:
        return "modprobe is missing (Debian package kmod; scripts/bootstrap.sh)"
    try:
        version = kernel_version(kernel)
    except UmlError as exc:
        return str(exc)
    if not (modules / version / "modules.dep").is_file():
        return f"no modules for UML kernel {version} under {modules}"
    return None


def kernel_has_gre() -> bool:
    """True when this machine's kernel can create ``gre`` and ``ip6gre`` links.

    Tried in a throwaway network namespace (``unshare --net``) that disappears
    with the command, so nothing is left behind. Needs root; False without it.
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    script = (
        "ip link add scrub-gre4 type gre local 192.0.2.1 remote 192.0.2.2"
        " && ip link add scrub-gre6 type ip6gre local 2001:db8::1 remote 2001:db8::2"
    )
    try:
        done = subprocess.run(
            ["unshare", "--net", "sh", "-c", script],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def hostfs_mounts(
    keep: Sequence[Path], writable: Path, tmpfs_dirs: Sequence[Path] = TMPFS_DIRS
) -> list[HostfsMount]:
    """The host paths to mount back over the guest's tmpfs dirs, parents first.

    ``writable`` is always mounted (read-write); a kept path is mounted
    read-only when it lies below a tmpfs dir and not already below another
    kept path.
    """

    def under(path: Path, parent: Path) -> bool:
        return path == parent or parent in path.parents

    hidden = sorted({p for p in keep if any(under(p, t) for t in tmpfs_dirs)})
    read_only = [p for p in hidden if not any(q != p and under(p, q) for q in hidden)]
    mounts = [HostfsMount(p, writable=False) for p in read_only if p != writable]
    mounts.append(HostfsMount(writable, writable=True))
    return sorted(mounts, key=lambda m: len(m.path.parts))


@dataclass(frozen=True)
class UmlRunner:
    kernel: Path = KERNEL
    modules: Path = MODULES
    memory_mb: int = 512
    timeout: float = 120.0
    keep: tuple[Path, ...] = ()  # more host paths the guest must see
    link: GuestLink | None = None  # a tap on the host for the guest's vec0

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        cancel: threading.Event | None = None,
        follow: Callable[[str], None] | None = None,
    ) -> UmlResult:
        """Boot, run ``argv`` as root in ``cwd`` (default: ours), halt; see the module doc.

        The command's environment is ``PATH`` (our interpreter's directory
        first), ``HOME=/root``, ``TMPDIR=/tmp``, ``LANG``, ``$SCRUBCTL_UML_OUT``
        and ``env``. Raises ``UmlError`` when no exit code came back;
        ``UmlStopped`` (with what the command wrote until then) when the guest
        overran ``timeout`` or ``cancel`` was set meanwhile (from another
        thread) and it was killed. ``follow`` gets each line of the command's
        output (without its newline) as the guest writes it.
        """
        if not argv:
            raise UmlError("no command to run in the guest")
        workdir = (cwd or Path.cwd()).resolve()
        scratch = Path(tempfile.mkdtemp(prefix="scrubctl-uml-")).resolve()
        try:
            return self._boot(scratch, list(argv), dict(env or {}), workdir, cancel, follow)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _boot(
        self,
        scratch: Path,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        cancel: threading.Event | None,
        follow: Callable[[str], None] | None,
    ) -> UmlResult:
        version = kernel_version(self.kernel)
        if not (self.modules / version).is_dir():
            raise UmlError(f"no modules for UML kernel {version} under {self.modules}")
        result = scratch / "result"  # the one writable mount
        out = result / "files"
        for directory in (result, out, scratch / "uml"):
            directory.mkdir()
        modroot = scratch / "modroot" / "lib" / "modules"
        modroot.mkdir(parents=True)
        (modroot / version).symlink_to(self.modules / version)
        wrapper = _write_script(
            scratch / "modprobe",
            f'exec modprobe -d {shlex.quote(str(scratch / "modroot"))} "$@"\n',
        )
        python = Path(sys.executable).absolute()
        keep = [cwd, python.parent, Path(sys.prefix), Path(sys.base_prefix), scratch, *self.keep]
        mounts = hostfs_mounts([p.resolve() for p in keep], result)
        guest_env = {
            "PATH": ":".join([str(python.parent), *GUEST_PATH]),
            "HOME": "/root",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            OUT_ENV: str(out),
            **env,
        }
        script = _init_script(argv, guest_env, cwd, mounts, wrapper, result, python,
                              link=self.link, console=follow is not None)  # fmt: skip
        init = _write_script(scratch / "init", script)
        boot = [
            str(self.kernel),
            f"mem={self.memory_mb}M",
            "rootfstype=hostfs",
            "rootflags=/",
            "ro",
            f"init={init}",
            f"uml_dir={scratch / 'uml'}",
            "con=null",
            "con0=null,fd:1",
            "quiet",
            *([self.link.boot_arg()] if self.link else []),
        ]
        if self.link and self.link.netns:  # the tap is in that namespace
            boot = ["ip", "netns", "exec", self.link.netns, *boot]
        started = time.monotonic()
        try:
            console = self._spawn(boot, _memory_dir(scratch), cancel or threading.Event(), follow)
        except UmlError as exc:  # what the command wrote until it was stopped
            raise UmlStopped(str(exc), output=_output(result), files=_files(result)) from None
        return _collect(result, console, time.monotonic() - started)

    def _spawn(
        self,
        boot: list[str],
        memory_dir: Path,
        cancel: threading.Event,
        follow: Callable[[str], None] | None = None,
    ) -> str:
        """Run the kernel in its own process group; kill the group on overrun or cancel.
        With ``follow``, a thread hands it the output lines that reach the console."""
        host_env = {"PATH": os.environ.get("PATH", ":".join(GUEST_PATH)), "TMPDIR": str(memory_dir)}
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(
                boot,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=host_env,
                start_new_session=True,
            )
            follower = _ConsoleFollower(log.fileno(), follow) if follow else None
            try:
                _wait(proc, time.monotonic() + self.timeout, cancel)
            except subprocess.TimeoutExpired:
                raise UmlError(
                    f"the UML guest did not finish within {self.timeout:.0f} s",
                    hint="raise the timeout, or look for a command that hangs",
                ) from None
            finally:
                _kill_group(proc)
                if follower:
                    follower.stop()
            log.seek(0)
            return log.read().decode(errors="replace")


class _ConsoleFollower:
    """Reads the console log as the guest writes it (``pread``: the writer's offset is
    left alone) and hands ``follow`` the lines between the output markers."""

    def __init__(self, fd: int, follow: Callable[[str], None]) -> None:
        self._fd, self._follow = fd, follow
        self._offset, self._partial, self._inside = 0, b"", False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="uml-console", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._done.wait(FOLLOW_POLL):
            self._read()
        self._read()

    def _read(self) -> None:
        while chunk := os.pread(self._fd, 65536, self._offset):
            self._offset += len(chunk)
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace").rstrip("\r")
                if line in (OUTPUT_BEGIN, OUTPUT_END):
                    self._inside = line == OUTPUT_BEGIN
                elif self._inside:
                    self._follow(line)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _wait(proc: subprocess.Popen[bytes], deadline: float, cancel: threading.Event) -> None:
    """Until ``proc`` ends; ``TimeoutExpired`` past ``deadline``, ``UmlError`` on cancel."""
    while True:
        if cancel.is_set():
            raise UmlError("the UML guest was stopped before it finished (cancelled)")
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, 0)
        try:
            proc.wait(timeout=min(left, CANCEL_POLL))
            return
        except subprocess.TimeoutExpired:
            continue


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the kernel, then kill what is left of its process group (UML forks helpers)."""
    if proc.poll() is None:
        proc.terminate()  # UML halts on SIGTERM and reaps its own helpers
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _memory_dir(scratch: Path) -> Path:
    """Where UML keeps its guest memory file: /dev/shm unless that is noexec."""
    shm = Path("/dev/shm")
    try:
        usable = shm.is_dir() and not os.statvfs(shm).f_flag & os.ST_NOEXEC
    except OSError:
        usable = False
    return shm if usable and os.access(shm, os.W_OK) else scratch


def _write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _init_script(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    mounts: list[HostfsMount],
    modprobe: Path,
    result: Path,
    python: Path,
    *,
    link: GuestLink | None = None,
    console: bool = False,
) -> str:
    q = shlex.quote
    lines = [
        f"export PATH={q(':'.join(GUEST_PATH))}",
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        *(f"mount -t tmpfs -o mode=1777 tmpfs {q(str(d))}" for d in TMPFS_DIRS),
        "mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm",
    ]
    for m in mounts:
        options = m.path if m.writable else f"ro,{m.path}"
        lines.append(f"mkdir -p {q(str(m.path))}")
        lines.append(f"mount -t hostfs -o {q(str(options))} hostfs {q(str(m.path))}")
    lines += [
        f"echo {q(str(modprobe))} > /proc/sys/kernel/modprobe",
        f"{q(str(modprobe))} ipv6",
        "ip link set lo up",
        *(shlex.join(c) for c in (link.guest_commands() if link else [])),
    ]
    command = (
        f"cd {q(str(cwd))} && env -i {' '.join(q(f'{k}={v}') for k, v in env.items())} "
        f"{' '.join(q(a) for a in argv)}"
    )
    output, exit_code = q(str(result / "output")), q(str(result / "exit-code"))
    if console:  # the output to the file and, between markers, to the console
        lines += [
            f"echo {q(OUTPUT_BEGIN)} > /dev/console",
            f"{{ {{ {command}; }} < /dev/null 2>&1; echo $? > {exit_code}; }} "
            f"| tee {output} > /dev/console",
            f"echo {q(OUTPUT_END)} > /dev/console",
        ]
    else:
        lines += [
            f"{{ {command}; }} > {output} 2>&1 < /dev/null",
            f"echo $? > {exit_code}",
        ]
    lines += [
        f"exec {q(str(python))} -c "
        + q(f"import ctypes, os; os.sync(); ctypes.CDLL(None).reboot({REBOOT_POWER_OFF})"),
    ]
    return "\n".join(lines) + "\n"


def _collect(result: Path, console: str, seconds: float) -> UmlResult:
    try:
        code = int((result / "exit-code").read_text().strip())
    except (OSError, ValueError):
        tail = "\n".join(console.strip().splitlines()[-10:])
        raise UmlError(f"the UML guest reported no exit code; console:\n{tail}") from None
    return UmlResult(code, _output(result), _files(result), console, seconds)


def _output(result: Path) -> str:
    try:
        return (result / "output").read_text(errors="replace")
    except OSError:
        return ""


def _files(result: Path) -> dict[str, str]:
    return {
        f.name: f.read_text(errors="replace")
        for f in sorted((result / "files").iterdir())
        if f.is_file()
    }
