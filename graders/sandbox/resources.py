"""Host-side resources of one sandboxed kernel: its pool user, folders, cgroups.

Everything a kernel gets is made here and removed by :meth:`KernelSandbox.close`,
which is idempotent and safe to call from a finalizer: the kernel manager
calls it on every shutdown path, including the one where the kernel already
died.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import shutil
import signal
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PacelineError
from .cgroups import SandboxCgroups, remove_stale
from .command import HOSTS_TEXT, group_text, passwd_text
from .host import PoolUser, SandboxUnavailable
from .limits import SandboxLimits

_log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".ipynb",)  # the graded notebook holds the restored hidden tests


class ScratchCopyError(PacelineError):
    """The notebook's folder cannot be copied into the sandbox (too big, unreadable)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"cannot prepare the kernel's working folder: {problem}")


# --------------------------------------------------------------------------
# base folder and pool leases
# --------------------------------------------------------------------------

def ensure_private_dir(path: Path) -> Path:
    """``path`` as a root-owned 0700 folder (made if missing); refuses symlinks and foreign owners."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise SandboxUnavailable([f"{path} is not a folder owned by uid {os.geteuid()}: remove it"])
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


@dataclass
class SlotLease:
    """Exclusive use of one pool user, held by an flock for as long as the kernel lives."""

    user: PoolUser
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # drops the flock
            self.fd = None


def acquire_slot(users: list[PoolUser], lock_dir: Path, *, wait: float) -> SlotLease:
    """Lease a free pool user, waiting up to ``wait`` seconds; other grader processes share the pool.

    A lease that would not wait (``wait`` 0: a kernel started ahead of its
    notebook) gives way to any that is waiting: otherwise each grading process
    would take back the user its finished kernel freed, for its next kernel
    started ahead, at once, and a process with no user, looking every 0.1 s,
    could wait until its time ran out (more grading workers than pool users,
    or two courses grading on one machine).
    Waiters say so by a shared flock on ``waiting.lock``, which goes with the
    process however it ends.
    """
    if not users:
        raise SandboxUnavailable(["no sandbox users exist"])
    if wait <= 0 and _someone_waits(lock_dir):
        raise SandboxUnavailable(["a kernel is waiting for a sandbox user: none is taken ahead of need"])
    deadline = time.monotonic() + wait
    order = list(users)
    waiting: int | None = None
    try:
        while True:
            random.shuffle(order)  # spread concurrent graders over the pool
            for user in order:
                fd = _open_lock(lock_dir / f"{user.name}.lock")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return SlotLease(user, fd)
            if time.monotonic() > deadline:
                raise SandboxUnavailable([
                    f"all {len(users)} sandbox users are busy with other kernels (waited {wait:g} s): "
                    "run fewer grading jobs at once or add users with install.sh (PACELINE_SANDBOX_POOL)"
                ])
            if waiting is None:
                waiting = _open_lock(lock_dir / "waiting.lock")
                fcntl.flock(waiting, fcntl.LOCK_SH)
            time.sleep(0.1)
    finally:
        if waiting is not None:
            os.close(waiting)


def _someone_waits(lock_dir: Path) -> bool:
    fd = _open_lock(lock_dir / "waiting.lock")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops the lock, if this took it
    return False


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def kill_uid(uid: int, *, timeout: float = 5.0) -> int:
    """SIGKILL every process of ``uid`` (a leased pool uid belongs to one kernel only); the count killed."""
    killed = 0
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
        if not found:
            return killed
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            _log.warning("processes of sandbox uid %d survive SIGKILL: %s", uid, found)
            return killed
        time.sleep(0.02)


# --------------------------------------------------------------------------
# the scratch copy of the notebook's folder
# --------------------------------------------------------------------------

def copy_folder(source: Path, dest: Path, *, max_bytes: int, max_files: int = 10_000,
                skip_suffixes: tuple[str, ...] = SKIP_SUFFIXES) -> int:
    """Copy regular files and folders of ``source`` into the new folder ``dest``; returns bytes copied.

    The source may hold student files: every component is opened relative to
    its parent with O_NOFOLLOW, so a symlink (or one swapped in meanwhile) is
    never followed; symlinks, devices, fifos and sockets are skipped. The copy
    is root-owned and read-only to the kernel (files 0644, folders 0755).
    """
    os.mkdir(dest, 0o755)
    return fill_folder(source, dest, max_bytes=max_bytes, max_files=max_files, skip_suffixes=skip_suffixes)


def fill_folder(source: Path, dest: Path, *, max_bytes: int, max_files: int = 10_000,
                skip_suffixes: tuple[str, ...] = SKIP_SUFFIXES) -> int:
    """:func:`copy_folder` into the folder ``dest`` that exists already (empty): a started kernel's seed."""
    budget = {"bytes": max_bytes, "files": max_files}
    try:
        src_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ScratchCopyError(f"{source}: {exc.strerror}") from None
    try:
        _copy_dir(src_fd, dest, source, budget, skip_suffixes)
    finally:
        os.close(src_fd)
    return max_bytes - budget["bytes"]


