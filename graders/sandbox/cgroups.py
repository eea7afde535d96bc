"""cgroup v1 memory and pids limits for one sandbox, when the host lets root write them.

Child cgroups are made under the grader's own cgroup, so whatever limit the
host puts on the grader still holds for its kernels. Without a writable
cgroup v1 controller the sandbox relies on rlimits alone.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from .limits import SandboxLimits

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "paceline-"


def cgroup_parent(controller: str) -> Path | None:
    """The grader's own cgroup folder for a v1 ``controller``, if root can make children in it."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3 or controller not in parts[1].split(","):
            continue
        mount = CGROUP_ROOT / parts[1]
        if not mount.is_dir():
            mount = CGROUP_ROOT / controller
        path = mount / parts[2].lstrip("/")
        probe = "memory.limit_in_bytes" if controller == "memory" else "pids.max"
        # The grader's own cgroup need not expose the limit file (the root cgroup does not); a child does.
        if path.is_dir() and (path / "cgroup.procs").exists() and os.access(path, os.W_OK) and (
            (path / probe).exists() or controller == "pids"
        ):
            return path
    return None


@dataclass
class SandboxCgroups:
    """The cgroups of one kernel; ``procs`` are the files its launcher writes its pid into."""

    paths: list[Path] = field(default_factory=list)

    @property
    def procs(self) -> tuple[str, ...]:
        return tuple(str(path / "cgroup.procs") for path in self.paths)

    @classmethod
    def create(cls, name: str, limits: SandboxLimits) -> SandboxCgroups:
        made = cls()
        try:
            memory = cgroup_parent("memory")
            if memory is not None:
                path = memory / f"{PREFIX}{name}"
                path.mkdir(mode=0o755)
                made.paths.append(path)
                (path / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
                memsw = path / "memory.memsw.limit_in_bytes"
                if memsw.exists():  # no swapping around the limit
                    memsw.write_text(str(limits.memory_bytes))
            pids = cgroup_parent("pids")
            if pids is not None:
                path = pids / f"{PREFIX}{name}"
                path.mkdir(mode=0o755)
                made.paths.append(path)
                # bwrap's own two processes live in the cgroup too.
                (path / "pids.max").write_text(str(limits.processes + 2))
        except OSError:
            made.destroy()
            raise
        return made

    def oom_kills(self) -> int:
        """How many of the sandbox's processes the kernel's OOM killer has killed (0 without a memory cgroup)."""
        for path in self.paths:
            try:
                lines = (path / "memory.oom_control").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
        return 0

    def destroy(self, timeout: float = 5.0) -> None:
        for path in self.paths:
            remove_cgroup(path, timeout=timeout)
        self.paths = []


def remove_cgroup(path: Path, *, timeout: float = 5.0) -> None:
    """Kill everything in the cgroup, then remove it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pids = [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def remove_stale(name_prefix: str) -> None:
    """Remove leftover cgroups of a sandbox slot (a grader that was killed cannot clean up)."""
    for controller in ("memory", "pids"):
        parent = cgroup_parent(controller)
        if parent is None:
            continue
        for path in parent.glob(f"{PREFIX}{name_prefix}*"):
            if path.is_dir():
                remove_cgroup(path)
