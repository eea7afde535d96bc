"""Resource limits for one sandboxed kernel."""

from __future__ import annotations

from dataclasses import dataclass, fields

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
    output the grader accepts from one kernel before it drops the rest.
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
    address_space_mb: int | None = None
    wall_seconds: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("address_space_mb", "wall_seconds"):
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
        return self.output_mb * MB
