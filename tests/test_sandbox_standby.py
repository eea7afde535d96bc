"""Sandboxed kernels started ahead of need (graders.sandbox.standby): real kernels in real bwrap.

A grading worker keeps one kernel started and waiting; the next notebook's folder is handed to it.
These tests hold it to what a kernel started for its notebook guaranteed: it runs one notebook and
dies with its uid's processes, it sees nothing of any other attempt while it waits or after,
its pool user stays leased, limits hold (the wall clock counts from the hand-over), a kernel that
died while waiting or was started for other limits is not used, and nothing is left behind when
its process ends. Like tests/test_sandbox.py, they need root, bubblewrap and the paceline-sb* users.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError

from graders.engine.isolation import kernels_started_ahead
from graders.engine.sandboxed import SandboxedExecute, sandbox_config
from graders.sandbox import SandboxLimits, check_sandbox
from graders.sandbox.command import SEED_DIR, WORK_DIR
from graders.sandbox.host import LOCK_DIR
from graders.sandbox.manager import SandboxedKernelManager, hand_over_code
from graders.sandbox.resources import kill_uid
from graders.sandbox.standby import process_standby

MISSING = check_sandbox()
needs_sandbox = pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------
# pure parts
# --------------------------------------------------------------------------

def test_hand_over_code_sets_and_unsets_the_graders_variables():
    code = hand_over_code({"NBGRADER_EXECUTION": "autograde"}, unset=["NBGRADER_VALIDATING"])
    compile(code, "<hand-over>", "exec")
    assert SEED_DIR in code and "'NBGRADER_EXECUTION': 'autograde'" in code and "['NBGRADER_VALIDATING']" in code
    # the student's namespace keeps no trace of it
    assert code.rstrip().endswith("del _paceline_hand_over")


def test_only_workers_that_run_task_after_task_start_kernels_ahead():
    from graders.grading.dispatch import DaskExecutor, ForkExecutor

    kernel = sandbox_config(SandboxLimits(), timeout=5)
    ahead = kernels_started_ahead(kernel)
    assert SandboxedExecute(config=ahead).start_next_kernel and not SandboxedExecute(config=kernel).start_next_kernel
    assert "start_next_kernel" not in kernel.SandboxedExecute  # the task's own config is left as it was
    assert DaskExecutor.keeps_processes and not ForkExecutor.keeps_processes
    # a waiting kernel is used only by notebooks whose kernels it was started like
    tighter = sandbox_config(SandboxLimits(memory_mb=256), timeout=5)
    assert SandboxedExecute(config=ahead)._kernel_recipe() == SandboxedExecute(config=kernel)._kernel_recipe()
    assert SandboxedExecute(config=tighter)._kernel_recipe() != SandboxedExecute(config=kernel)._kernel_recipe()


def test_a_kernel_started_ahead_refuses_a_client_before_its_hand_over():
    manager = SandboxedKernelManager()
    manager._ahead = True  # as start_ahead leaves it, without starting a kernel
    with pytest.raises(RuntimeError, match="hand_over"):
        manager.client()
    with pytest.raises(TypeError, match="hand_over"):
        run_sync(manager.start_ahead)(cwd="/tmp")


# --------------------------------------------------------------------------
# real kernels
# --------------------------------------------------------------------------

@pytest.fixture
def base_dir():
    # Short: unix socket paths are limited to ~100 characters.
    path = tempfile.mkdtemp(prefix="plsb-", dir="/tmp")
    os.chmod(path, 0o700)
    yield path
    run_sync(process_standby().discard)()
    shutil.rmtree(path, ignore_errors=True)


def attempt_folder(root: Path, student: str, text: str) -> Path:
    """An attempt's notebook folder, as nbgrader's autograded/<student>/<lesson> is."""
    folder = root / "autograded" / student / "lesson1"
    folder.mkdir(parents=True)
    (folder / f"{student}.csv").write_text(text)
    (folder / "lesson1.ipynb").write_text('{"hidden": "tests"}')
    return folder


def config_for(base_dir: str, **limits):
    c = kernels_started_ahead(sandbox_config(SandboxLimits(), timeout=20))
    c.SandboxedKernelManager.base_dir = base_dir
    c.SandboxedKernelManager.pass_env = ["NBGRADER_EXECUTION", "NBGRADER_VALIDATING"]
    for key, value in limits.items():
        setattr(c.SandboxedKernelManager, key, value)
    return c


def grade(cells: list[str], folder: Path, config, *, env: dict[str, str] | None = None):
    """Run ``cells`` as nbgrader's autograde runs a notebook (SandboxedExecute, NBGRADER_* set as nbgrader
    sets them); returns (notebook, error raised or None)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    saved = {name: os.environ.pop(name, None) for name in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")}
    os.environ.update(env or {})
    error = None
    try:
        SandboxedExecute(config=config).preprocess(nb, {"metadata": {"path": str(folder)}})
    except DeadKernelError as exc:
        error = exc
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
    return nb, error


def out(nb, index: int) -> str:
    parts = []
    for output in nb.cells[index].outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"ERROR:{output.ename}")
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def uid_processes(uid: int) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    found.add(int(entry.name))
            except FileNotFoundError:
                pass
    return found


