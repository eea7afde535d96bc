"""The sandboxed kernel's command line, built by pure functions.

Nothing here touches the host: :func:`build_argv` turns a :class:`SandboxPlan`
(every path, id and limit already decided) into the argv that the kernel
manager launches, so it can be unit-tested and reviewed as data.

The chain, outermost first::

    /bin/sh -c <join cgroups> --        (only when cgroups are used; runs as root)
    bwrap <namespaces, mounts, env>     (as root: no user namespace is involved)
    prlimit <rlimits> --                (as root, inside the sandbox)
    setpriv --reuid --regid ... --      (drops to the pool user, no caps, no_new_privs)
    /bin/sh -c <copy seed> --           (as the pool user: fills the tmpfs working folder)
    python -I -m ipykernel_launcher -f <connection file> ...

bwrap runs as root without ``--unshare-user``: a user namespace made by root
maps the sandbox to uid 0 outside, which would own (and so read) root's
files. The privilege drop is ``setpriv`` inside the new namespaces instead,
and a seccomp filter keeps the unprivileged kernel from making user
namespaces of its own (and from a few other syscalls it never needs).
"""

from __future__ import annotations

import posixpath
import struct
from dataclasses import dataclass, field

from .limits import SandboxLimits

WORK_DIR = "/home/student"  # the kernel's cwd and HOME inside the sandbox (a tmpfs)
SEED_DIR = "/run/paceline/seed"  # read-only copy of the notebook's folder, copied into WORK_DIR at start
HOSTNAME = "paceline-sandbox"
SANDBOX_USER = "student"
MAX_UNIX_SOCKET_PATH = 100  # sun_path is 108 bytes; zmq appends "-<port>"

# Host system folders to expose read-only, in order. Symlinks (merged /usr) are recreated as symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few /etc entries a Python kernel uses; passwd, group and hosts are generated per kernel.
ETC_ENTRIES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts",
    "/etc/mime.types", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/protocols", "/etc/os-release",
)

_CGROUP_JOIN = 'set -e; while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'
_SEED_COPY = 'cp -R "$1"/. . && shift && exec "$@"'


@dataclass(frozen=True)
class SystemMount:
    """``kind`` is "ro-bind" (host ``path`` at the same path) or "symlink" (``path`` -> ``target``)."""

    kind: str
    path: str
    target: str = ""


@dataclass(frozen=True)
class SandboxPlan:
    """Everything one kernel launch needs; built by the manager from the host, consumed here."""

    kernel_cmd: tuple[str, ...]  # python -I -m ipykernel_launcher -f <conn> ...
    uid: int
    gid: int
    limits: SandboxLimits
    kernel_dir: str  # root-only host folder of this kernel
    ipc_dir: str  # bound read-write at the same path: the kernel's zmq sockets
    connection_file: str  # bound read-only at the same path
    etc_files: tuple[tuple[str, str], ...]  # (host file, path in /etc) generated per kernel
    system: tuple[SystemMount, ...]
    etc_entries: tuple[str, ...] = ()  # host /etc entries that exist, bound read-only
    ro_paths: tuple[str, ...] = ()  # interpreter prefix, venv: bound read-only at the same path
    seed_dir: str | None = None  # host copy of the notebook's folder
    seccomp_fd: int | None = None
    cgroup_procs: tuple[str, ...] = ()  # cgroup.procs files the launcher joins before bwrap
    venv_bin: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()  # set after the sandbox's own variables (never PATH, HOME...)
    tools: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TOOLS))

    def __post_init__(self) -> None:
        if self.uid == 0 or self.gid == 0:
            raise ValueError("the sandbox must not run as root (uid/gid 0)")
        for path in (self.kernel_dir, self.ipc_dir, self.connection_file, *self.ro_paths):
            if not posixpath.isabs(path) or posixpath.normpath(path) != path:
                raise ValueError(f"sandbox paths must be absolute and normalised: {path!r}")
        if len(self.ipc_dir) + len("/k-65535") > MAX_UNIX_SOCKET_PATH:
            raise ValueError(f"kernel socket folder path is too long for unix sockets: {self.ipc_dir!r}")
        for path in self.ro_paths:
            if _under(WORK_DIR, path) or _under(path, WORK_DIR):
                raise ValueError(f"{path} clashes with the sandbox working folder {WORK_DIR}")
            if _under(self.kernel_dir, path):
                raise ValueError(f"the kernel folder {self.kernel_dir} must not be inside the read-only {path}")