def _copy_dir(src_fd: int, dest: Path, where: Path, budget: dict, skip: tuple[str, ...]) -> None:
    with os.scandir(src_fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=src_fd)
        except OSError:
            continue  # a symlink (ELOOP), vanished, or unreadable: not copied
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                budget["files"] -= 1
                _check(budget, where)
                os.mkdir(dest / name, 0o755)
                _copy_dir(fd, dest / name, where / name, budget, skip)
            elif stat.S_ISREG(st.st_mode) and not name.endswith(skip):
                budget["files"] -= 1
                budget["bytes"] -= st.st_size
                _check(budget, where)
                out = os.open(dest / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
                try:
                    copied = 0
                    while chunk := os.read(fd, 1 << 20):
                        copied += len(chunk)
                        if copied > st.st_size:  # grew while copying
                            budget["bytes"] -= len(chunk)
                            _check(budget, where)
                        os.write(out, chunk)
                finally:
                    os.close(out)
        finally:
            os.close(fd)


def _check(budget: dict, where: Path) -> None:
    if budget["bytes"] < 0:
        raise ScratchCopyError(f"{where} holds more data than the sandbox's working folder can take (raise scratch_mb)")
    if budget["files"] < 0:
        raise ScratchCopyError(f"{where} holds too many files to copy into the sandbox")


# --------------------------------------------------------------------------
# one kernel's sandbox
# --------------------------------------------------------------------------

@dataclass
class KernelSandbox:
    """The host side of one kernel: lease, folders, cgroups. Made by :meth:`open`."""

    lease: SlotLease
    kernel_dir: Path
    ipc_dir: Path
    connection_file: Path
    log_file: Path
    seed_dir: Path | None
    etc_files: tuple[tuple[str, str], ...]
    cgroups: SandboxCgroups = field(default_factory=SandboxCgroups)
    closed: bool = False

    @property
    def uid(self) -> int:
        return self.lease.user.uid

    @property
    def gid(self) -> int:
        return self.lease.user.gid

    @classmethod
    def open(cls, *, base_dir: Path, lock_dir: Path, users: list[PoolUser], limits: SandboxLimits,
             source: Path | None, use_cgroups: bool, wait: float, copy_notebooks: bool = False) -> KernelSandbox:
        """Lease a pool user (locks in ``lock_dir``, shared by every grader on the host) and make
        the kernel's folder under ``base_dir``."""
        ensure_private_dir(Path(lock_dir).parent)
        locks = ensure_private_dir(Path(lock_dir))
        base = ensure_private_dir(Path(base_dir))
        kernels = ensure_private_dir(base / "k")
        lease = acquire_slot(users, locks, wait=wait)
        user = lease.user
        try:
            # The slot was free, so anything left under its name belongs to a dead grader.
            kill_uid(user.uid)
            for stale in kernels.glob(f"{user.name}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            remove_stale(f"{user.name}-")

            name = f"{user.name}-{uuid.uuid4().hex[:12]}"
            kdir = kernels / name
            os.mkdir(kdir, 0o700)
            sandbox = cls(
                lease=lease, kernel_dir=kdir, ipc_dir=kdir / "ipc", connection_file=kdir / "kernel.json",
                log_file=kdir / "kernel.log", seed_dir=None, etc_files=(),
            )
        except BaseException:
            lease.release()
            raise
        try:
            os.mkdir(sandbox.ipc_dir, 0o700)
            os.chown(sandbox.ipc_dir, user.uid, user.gid)
            etc = []
            for filename, text in (("passwd", passwd_text(user.uid, user.gid)), ("group", group_text(user.gid)),
                                   ("hosts", HOSTS_TEXT)):
                path = kdir / filename
                path.write_text(text)
                os.chmod(path, 0o644)
                etc.append((str(path), f"/etc/{filename}"))
            sandbox.etc_files = tuple(etc)
            # Bound read-only into the sandbox; a kernel started ahead of its notebook gets it empty and
            # the notebook's folder is copied in at hand-over (fill_seed).
            sandbox.seed_dir = kdir / "seed"
            os.mkdir(sandbox.seed_dir, 0o755)
            if source is not None:
                sandbox.fill_seed(Path(source), limits=limits, copy_notebooks=copy_notebooks)
            if use_cgroups:
                sandbox.cgroups = SandboxCgroups.create(name, limits)
        except BaseException:
            sandbox.close()
            raise
        return sandbox

    def fill_seed(self, source: Path, *, limits: SandboxLimits, copy_notebooks: bool = False) -> int:
        """Copy the notebook's folder into the kernel's (empty) seed, at start or, for a kernel started
        ahead, at hand-over; bytes copied."""
        assert self.seed_dir is not None
        if any(self.seed_dir.iterdir()):
            raise RuntimeError(f"{self.seed_dir} holds files already: a kernel takes one notebook's folder only")
        return fill_folder(source, self.seed_dir, max_bytes=limits.scratch_bytes // 2,
                           skip_suffixes=() if copy_notebooks else SKIP_SUFFIXES)

    def seal_ipc_dir(self) -> None:
        """Once the kernel has bound its sockets, take the folder back: the kernel cannot add files to it."""
        os.chown(self.ipc_dir, 0, 0)
        os.chmod(self.ipc_dir, 0o755)

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the kernel's own stdout/stderr, printable characters only (for diagnostics)."""
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(max(0, os.fstat(fh.fileno()).st_size - limit))
                data = fh.read(limit)
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        return "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in text).strip()

    def close(self) -> None:
        """Kill what is left of the kernel, remove its folders and cgroups, free the pool user."""
        if self.closed:
            return
        self.closed = True
        try:
            self.cgroups.destroy()
        except OSError as exc:
            _log.warning("could not remove the sandbox cgroups %s: %s", self.cgroups.paths, exc)
        try:
            kill_uid(self.uid)
        finally:
            shutil.rmtree(self.kernel_dir, ignore_errors=True)
            self.lease.release()
