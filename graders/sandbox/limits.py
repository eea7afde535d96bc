"""Resource limits for one sandboxed kernel."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

MB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """What one student kernel may use.

    ``memory_mb`` caps the RAM of the whole sandbox (kernel, its children and
    the files it writes to its tmpfs folders) through a cgroup when the host
    has a writable cgroup v1 memory controller. ``address_space_mb`` is the
    per-process ``RLIMIT_AS``, the only memory bound without cgroups; Python
    with pandas and matplotlib maps ~0.5 GB before doing anything, so it is
    larger (by default ``max(2 * memory_mb, memory_mb + 1024)``).
    ``processes`` is ``RLIMIT_NPROC`` of the kernel's own uid (threads count)
    and, with cgroups, the sandbox's ``pids.max``. ``cpu_seconds`` is
    ``RLIMIT_CPU`` per process over the kernel's whole life, not per cell.
    ``scratch_mb`` is the size of each of the kernel's tmpfs folders (its
    working folder, ``/tmp`` and ``/dev/shm``). ``output_mb`` is how much
    output the grader accepts from one cell before it drops the rest, and
    ``total_output_mb`` from the whole kernel, all cells together: everything
    kept ends up in the graded notebook and its feedback pages, several
    copies on the host, so a flood of cells each just under the per-cell
    limit must not multiply it. ``cpus`` is the share of CPU the whole
    sandbox gets (1.0 = one core), a cgroup quota when the host has a
    writable ``cpu`` controller: without it, children that leave the
    kernel's session (``setsid``) get their own autogroup and as many cores
    as they can keep busy, and other students' kernels time out.
    ``wall_seconds`` is how long a kernel may live, whatever it does: per-cell
    timeouts and the CPU limit do not stop a notebook of many cells that each
    sleep just under the timeout. By default it is twice ``cpu_seconds``:
    grading has no network or other students to wait for, so a kernel that
    has been alive twice as long as it may compute is waiting on purpose.
    """

    memory_mb: int = 1024
    cpu_seconds: int = 60
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    scratch_mb: int = 256
    output_mb: int = 16
    total_output_mb: int = 20
    cpus: float = 1.0
    address_space_mb: int | None = None
    wall_seconds: int | None = None

    # A CFS quota below a few ms per 100 ms period stalls even the kernel's own heartbeat.
    MIN_CPUS: ClassVar[float] = 0.1
    MAX_CPUS: ClassVar[float] = 256.0

    def __post_init__(self) -> None:
        cpus = self.cpus
        if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not self.MIN_CPUS <= cpus <= self.MAX_CPUS:
            raise ValueError(f"SandboxLimits.cpus must be a number of CPUs from {self.MIN_CPUS:g} to {self.MAX_CPUS:g}, not {cpus!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "cpus" or (value is None and f.name in ("address_space_mb", "wall_seconds")):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"SandboxLimits.{f.name} must be a whole number above 0, not {value!r}")
        if self.processes < 8:
            raise ValueError(f"SandboxLimits.processes must be at least 8 (a kernel alone runs ~6 threads), not {self.processes}")
        if self.open_files < 64:
            raise ValueError(f"SandboxLimits.open_files must be at least 64 (a kernel alone opens ~30), not {self.open_files}")

    @property
    def address_space_bytes(self) -> int:
        mb = self.address_space_mb or max(2 * self.memory_mb, self.memory_mb + 1024)
        return mb * MB

    @property
    def wall_clock_seconds(self) -> int:
        return self.wall_seconds or 2 * self.cpu_seconds

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * MB

    @property
    def file_size_bytes(self) -> int:
        return self.file_size_mb * MB

    @property
    def scratch_bytes(self) -> int:
        return self.scratch_mb * MB

    @property
    def output_bytes(self) -> int:
        """What one cell may output (never more than the whole kernel may)."""
        return min(self.output_mb, self.total_output_mb) * MB

    @property
    def total_output_bytes(self) -> int:
        return self.total_output_mb * MB