def waiting_kernel() -> tuple[SandboxedKernelManager, set[int]]:
    """The process's waiting kernel, once booted, and its processes (the pool user's)."""
    manager = process_standby().waiting
    assert manager is not None and manager.started_ahead and not manager.handed_over
    deadline = time.monotonic() + 60
    while not any(_cmdline(pid).startswith("python") or "ipykernel" in _cmdline(pid) for pid in uid_processes(manager.sandbox.uid)):
        assert time.monotonic() < deadline, "the kernel started ahead did not boot"
        time.sleep(0.05)
    return manager, uid_processes(manager.sandbox.uid)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


@needs_sandbox
def test_the_next_attempt_takes_the_waiting_kernel_and_sees_only_its_own_folder(base_dir, tmp_path):
    config = config_for(base_dir)
    alice = attempt_folder(tmp_path, "alice", "ALICE-ANSWERS")
    bob = attempt_folder(tmp_path, "bob", "BOB-ANSWERS")
    first, error = grade(["import os\nprint(os.getuid())"], alice, config, env={"NBGRADER_EXECUTION": "autograde"})
    assert error is None
    first_uid = int(out(first, 0))

    # Started after alice's notebook, waiting: empty seed and working folder, no grader variables, its user leased.
    waiting, pids = waiting_kernel()
    sandbox = waiting.sandbox
    assert list(sandbox.seed_dir.iterdir()) == []
    kernel_pid = next(pid for pid in pids if "ipykernel" in _cmdline(pid))
    assert os.listdir(f"/proc/{kernel_pid}/root{WORK_DIR}") == []
    assert b"NBGRADER" not in Path(f"/proc/{kernel_pid}/environ").read_bytes()
    with open(Path(LOCK_DIR) / f"{sandbox.lease.user.name}.lock", "rb") as lock, pytest.raises(BlockingIOError):
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    nb, error = grade([
        "import os\nprint(os.getuid(), os.getcwd(), sorted(os.listdir('.')), sorted(os.listdir(%r)))" % SEED_DIR,
        "print(os.environ.get('NBGRADER_EXECUTION'), os.environ.get('NBGRADER_VALIDATING'), open('bob.csv').read())",
        f"print([os.path.exists(p) for p in ({str(alice)!r}, {str(tmp_path)!r})], os.listdir({base_dir + '/k'!r}), "
        "sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [1, os.getpid()] or os.listdir('/proc'))",
        "open('bob.csv', 'w').write('changed')\nprint('wrote')",
    ], bob, config, env={"NBGRADER_EXECUTION": "autograde"})
    assert error is None
    uid, cwd, listing = out(nb, 0).split(" ", 2)
    assert int(uid) == sandbox.uid and cwd == WORK_DIR
    assert listing == "['bob.csv'] ['bob.csv']\n"  # not the graded notebook, nothing of alice's
    assert out(nb, 1) == "autograde None BOB-ANSWERS\n"
    # Its own kernel folder only (the ipc sockets are bound at their host path); in its pid namespace,
    # itself and its init only.
    assert out(nb, 2) == f"[False, False] {[sandbox.kernel_dir.name]} True\n"
    assert nb.cells[0].execution_count == 1  # the hand-over ran silently, as nothing
    assert (bob / "bob.csv").read_text() == "BOB-ANSWERS"

    # It ran one notebook and is gone, with every process of its uid; a new one waits for the next.
    assert alive(pids) == set() and not sandbox.kernel_dir.exists() and sandbox.closed
    assert process_standby().waiting not in (None, waiting)
    with pytest.raises(RuntimeError, match="once"):
        run_sync(waiting.hand_over)(str(alice))
    assert first_uid != 0