DEFAULT_TOOLS = {
    "sh": "/bin/sh",
    "bwrap": "/usr/bin/bwrap",
    "prlimit": "/usr/bin/prlimit",
    "setpriv": "/usr/bin/setpriv",
}


def build_argv(plan: SandboxPlan) -> list[str]:
    """The full launch command for ``plan`` (see the module docstring for the chain)."""
    argv: list[str] = []
    if plan.cgroup_procs:
        argv += [plan.tools["sh"], "-c", _CGROUP_JOIN, "paceline-cgroup-join", *plan.cgroup_procs, "--"]
    argv += bwrap_args(plan)
    argv += ["--", *prlimit_args(plan), "--", *setpriv_args(plan), "--"]
    if plan.seed_dir is not None:
        argv += [plan.tools["sh"], "-c", _SEED_COPY, "paceline-seed", SEED_DIR]
    argv += list(plan.kernel_cmd)
    return argv


def bwrap_args(plan: SandboxPlan) -> list[str]:
    lim = plan.limits
    args = [
        plan.tools["bwrap"],
        "--die-with-parent", "--new-session",
        # Every namespace but the user namespace (see the module docstring).
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", HOSTNAME,
        # Root inside only long enough for prlimit and setpriv; setpriv needs these three.
        "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP",
    ]
    made: set[str] = {"/"}
    bound: list[str] = []
    for mount in plan.system:
        if mount.kind == "symlink":
            args += ["--symlink", mount.target, mount.path]
        elif mount.kind == "ro-bind":
            args += ["--ro-bind", mount.path, mount.path]
            bound.append(mount.path)
        else:
            raise ValueError(f"unknown system mount kind {mount.kind!r}")
        made.add(mount.path)
    args += _dirs("/etc", made)
    for path in plan.etc_entries:
        args += ["--ro-bind", path, path]
    for source, dest in plan.etc_files:
        args += ["--ro-bind", source, dest]
    args += ["--proc", "/proc", "--dev", "/dev"]
    size = str(lim.scratch_bytes)
    args += ["--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    args += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
    for path in plan.ro_paths:
        if any(_under(path, done) for done in bound):
            continue  # already visible (e.g. a venv under /usr)
        args += _dirs(posixpath.dirname(path), made)
        args += ["--ro-bind", path, path]
        bound.append(path)
        made.add(path)
    args += _dirs(posixpath.dirname(plan.ipc_dir), made)
    args += ["--bind", plan.ipc_dir, plan.ipc_dir]
    made.add(plan.ipc_dir)
    args += _dirs(posixpath.dirname(plan.connection_file), made)
    args += ["--ro-bind", plan.connection_file, plan.connection_file]
    if plan.seed_dir is not None:
        args += _dirs(posixpath.dirname(SEED_DIR), made)
        args += ["--ro-bind", plan.seed_dir, SEED_DIR]
    args += _dirs(posixpath.dirname(WORK_DIR), made)
    args += ["--perms", "1777", "--size", size, "--tmpfs", WORK_DIR, "--chdir", WORK_DIR]
    args += ["--clearenv"]
    for key, value in sandbox_env(plan.venv_bin, plan.extra_env):
        args += ["--setenv", key, value]
    if plan.seccomp_fd is not None:
        args += ["--seccomp", str(plan.seccomp_fd)]
    return args


def prlimit_args(plan: SandboxPlan) -> list[str]:
    """Hard limits (soft = hard, so the kernel cannot raise them back)."""
    lim = plan.limits
    return [
        plan.tools["prlimit"],
        f"--as={lim.address_space_bytes}",
        # SIGXCPU at the soft limit, SIGKILL five seconds later if the kernel ignores it.
        f"--cpu={lim.cpu_seconds}:{lim.cpu_seconds + 5}",
        f"--nproc={lim.processes}",
        f"--fsize={lim.file_size_bytes}",
        f"--nofile={lim.open_files}",
        "--core=0",
        f"--memlock={64 * 1024}",
    ]


def setpriv_args(plan: SandboxPlan) -> list[str]:
    return [
        plan.tools["setpriv"],
        f"--reuid={plan.uid}", f"--regid={plan.gid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
    ]


def sandbox_env(venv_bin: str | None = None, extra: tuple[tuple[str, str], ...] = ()) -> list[tuple[str, str]]:
    """The kernel's whole environment (bwrap starts from an empty one); ``extra`` cannot replace the sandbox's own."""
    path = "/usr/local/bin:/usr/bin:/bin"
    if venv_bin:
        path = f"{venv_bin}:{path}"
    own = _own_env(path)
    taken = {key for key, _ in own}
    return own + [(key, value) for key, value in extra if key not in taken]


def _own_env(path: str) -> list[tuple[str, str]]:
    return [
        ("PATH", path),
        ("HOME", WORK_DIR),
        ("USER", SANDBOX_USER),
        ("LOGNAME", SANDBOX_USER),
        ("LANG", "C.UTF-8"),
        ("TMPDIR", "/tmp"),
        ("MPLBACKEND", "Agg"),
        ("MPLCONFIGDIR", "/tmp/matplotlib"),
        ("IPYTHONDIR", "/tmp/ipython"),
        ("JUPYTER_CONFIG_DIR", "/tmp/jupyter/config"),
        ("JUPYTER_DATA_DIR", "/tmp/jupyter/data"),
        ("JUPYTER_RUNTIME_DIR", "/tmp/jupyter/runtime"),
        ("XDG_CACHE_HOME", "/tmp/cache"),
        ("XDG_CONFIG_HOME", "/tmp/config"),
        ("PYDEVD_DISABLE_FILE_VALIDATION", "1"),
        # Threads count against the process limit; glibc reserves 64 MB of address space per arena.
        ("OPENBLAS_NUM_THREADS", "1"),
        ("OMP_NUM_THREADS", "1"),
        ("MKL_NUM_THREADS", "1"),
        ("NUMEXPR_NUM_THREADS", "1"),
        ("MALLOC_ARENA_MAX", "2"),
    ]


# Run by the kernel once it is up (IPython's exec_lines), before any cell: puts the working folder on
# sys.path where IPython normally does (before site-packages), so notebooks can import their helpers.
CWD_ON_PATH = (
    "import sys as _s; _s.path.insert(next((i for i, p in enumerate(_s.path) "
    "if p.rstrip('/').endswith(('site-packages', 'dist-packages'))), 0), ''); del _s"
)


def kernel_cmd(python: str, connection_file: str = "{connection_file}") -> list[str]:
    """The ipykernel command.

    ``-I`` keeps student files off sys.path while the kernel starts (a
    ``ipykernel_launcher.py`` in the notebook's folder would otherwise replace
    the kernel), and ignores PYTHON* variables and the user site folder; it
    also stops IPython from adding the working folder, which ``CWD_ON_PATH``
    does once start-up is over.
    """
    return [python, "-I", "-m", "ipykernel_launcher", "-f", connection_file, f"--IPKernelApp.exec_lines={CWD_ON_PATH}"]


def passwd_text(uid: int, gid: int) -> str:
    return (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{SANDBOX_USER}:x:{uid}:{gid}:paceline sandbox:{WORK_DIR}:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )


def group_text(gid: int) -> str:
    return f"root:x:0:\n{SANDBOX_USER}:x:{gid}:\nnogroup:x:65534:\n"


HOSTS_TEXT = f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _dirs(path: str, made: set[str]) -> list[str]:
    """``--perms 0755 --dir`` for ``path`` and every missing ancestor (bwrap would make them 0700)."""
    args: list[str] = []
    missing: list[str] = []
    while path not in made:
        missing.append(path)
        path = posixpath.dirname(path)
    for directory in reversed(missing):
        args += ["--perms", "0755", "--dir", directory]
        made.add(directory)
    return args


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


# --------------------------------------------------------------------------
# seccomp: a small deny-list on top of the kernel's own permission checks, and an allow-list of
# socket address families
# --------------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# Syscalls the kernel never needs that widen the host kernel's attack surface.
_DENY = {
    "x86_64": {
        "setns": 308, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
        "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "kexec_load": 246, "init_module": 175, "finit_module": 313,
    },
    "aarch64": {
        "setns": 268, "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
        "perf_event_open": 241, "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "ptrace": 117, "mount": 40, "umount2": 39, "pivot_root": 41,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "kexec_load": 104, "init_module": 105, "finit_module": 273,
    },
}
# clone/unshare are allowed, but not with namespace flags (CLONE_NEWUSER above all).
_FLAG_CHECKED = {"x86_64": {"clone": 56, "unshare": 272}, "aarch64": {"clone": 220, "unshare": 97}}
_SOCKET = {"x86_64": {"socket": 41, "socketpair": 53}, "aarch64": {"socket": 198, "socketpair": 199}}
# Address families a kernel may open: an allow-list, since a family the network namespace does not
# cover reaches past it (AF_VSOCK talks to the hypervisor, AF_ALG to the host kernel's crypto, AF_CAN,
# AF_BLUETOOTH, AF_RDS, AF_TIPC... to devices and host-wide state). ipykernel's zmq over ipc needs
# AF_UNIX only; AF_INET/AF_INET6 stay for lessons that use loopback in their own empty namespace;
# AF_NETLINK only as NETLINK_ROUTE, which glibc's getaddrinfo asks for the namespace's addresses.
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
NETLINK_ROUTE = 0
ALLOWED_SOCKET_FAMILIES = (AF_UNIX, AF_INET, AF_INET6)
_CLONE3 = 435  # its flags live in memory seccomp cannot read: ENOSYS makes glibc fall back to clone
_NAMESPACE_FLAGS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_EPERM, _ENOSYS = 1, 38
# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06


def seccomp_supported(machine: str) -> bool:
    return machine in _AUDIT_ARCH


def seccomp_program(machine: str) -> bytes:
    """A classic-BPF seccomp program (``struct sock_filter[]``) for bwrap's ``--seccomp FD``."""
    if machine not in _AUDIT_ARCH:
        raise ValueError(f"no seccomp filter for architecture {machine!r}")
    deny = sorted(_DENY[machine].values())
    checked = sorted(_FLAG_CHECKED[machine].values())
    sockets = _SOCKET[machine]
    # Instructions as (code, jt_label, jf_label, k); labels resolved once the layout is known.
    prog: list[tuple[int, str | int, str | int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 0, "kill", _AUDIT_ARCH[machine]),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        prog.append((_JGE_K, "enosys", 0, 0x40000000))  # the x32 ABI
    prog += [(_JEQ_K, "eperm", 0, nr) for nr in deny]
    prog += [(_JEQ_K, "flags", 0, nr) for nr in checked]
    prog.append((_JEQ_K, "socket", 0, sockets["socket"]))
    prog.append((_JEQ_K, "socketpair", 0, sockets["socketpair"]))
    prog.append((_JEQ_K, "enosys", 0, _CLONE3))
    prog.append((_RET_K, 0, 0, _RET_ALLOW))
    labels = {"flags": len(prog)}
    prog += [
        (_LD_W_ABS, 0, 0, 16),  # low 32 bits of args[0] (little-endian): the flags
        (_JSET_K, "eperm", 0, _NAMESPACE_FLAGS),
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    # socket(family, type, protocol): args are C ints, so the low 32 bits are what the kernel reads.
    labels["socket"] = len(prog)
    prog.append((_LD_W_ABS, 0, 0, 16))  # args[0]: the address family
    prog += [(_JEQ_K, "allow", 0, family) for family in ALLOWED_SOCKET_FAMILIES]
    prog.append((_JEQ_K, 0, "eperm", AF_NETLINK))
    prog.append((_LD_W_ABS, 0, 0, 32))  # args[2]: the netlink protocol
    prog.append((_JEQ_K, "allow", "eperm", NETLINK_ROUTE))
    labels["socketpair"] = len(prog)  # only AF_UNIX has socket pairs; the rest fail anyway
    prog.append((_LD_W_ABS, 0, 0, 16))
    prog.append((_JEQ_K, "allow", "eperm", AF_UNIX))
    labels["allow"] = len(prog)  # classic BPF jumps forward only: the socket checks need their own
    prog.append((_RET_K, 0, 0, _RET_ALLOW))
    labels["eperm"] = len(prog)
    prog.append((_RET_K, 0, 0, _RET_ERRNO | _EPERM))
    labels["enosys"] = len(prog)
    prog.append((_RET_K, 0, 0, _RET_ERRNO | _ENOSYS))
    labels["kill"] = len(prog)
    prog.append((_RET_K, 0, 0, _RET_KILL_PROCESS))

    out = bytearray()
    for index, (code, jt, jf, k) in enumerate(prog):
        jt_off = labels[jt] - index - 1 if isinstance(jt, str) else jt
        jf_off = labels[jf] - index - 1 if isinstance(jf, str) else jf
        if not (0 <= jt_off <= 255 and 0 <= jf_off <= 255):
            raise AssertionError("seccomp jump out of range")
        out += struct.pack("=HBBI", code, jt_off, jf_off, k)  # struct sock_filter, native order
    return bytes(out)
