"""What the host provides: tools, sandbox users, the interpreter; and the readiness check."""

from __future__ import annotations

import functools
import os
import platform
import pwd
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import PacelineError
from .command import DEFAULT_TOOLS, ETC_ENTRIES, SYSTEM_DIRS, SystemMount

POOL_PREFIX = "paceline-sb"
POOL_SIZE = 8
BASE_DIR = "/run/paceline-sandbox"
LOCK_DIR = "/run/paceline-sandbox/locks"
FIX_HINT = (
    "run `make sandbox` as root (it runs graders/sandbox/install.sh: "
    "`apt-get install bubblewrap` and creates the users paceline-sb0..paceline-sb7)"
)


class SandboxUnavailable(PacelineError):
    """Student code must not run: the kernel sandbox is missing something."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"the kernel sandbox is not ready, so no student code was run:\n{lines}\nTo fix: {FIX_HINT}.")


@dataclass(frozen=True)
class PoolUser:
    slot: int
    name: str
    uid: int
    gid: int


def pool_users(prefix: str = POOL_PREFIX, size: int = POOL_SIZE) -> list[PoolUser]:
    """The sandbox users that exist, in slot order."""
    users = []
    for slot in range(size):
        name = f"{prefix}{slot}"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        users.append(PoolUser(slot, name, entry.pw_uid, entry.pw_gid))
    return users


def python_paths(python: str = "") -> tuple[str, str, tuple[str, ...]]:
    """(interpreter to run, its venv's bin folder or "", folders to bind read-only).

    ``python`` is the interpreter to run (a venv's ``bin/python``, say); empty
    means this one. A venv's ``python`` is a symlink into the base
    interpreter's prefix (pyenv under /root here), so both prefixes are bound
    at their own paths.
    """
    if not python:
        return _own_python_paths()
    called = os.path.abspath(python)
    bin_dir = os.path.dirname(called)
    prefix = os.path.dirname(bin_dir)
    is_venv = os.path.isfile(os.path.join(prefix, "pyvenv.cfg"))
    real = os.path.realpath(called)
    base_prefix = os.path.dirname(os.path.dirname(real))
    prefixes = []
    for path in ((prefix, os.path.realpath(prefix)) if is_venv else ()) + (base_prefix,):
        if path not in prefixes:
            prefixes.append(path)
    return called, bin_dir if is_venv else "", tuple(prefixes)


def _own_python_paths() -> tuple[str, str, tuple[str, ...]]:
    prefixes = []
    for prefix in (sys.prefix, sys.base_prefix):
        real = os.path.realpath(prefix)
        if real not in prefixes:
            prefixes.append(real)
    python = os.path.join(sys.prefix, "bin", "python3")
    if not os.path.exists(python):
        python = sys.executable
    venv_bin = os.path.join(sys.prefix, "bin") if sys.prefix != sys.base_prefix else ""
    # Bind the venv at the path the interpreter is called by (pyvenv.cfg is found next to it).
    if sys.prefix != os.path.realpath(sys.prefix):
        prefixes.append(os.path.abspath(sys.prefix))
    return python, venv_bin, tuple(prefixes)


def system_mounts() -> tuple[SystemMount, ...]:
    mounts = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            mounts.append(SystemMount("symlink", path, os.readlink(path)))
        elif os.path.isdir(path):
            mounts.append(SystemMount("ro-bind", path))
    return tuple(mounts)


def etc_entries() -> tuple[str, ...]:
    return tuple(path for path in ETC_ENTRIES if os.path.exists(path))


def check_sandbox(*, prefix: str = POOL_PREFIX, size: int = POOL_SIZE, base_dir: str = BASE_DIR, python: str = "") -> list[str]:
    """What is missing for sandboxed kernels, as sentences; empty when ready."""
    problems: list[str] = []
    if sys.platform != "linux":
        return [f"kernel sandboxing needs Linux, this is {sys.platform}"]
    if os.geteuid() != 0:
        problems.append(
            f"the grader runs as uid {os.geteuid()}, not root: it needs root to start bwrap without "
            "user namespaces and to switch the kernel to a sandbox user"
        )
    for name, path in DEFAULT_TOOLS.items():
        if not os.access(path, os.X_OK):
            package = {"bwrap": "bubblewrap", "sh": "dash", "prlimit": "util-linux", "setpriv": "util-linux"}[name]
            problems.append(f"{path} is missing (apt-get install {package})")
    if os.access(DEFAULT_TOOLS["bwrap"], os.X_OK):
        version = bwrap_version(DEFAULT_TOOLS["bwrap"])
        if version is None or version < MIN_BWRAP:
            shown = ".".join(map(str, version)) if version else "unknown"
            problems.append(f"bubblewrap {shown} is too old: the sandbox needs {'.'.join(map(str, MIN_BWRAP))} or newer (tmpfs --size)")
    if not os.access("/usr/bin/cp", os.X_OK) and not os.access("/bin/cp", os.X_OK):
        problems.append("cp is missing (apt-get install coreutils)")
    users = pool_users(prefix, size)
    if not users:
        problems.append(f"no sandbox users: none of {prefix}0..{prefix}{size - 1} exists")
    for user in users:
        if user.uid == 0 or user.gid == 0:
            problems.append(f"sandbox user {user.name} has uid/gid 0: it must be an unprivileged user")
    if len({user.uid for user in users}) != len(users):
        problems.append(f"sandbox users {prefix}* share uids: each needs its own (process limits count per uid)")
    python, _, prefixes = python_paths(python)
    for path in prefixes:
        problems += _world_readable(path)
    for path in (python, os.path.realpath(python)):
        problems += _world_readable(path, executable=True)
    problems += _ipykernel_problems(python)
    base = Path(base_dir)
    if base.is_symlink() or (base.exists() and (base.lstat().st_uid != 0 or not base.is_dir())):
        problems.append(f"{base} exists but is not a root-owned folder: remove it")
    return problems


def _ipykernel_problems(python: str) -> list[str]:
    if os.path.realpath(python) == os.path.realpath(sys.executable) or python == _own_python_paths()[0]:
        try:
            import ipykernel  # noqa: F401
        except ImportError:
            return [f"ipykernel is not installed in {sys.prefix}"]
        return []
    return [] if _has_ipykernel(python, os.stat(python).st_mtime if os.path.exists(python) else 0.0) else [
        f"ipykernel is not installed for {python}"]


@functools.lru_cache(maxsize=8)
def _has_ipykernel(python: str, mtime: float) -> bool:
    try:
        done = subprocess.run([python, "-I", "-c", "import importlib.util as u, sys; "
                               "sys.exit(u.find_spec('ipykernel') is None)"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


MIN_BWRAP = (0, 7, 0)


@functools.lru_cache(maxsize=4)
def _bwrap_version(path: str, mtime: float) -> tuple[int, ...] | None:
    try:
        text = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(part) for part in text.split()[-1].split("."))
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def bwrap_version(path: str) -> tuple[int, ...] | None:
    return _bwrap_version(path, os.stat(path).st_mtime)


def require_sandbox(**kwargs) -> None:
    """Raise :class:`SandboxUnavailable` unless :func:`check_sandbox` finds nothing missing."""
    problems = check_sandbox(**kwargs)
    if problems:
        raise SandboxUnavailable(problems)


def host_notes() -> list[str]:
    """Optional extras (not required): reported by ``python -m graders.sandbox check``."""
    from .cgroups import cgroup2_cpu_parent, cgroup_parent

    notes = []
    for controller in ("memory", "pids"):
        parent = cgroup_parent(controller)
        notes.append(
            f"cgroup v1 {controller}: {parent}" if parent else
            f"cgroup v1 {controller}: not writable here; falling back to rlimits only"
        )
    cpu_v1 = cgroup_parent("cpu")
    cpu_v2 = None if cpu_v1 else cgroup2_cpu_parent()
    notes.append(
        f"cgroup v1 cpu: {cpu_v1}" if cpu_v1 else f"cgroup v2 cpu: {cpu_v2}" if cpu_v2 else
        "cgroup cpu: not writable here; a kernel's processes are not held to [grading] cpus"
    )
    machine = platform.machine()
    from .command import seccomp_supported

    notes.append(f"seccomp filter: {'on' if seccomp_supported(machine) else 'unavailable on ' + machine}")
    return notes


def _world_readable(path: str, *, executable: bool = False) -> list[str]:
    try:
        st = os.stat(path)
    except OSError as exc:
        return [f"{path} cannot be read: {exc.strerror}"]
    need = stat.S_IROTH | (stat.S_IXOTH if executable or stat.S_ISDIR(st.st_mode) else 0)
    if st.st_mode & need != need:
        return [f"{path} is not readable by other users (mode {stat.filemode(st.st_mode)}): sandbox users run it; chmod o+rX"]
    return []
