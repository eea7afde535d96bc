"""cgroup limits for one sandbox (memory, pids, CPU), when the host lets root write them.

Child cgroups are made under the grader's own cgroup, so whatever limit the
host puts on the grader still holds for its kernels. Memory and pids use
cgroup v1; the CPU quota uses the v1 ``cpu`` controller, or ``cpu.max`` of
cgroup v2 on a host whose ``cpu`` controller is on the unified hierarchy.
Without a writable controller the sandbox relies on rlimits alone (and, for
CPU, on the kernel's scheduler: which lets a kernel's children that leave its
session take every core).
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
CPU_PERIOD_US = 100_000  # the kernel's default CFS period: the quota is a share of it
# A file that only a controller's own (non-root) cgroups have is no use as a probe: the pids root has no pids.max.
_PROBES = {"memory": "memory.limit_in_bytes", "cpu": "cpu.cfs_quota_us", "pids": None}


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
        probe = _PROBES.get(controller)
        # The grader's own cgroup need not expose the limit file (the root cgroup does not); a child does.
        if path.is_dir() and (path / "cgroup.procs").exists() and os.access(path, os.W_OK) and (
            probe is None or (path / probe).exists()
        ):
            return path
    return None


def cgroup2_cpu_parent(*, proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT) -> Path | None:
    """The grader's cgroup v2 folder, if the ``cpu`` controller can be given to children made in it.

    cgroup v2 lets a cgroup hand a controller to its children only when it
    holds no processes itself (the root excepted), so this is the root, or a
    cgroup delegated to paceline with ``cpu`` already in its
    ``cgroup.subtree_control``. On a hybrid host (v1 ``cpu`` mounted, as on
    these machines) the unified hierarchy has no controllers and this is None.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if not line.startswith("0::"):
            continue
        path = root / line[3:].lstrip("/")
        try:
            if "cpu" not in (path / "cgroup.controllers").read_text().split():
                return None
            if "cpu" not in (path / "cgroup.subtree_control").read_text().split():
                (path / "cgroup.subtree_control").write_text("+cpu")  # EBUSY when the cgroup holds processes
        except OSError:
            return None
        return path if os.access(path, os.W_OK) else None
    return None


def cpu_quota_files(cpus: float, *, version: int) -> list[tuple[str, str]]:
    """The (file, text) writes that give a cgroup ``cpus`` CPUs of time per period, in order."""
    quota = max(1000, round(cpus * CPU_PERIOD_US))  # the kernel refuses quotas under 1 ms
    if version == 2:
        return [("cpu.max", f"{quota} {CPU_PERIOD_US}")]
    return [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", str(quota))]


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
            cpu, version = cgroup_parent("cpu"), 1
            if cpu is None:
                cpu, version = cgroup2_cpu_parent(), 2
            if cpu is not None:
                path = cpu / f"{PREFIX}{name}"
                path.mkdir(mode=0o755)
                made.paths.append(path)
                for filename, text in cpu_quota_files(limits.cpus, version=version):
                    try:
                        (path / filename).write_text(text)
                    except OSError as exc:
                        # v1 refuses a quota above the grader's own: the child is held to that smaller one anyway.
                        if exc.errno != errno.EINVAL or filename != "cpu.cfs_quota_us":
                            raise
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
    parents = [cgroup_parent(controller) for controller in ("memory", "pids", "cpu")] + [cgroup2_cpu_parent()]
    for parent in parents:
        if parent is None:
            continue
        for path in parent.glob(f"{PREFIX}{name_prefix}*"):
            if path.is_dir():
                remove_cgroup(path)
