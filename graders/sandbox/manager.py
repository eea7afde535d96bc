"""A jupyter_client kernel manager whose kernels run inside bwrap as a sandbox user.

Use it wherever a kernel manager class is accepted::

    NotebookClient(nb, kernel_manager_class=SandboxedKernelManager,
                   resources={"metadata": {"path": folder}})

Whatever kernel the notebook names, the manager starts the ipykernel of its
``python`` (default: this interpreter) with ``-I`` in the sandbox, with message-based interrupts and the ipc
transport (zmq over unix sockets in a private folder bound into the sandbox,
since the kernel has no network). The ``cwd`` it is given is not used as the
kernel's folder: a copy of it is (see :mod:`graders.sandbox.resources`). Its
clients bound what the kernel may send (see :mod:`graders.sandbox.client`).

A kernel can also be started before its notebook is known (:meth:`start_ahead`):
it boots with an empty folder and runs nothing until :meth:`hand_over` copies
the notebook's folder in (:mod:`graders.sandbox.standby` keeps one waiting).
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import queue
import weakref
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Integer, List, Unicode, default, validate

from .client import SandboxedKernelClient
from .command import (
    SEED_DIR,
    SandboxPlan,
    build_argv,
    kernel_cmd,
    seccomp_program,
    seccomp_supported,
)
from .host import BASE_DIR, LOCK_DIR, POOL_PREFIX, POOL_SIZE, etc_entries, pool_users, python_paths, require_sandbox, system_mounts
from .limits import SandboxLimits
from .resources import KernelSandbox, kill_uid

KERNEL_NAME = "python3"
LOG_PREFIX = "paceline sandbox:"  # the grader's log lines that name why a kernel was stopped
_log = logging.getLogger(__name__)
_DEFAULTS = SandboxLimits()


class SandboxedKernelManager(AsyncKernelManager):
    """AsyncKernelManager that only ever starts sandboxed python kernels."""

    memory_mb = Integer(_DEFAULTS.memory_mb, config=True, help="RAM of the whole sandbox (cgroup), MB")
    address_space_mb = Integer(0, config=True, help="RLIMIT_AS per process, MB; 0 derives it from memory_mb")
    cpu_seconds = Integer(_DEFAULTS.cpu_seconds, config=True, help="RLIMIT_CPU per process, seconds")
    processes = Integer(_DEFAULTS.processes, config=True, help="RLIMIT_NPROC (threads count) and pids.max")
    file_size_mb = Integer(_DEFAULTS.file_size_mb, config=True, help="RLIMIT_FSIZE, MB")
    open_files = Integer(_DEFAULTS.open_files, config=True, help="RLIMIT_NOFILE")
    scratch_mb = Integer(_DEFAULTS.scratch_mb, config=True, help="size of each tmpfs (work folder, /tmp, /dev/shm), MB")
    output_mb = Integer(_DEFAULTS.output_mb, config=True, help="output the grader keeps from one cell, MB")
    total_output_mb = Integer(_DEFAULTS.total_output_mb, config=True, help="output the grader keeps from one kernel, all cells, MB")
    cpus = Float(_DEFAULTS.cpus, config=True, help="CPU share of the whole sandbox (cgroup quota), in CPUs")
    wall_seconds = Integer(0, config=True, help="how long a kernel may live, seconds; 0 is twice cpu_seconds")

    base_dir = Unicode(BASE_DIR, config=True, help="root-only folder for the kernels' folders (keep the path short: unix sockets)")
    lock_dir = Unicode(LOCK_DIR, config=True, help="pool user leases; every grader on the host must share it")
    pool_prefix = Unicode(POOL_PREFIX, config=True, help="sandbox users are <prefix>0 .. <prefix>N-1")
    pool_size = Integer(POOL_SIZE, config=True, help="how many sandbox users to look for")
    slot_wait = Float(300.0, config=True, help="seconds to wait for a free sandbox user")
    use_cgroups = Bool(True, config=True, help="also limit memory and pids with cgroup v1 when writable")
    copy_notebooks = Bool(False, config=True, help="copy .ipynb files into the kernel's folder too")
    python = Unicode("", config=True, help="interpreter whose ipykernel runs (a venv's bin/python); empty: this one")
    pass_env = List(Unicode(), config=True,
                    help="variables passed from the caller's environment into the kernel's (which starts empty), when set; "
                         "the caller's environment is start_kernel's env= when given (threads starting kernels at once "
                         "cannot share os.environ), else this process's")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sandbox: KernelSandbox | None = None
        self._sandbox_finalizer: weakref.finalize | None = None
        self._source_dir: str | None = None
        self._launch_fds: list[int] = []
        self._seccomp_fd: int | None = None
        self._caller_stdio: dict = {}
        self._caller_env: dict[str, str] | None = None
        self._last_kernel_dir: str | None = None
        self._spec: KernelSpec | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self.stopped_at_deadline = False
        self._ahead = False  # started by start_ahead: no cell may run before hand_over
        self._handed_over = False

    # -- what runs: always the sandboxed python, over ipc ---------------------------------

    @property
    def limits(self) -> SandboxLimits:
        return SandboxLimits(
            memory_mb=self.memory_mb, cpu_seconds=self.cpu_seconds, processes=self.processes,
            file_size_mb=self.file_size_mb, open_files=self.open_files, scratch_mb=self.scratch_mb,
            output_mb=self.output_mb, total_output_mb=self.total_output_mb, cpus=self.cpus,
            address_space_mb=self.address_space_mb or None,
            wall_seconds=self.wall_seconds or None,
        )

    @default("kernel_name")
    def _default_kernel_name(self) -> str:
        return KERNEL_NAME

    @validate("kernel_name")
    def _only_sandboxed_python(self, proposal) -> str:
        if proposal.value not in ("", "python", KERNEL_NAME):
            self.log.info("notebook asks for kernel %r; running the sandboxed %s kernel instead", proposal.value, KERNEL_NAME)
        return KERNEL_NAME

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @validate("transport")
    def _only_ipc(self, proposal) -> str:
        return "ipc"  # the kernel has no network, so tcp cannot reach it

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._spec is None:
            python, _, _ = python_paths(self.python)
            self._spec = KernelSpec(
                argv=kernel_cmd(python),
                display_name="Python 3 (paceline sandbox)",
                language="python",
                interrupt_mode="message",  # SIGINT would reach bwrap, not the kernel
                env={},
                metadata={},
                resource_dir="",
            )
        return self._spec

    def client(self, **kwargs) -> SandboxedKernelClient:
        if self._ahead and not self._handed_over:
            raise RuntimeError("this kernel was started ahead of its notebook: hand_over() its folder before using it")
        kw: dict = {}
        kw.update(self.get_connection_info(session=True))
        kw.update({"connection_file": self.connection_file, "parent": self})
        kw.update(kwargs)
        kw["output_bytes"] = self.limits.output_bytes
        kw["total_output_bytes"] = self.limits.total_output_bytes
        return SandboxedKernelClient(**kw)

    # -- start ----------------------------------------------------------------------------

    async def _async_pre_start_kernel(self, **kw):
        require_sandbox(prefix=self.pool_prefix, size=self.pool_size, base_dir=self.base_dir, python=self.python)
        limits = self.limits
        await self._close_sandbox()  # a restart (whose shutdown already closed it, normally)
        if self._ahead and (self._handed_over or kw.get("cwd")):
            raise RuntimeError("a kernel started ahead runs one notebook and is not started again")
        if self._last_kernel_dir is not None and kw.get("cwd") == self._last_kernel_dir:
            # restart_kernel() repeats our own launch arguments: start again from the original folder
            kw.update(self._caller_stdio)
        else:
            self._source_dir = kw.get("cwd")
            self._caller_stdio = {key: kw.get(key) for key in ("stdout", "stderr")}
            self._caller_env = dict(kw["env"]) if kw.get("env") is not None else None
        for key in ("cwd", "env", "pass_fds"):
            kw.pop(key, None)
        sandbox = await asyncio.to_thread(
            KernelSandbox.open,
            base_dir=Path(self.base_dir), lock_dir=Path(self.lock_dir), users=pool_users(self.pool_prefix, self.pool_size), limits=limits,
            source=Path(self._source_dir) if self._source_dir else None, use_cgroups=self.use_cgroups,
            wait=self.slot_wait, copy_notebooks=self.copy_notebooks,
        )
        self._sandbox = sandbox
        # The finalizer holds the sandbox, not the manager: it runs once, on cleanup or at exit.
        self._sandbox_finalizer = weakref.finalize(self, KernelSandbox.close, sandbox)
        try:
            self._prepare_launch(sandbox, kw)
            return await super()._async_pre_start_kernel(**kw)
        except BaseException:
            self._close_launch_fds()
            await self._close_sandbox()
            raise

    def _prepare_launch(self, sandbox: KernelSandbox, kw: dict) -> None:
        self._connection_file_written = False
        self.connection_file = str(sandbox.connection_file)
        self.ip = str(sandbox.ipc_dir / "k")
        for name in ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port"):
            setattr(self, name, 0)
        self._seccomp_fd = None
        if seccomp_supported(platform.machine()):
            fd = os.memfd_create("paceline-seccomp", os.MFD_CLOEXEC)
            self._launch_fds.append(fd)
            os.write(fd, seccomp_program(platform.machine()))
            os.lseek(fd, 0, os.SEEK_SET)
            self._seccomp_fd = fd
        log_fd = os.open(sandbox.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._launch_fds.append(log_fd)
        kw["pass_fds"] = (self._seccomp_fd,) if self._seccomp_fd is not None else ()
        kw["cwd"] = self._last_kernel_dir = str(sandbox.kernel_dir)
        kw["env"] = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        if kw.get("stdout") is None:
            kw["stdout"] = log_fd
        if kw.get("stderr") is None:
            kw["stderr"] = log_fd

    def _close_launch_fds(self) -> None:
        for fd in self._launch_fds:
            os.close(fd)
        self._launch_fds = []
        self._seccomp_fd = None

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self._sandbox is not None:  # only the kernel's own user may read its key
            os.chown(self.connection_file, self._sandbox.uid, self._sandbox.gid)
            os.chmod(self.connection_file, 0o400)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        inner = super().format_kernel_cmd(extra_arguments)
        sandbox = self._sandbox
        if sandbox is None:
            raise RuntimeError("the sandbox is prepared in pre_start_kernel; start the kernel with start_kernel()")
        _, venv_bin, ro_paths = python_paths(self.python)
        plan = SandboxPlan(
            kernel_cmd=tuple(inner),
            uid=sandbox.uid,
            gid=sandbox.gid,
            limits=self.limits,
            kernel_dir=str(sandbox.kernel_dir),
            ipc_dir=str(sandbox.ipc_dir),
            connection_file=str(sandbox.connection_file),
            etc_files=sandbox.etc_files,
            system=system_mounts(),
            etc_entries=etc_entries(),
            ro_paths=ro_paths,
            seed_dir=str(sandbox.seed_dir) if sandbox.seed_dir else None,
            seccomp_fd=self._seccomp_fd,
            cgroup_procs=sandbox.cgroups.procs,
            venv_bin=venv_bin or None,
            # A kernel started ahead gets the caller's variables at hand-over, as they are then.
            extra_env=() if self._ahead else tuple(self._passed_env().items()),
        )
        return build_argv(plan)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            self._close_launch_fds()

    async def _async_post_start_kernel(self, **kw) -> None:
        await super()._async_post_start_kernel(**kw)
        if self._ahead:
            return  # booting while it waits: hand_over seals it and starts its clock
        # Before start_kernel returns, so before any cell can run: no race with student code.
        await self._seal_ipc_when_bound()
        self._start_deadline()

    def _start_deadline(self) -> None:
        # Per-cell timeouts and the CPU limit leave a gap: many cells that each sleep just under
        # the timeout. The kernel's whole life is bounded too. The timer runs on the loop nbclient
        # drives for every cell, as does _close_sandbox, so it cannot fire on a closed sandbox.
        self._deadline = asyncio.get_running_loop().call_later(self.limits.wall_clock_seconds, self._stop_at_deadline)

    def _passed_env(self) -> dict[str, str]:
        caller = self._caller_env if self._caller_env is not None else os.environ
        return {name: caller[name] for name in self.pass_env if name in caller}

    # -- started ahead: boot now, take a notebook's folder later --------------------------

    async def start_ahead(self, **kw) -> None:
        """Start the kernel before its notebook is known, with an empty working folder.

        It returns once the kernel is launched, not booted: it boots while the
        caller does something else. Nothing can use it (``client()`` refuses)
        until :meth:`hand_over` gives it one notebook's folder; the pool user's
        lease is held from now until the kernel is shut down.
        """
        if "cwd" in kw:
            raise TypeError("a kernel started ahead gets its folder from hand_over(), not cwd")
        self._ahead = True
        await self.start_kernel(**kw)

    async def hand_over(self, folder: str, *, timeout: float = 60.0) -> None:
        """Give a kernel started ahead its notebook's folder, as start_kernel(cwd=folder) would have.

        Once it has booted, its socket folder is sealed, the folder is copied
        into its read-only seed and from there, by the kernel itself, into its
        working folder (as at a normal start); the caller's ``pass_env``
        variables are set as they are now, and its wall clock starts. Raises
        :class:`KernelLost` when the kernel died while it waited (it is then
        of no use: shut it down and start another), :class:`~graders.sandbox.resources.ScratchCopyError`
        when the folder cannot be copied. Whatever happens, the kernel takes no
        second folder.
        """
        sandbox = self._sandbox
        if not self._ahead or self._handed_over:
            raise RuntimeError("hand_over() takes a kernel started by start_ahead(), once")
        self._handed_over = True
        if sandbox is None or sandbox.closed or not await self._async_is_alive():
            raise KernelLost("the kernel started ahead died while it waited")
        await self._seal_ipc_when_bound(timeout)
        if not await self._async_is_alive():
            raise KernelLost("the kernel started ahead died while it booted")
        await asyncio.to_thread(sandbox.fill_seed, Path(folder), limits=self.limits, copy_notebooks=self.copy_notebooks)
        self._source_dir = folder
        self._start_deadline()
        passed = self._passed_env()
        await self._run_silently(hand_over_code(passed, unset=[name for name in self.pass_env if name not in passed]),
                                 timeout=timeout)

    async def _run_silently(self, code: str, *, timeout: float) -> None:
        """Run ``code`` (paceline's, never a notebook's) before any cell: no output, no history, no execution count."""
        client = self.client()
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            msg_id = client.execute(code, silent=True, store_history=False, allow_stdin=False)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                try:
                    reply = await client.get_shell_msg(timeout=max(0.0, deadline - loop.time()))
                except queue.Empty:
                    raise KernelLost(f"the kernel started ahead did not take its folder within {timeout:g} s") from None
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    break
        finally:
            client.stop_channels()
        content = reply.get("content") or {}
        if content.get("status") != "ok":
            raise KernelLost(f"the kernel started ahead could not take its folder: {content.get('ename')}: {content.get('evalue')}")

    @property
    def started_ahead(self) -> bool:
        """Started by :meth:`start_ahead` (and not handed a folder yet when ``not handed_over``)."""
        return self._ahead

    @property
    def handed_over(self) -> bool:
        return self._handed_over

    def _stop_at_deadline(self) -> None:
        self._deadline = None
        sandbox = self._sandbox
        if sandbox is None or sandbox.closed:
            return
        self.stopped_at_deadline = True
        # Logged before the kill, so the grader's log names the cause before nbclient's "kernel died".
        self.log.error("%s the notebook was still running after %d s (the kernel's wall-clock limit): its kernel was stopped",
                       LOG_PREFIX, self.limits.wall_clock_seconds)
        kill_uid(sandbox.uid)  # the leased uid is this kernel's alone; bwrap exits with it

    async def _seal_ipc_when_bound(self, timeout: float = 60.0) -> None:
        """Once all five sockets exist, take the (host-disk) ipc folder back so the kernel cannot fill it."""
        sandbox = self._sandbox
        if sandbox is None:
            return
        sockets = [f"{self.ip}-{port}" for port in self.ports]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all(os.path.exists(path) for path in sockets):
            if not await self._async_is_alive():
                return  # died during start-up: nbclient reports it; cleanup removes the folder
            if loop.time() > deadline:
                raise RuntimeError(f"the sandboxed kernel did not open its sockets within {timeout:g} s")
            await asyncio.sleep(0.01)
        sandbox.seal_ipc_dir()

    # -- stop: every path (shutdown, dead kernel, restart, garbage collection) ends here ----

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            await self._close_sandbox()

    # AsyncKernelManager binds cleanup_resources to the base coroutine function itself, so an
    # override of _async_cleanup_resources alone is skipped when nbclient cleans up a dead kernel.
    cleanup_resources = _async_cleanup_resources

    async def _close_sandbox(self) -> None:
        sandbox = self._sandbox
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if sandbox is None:
            return
        if self.has_kernel and await self._async_is_alive():
            await self._async_kill_kernel()
        if sandbox.cgroups.oom_kills():
            self.log.error("%s the kernel ran out of memory (limit %d MB) and was killed", LOG_PREFIX, self.limits.memory_mb)
        process = getattr(self.provisioner, "process", None) if self.provisioner else None
        code = getattr(process, "returncode", None)
        if code not in (None, 0, -9, -15) and not self.shutting_down:
            # Kernel-written text: one line, bounded, so it cannot pose as the grader's own log lines.
            tail = " | ".join(sandbox.log_tail(1000).splitlines())
            self.log.warning("sandboxed kernel exited with status %s%s", code, f" (its output ended: {tail!r})" if tail else "")
        self._sandbox = None
        finalizer, self._sandbox_finalizer = self._sandbox_finalizer, None
        if finalizer is not None:
            await asyncio.to_thread(finalizer)
        else:
            await asyncio.to_thread(sandbox.close)

    @property
    def sandbox(self) -> KernelSandbox | None:
        """The running kernel's host-side resources (for tests and diagnostics)."""
        return self._sandbox


class KernelLost(RuntimeError):
    """A kernel started ahead cannot take its notebook (it died while waiting): start another."""


def hand_over_code(env: dict[str, str], *, unset: list[str]) -> str:
    """What a kernel started ahead runs, silently, when it gets its notebook's folder: what a kernel
    started for that folder had before its first cell (the folder's files in its working folder, the
    grader's variables), and import caches that have not seen the working folder empty."""
    return (
        "def _paceline_hand_over():\n"
        "    import importlib, os, shutil\n"
        # As the launcher's `cp -R seed/. .`: modes, not times; the working folder itself is not the kernel's.
        f"    for entry in os.scandir({SEED_DIR!r}):\n"
        "        if entry.is_dir(follow_symlinks=False):\n"
        "            shutil.copytree(entry.path, entry.name, copy_function=shutil.copy, dirs_exist_ok=True)\n"
        "        else:\n"
        "            shutil.copy(entry.path, entry.name)\n"
        "    importlib.invalidate_caches()\n"
        f"    os.environ.update({dict(env)!r})\n"
        f"    for name in {list(unset)!r}:\n"
        "        os.environ.pop(name, None)\n"
        "_paceline_hand_over()\n"
        "del _paceline_hand_over\n"
    )