@needs_sandbox
def test_limits_hold_and_the_wall_clock_starts_at_the_hand_over(base_dir, tmp_path):
    config = config_for(base_dir, wall_seconds=4, cpu_seconds=3, processes=40, file_size_mb=8, output_mb=1)
    grade(["print('first')"], attempt_folder(tmp_path, "alice", "a"), config)
    waiting_kernel()
    time.sleep(5)  # longer than its wall clock: waiting does not count
    nb, error = grade([
        "import resource\nprint([resource.getrlimit(r)[1] for r in "
        "(resource.RLIMIT_CPU, resource.RLIMIT_NPROC, resource.RLIMIT_FSIZE)])",
        "for _ in range(30):\n    print('x' * 100_000)",
        "import time\ntime.sleep(30)",
        "print('never')",
    ], attempt_folder(tmp_path, "bob", "b"), config)
    assert out(nb, 0) == f"[{3 + 5}, 40, {8 * 1024**2}]\n"
    assert len(out(nb, 1)) < 1.2 * 1024**2 and "paceline sandbox" in out(nb, 1)
    assert isinstance(error, DeadKernelError)  # stopped at 4 s of its own life, not 30
    assert "never" not in out(nb, 3)


@needs_sandbox
def test_a_kernel_that_died_waiting_or_was_started_for_other_limits_is_not_used(base_dir, tmp_path, caplog):
    grade(["print(1)"], attempt_folder(tmp_path, "a", "a"), config_for(base_dir))
    first, _ = waiting_kernel()

    # Other limits (a lesson's own [grading]): the waiting kernel is shut down, the notebook gets its own.
    tighter = config_for(base_dir, memory_mb=700)
    nb, error = grade(["import os\nprint(os.getuid(), sorted(os.listdir('.')))"], attempt_folder(tmp_path, "b", "b"), tighter)
    assert error is None and out(nb, 0).endswith(" ['b.csv']\n")
    assert first.sandbox is None and first.started_ahead and not first.handed_over  # never given a folder

    # Died while waiting: replaced, the notebook still graded.
    second, pids = waiting_kernel()
    kill_uid(second.sandbox.uid)
    nb, error = grade(["import os\nprint(sorted(os.listdir('.')))"], attempt_folder(tmp_path, "c", "c"), tighter)
    assert error is None and out(nb, 0) == "['c.csv']\n"
    assert alive(pids) == set() and second.sandbox is None
    assert "died while it waited" in caplog.text
    assert os.listdir(Path(base_dir) / "k") == [process_standby().waiting.sandbox.kernel_dir.name]


# A process that starts a kernel ahead, prints its pids and kernel folder, then ends as told.
STARTS_AHEAD = textwrap.dedent("""
    import json, os, sys, time
    from jupyter_core.utils import run_sync
    from graders.engine.isolation import kernels_started_ahead
    from graders.engine.sandboxed import SandboxedExecute, sandbox_config
    from graders.sandbox import SandboxLimits
    from graders.sandbox.standby import process_standby
    c = kernels_started_ahead(sandbox_config(SandboxLimits(), timeout=20))
    c.SandboxedKernelManager.base_dir = sys.argv[1]
    execute = SandboxedExecute(config=c)
    execute._start_next()
    sandbox = process_standby().waiting.sandbox
    while not any(os.stat(f"/proc/{p}").st_uid == sandbox.uid for p in os.listdir("/proc") if p.isdigit()):
        time.sleep(0.05)
    time.sleep(1)
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and os.stat(f"/proc/{p}").st_uid == sandbox.uid]
    print(json.dumps({"pids": pids, "folder": str(sandbox.kernel_dir)}), flush=True)
    if sys.argv[2] == "kill":
        time.sleep(600)
""")


@needs_sandbox
@pytest.mark.parametrize("end", ["exit", "kill"])
def test_a_waiting_kernel_ends_with_its_process(base_dir, end):
    import json

    process = subprocess.Popen([sys.executable, "-c", STARTS_AHEAD, base_dir, end], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        started = json.loads(process.stdout.readline())
        assert alive(set(started["pids"]))
        if end == "kill":
            process.send_signal(signal.SIGKILL)  # no clean-up code runs: bwrap dies with its parent
        assert process.wait(timeout=60) in (0, -signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10
    while alive(set(started["pids"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(set(started["pids"])) == set()
    if end == "exit":
        assert not Path(started["folder"]).exists()  # and its folder, cgroups and lease went with it
