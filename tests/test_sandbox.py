"""The kernel sandbox: real kernels in real bwrap, each test an attack that must fail.

Kernel tests need root, bubblewrap and the paceline-sb* users (``make sandbox``);
without them they are skipped with the reason, the pure tests still run.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from graders.engine.sandboxed import SandboxedExecute, sandbox_config
from graders.sandbox import (
    SandboxedKernelManager,
    SandboxLimits,
    SandboxPlan,
    SandboxUnavailable,
    build_argv,
    check_sandbox,
    require_sandbox,
)
from graders.sandbox.cgroups import cgroup_parent
from graders.sandbox.client import OutputBudget
from graders.sandbox.command import WORK_DIR, SystemMount, seccomp_program
from graders.sandbox.host import PoolUser
from graders.sandbox.resources import acquire_slot, copy_folder

MISSING = check_sandbox()
needs_sandbox = pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------
# pure parts
# --------------------------------------------------------------------------

def _plan(**overrides) -> SandboxPlan:
    values = dict(
        kernel_cmd=("/opt/venv/bin/python3", "-I", "-m", "ipykernel_launcher", "-f", "/run/pl/k/sb0-1/kernel.json"),
        uid=990, gid=989, limits=SandboxLimits(processes=32),
        kernel_dir="/run/pl/k/sb0-1", ipc_dir="/run/pl/k/sb0-1/ipc", connection_file="/run/pl/k/sb0-1/kernel.json",
        etc_files=(("/run/pl/k/sb0-1/passwd", "/etc/passwd"),),
        system=(SystemMount("ro-bind", "/usr"), SystemMount("symlink", "/lib", "usr/lib")),
        etc_entries=("/etc/ld.so.cache",),
        ro_paths=("/opt/venv", "/root/.pyenv/versions/3.11.7", "/usr/lib/python3"),
        seed_dir="/run/pl/k/sb0-1/seed", seccomp_fd=7, cgroup_procs=("/sys/fs/cgroup/pids/paceline-x/cgroup.procs",),
        venv_bin="/opt/venv/bin",
    )
    values.update(overrides)
    return SandboxPlan(**values)


def test_argv_builder_is_pure_and_complete():
    argv = build_argv(_plan())
    assert argv == build_argv(_plan())
    # cgroups are joined by a shell that then execs bwrap
    assert argv[:2] == ["/bin/sh", "-c"] and argv[4] == "/sys/fs/cgroup/pids/paceline-x/cgroup.procs"
    bwrap = argv.index("/usr/bin/bwrap")
    for flag in ("--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
                 "--unshare-uts", "--clearenv"):
        assert flag in argv
    # no user namespace: it would map the sandbox to root outside
    assert "--unshare-user" not in argv and "--unshare-all" not in argv and "--uid" not in argv
    joined = " ".join(argv)
    assert "--ro-bind /usr /usr --symlink usr/lib /lib" in joined
    # parents of /root/... are made 0755 (bwrap would make them 0700) before the bind
    assert ("--perms 0755 --dir /root --perms 0755 --dir /root/.pyenv --perms 0755 --dir /root/.pyenv/versions "
            "--ro-bind /root/.pyenv/versions/3.11.7 /root/.pyenv/versions/3.11.7") in joined
    assert "/usr/lib/python3 /usr/lib/python3" not in joined  # already visible through /usr
    assert "--bind /run/pl/k/sb0-1/ipc /run/pl/k/sb0-1/ipc" in joined
    assert "--ro-bind /run/pl/k/sb0-1/kernel.json /run/pl/k/sb0-1/kernel.json" in joined
    assert "--perms 1777 --size 268435456 --tmpfs /tmp" in joined
    assert f"--tmpfs {WORK_DIR} --chdir {WORK_DIR}" in joined
    assert "--seccomp 7" in joined
    env = {argv[i + 1]: argv[i + 2] for i, arg in enumerate(argv) if arg == "--setenv"}
    assert env["HOME"] == WORK_DIR and env["MPLBACKEND"] == "Agg" and env["PATH"].startswith("/opt/venv/bin:")
    # then rlimits, then the privilege drop, then the seed copy, then the kernel
    rest = argv[argv.index("--", bwrap) + 1:]
    assert rest[0] == "/usr/bin/prlimit" and "--nproc=32" in rest and "--fsize=67108864" in rest
    assert f"--as={2048 * 1024 * 1024}" in rest and "--cpu=60:65" in rest and "--nofile=256" in rest
    setpriv = rest[rest.index("/usr/bin/setpriv"):]
    assert setpriv[1:8] == ["--reuid=990", "--regid=989", "--clear-groups", "--inh-caps=-all",
                            "--bounding-set=-all", "--no-new-privs", "--"]
    assert argv[-6:] == list(_plan().kernel_cmd)[-6:]
    # without cgroups or a seed, those steps vanish
    bare = build_argv(_plan(cgroup_procs=(), seed_dir=None, seccomp_fd=None))
    assert bare[0] == "/usr/bin/bwrap" and "--seccomp" not in bare and "paceline-seed" not in bare


def test_argv_builder_refuses_unsafe_plans():
    with pytest.raises(ValueError, match="root"):
        _plan(uid=0)
    with pytest.raises(ValueError, match="too long"):
        long = "/run/" + "x" * 120
        _plan(kernel_dir=long, ipc_dir=long + "/ipc", connection_file=long + "/kernel.json")
    with pytest.raises(ValueError, match="working folder"):
        _plan(ro_paths=(WORK_DIR + "/venv",))
    with pytest.raises(ValueError, match="normalised"):
        _plan(ro_paths=("/opt/../root",))


def test_seccomp_program_shape():
    program = seccomp_program("x86_64")
    assert len(program) % 8 == 0 and len(program) // 8 < 255
    assert program[-8:] == bytes.fromhex("0600000000000080")  # last instruction: kill the process
    with pytest.raises(ValueError):
        seccomp_program("sparc")


def test_limits_are_validated():
    assert SandboxLimits().address_space_bytes == 2048 * 1024 * 1024
    assert SandboxLimits(memory_mb=4096).address_space_bytes == 8192 * 1024 * 1024
    with pytest.raises(ValueError, match="processes"):
        SandboxLimits(processes=0)
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=True)


def test_output_budget_drops_excess_with_one_notice():
    budget = OutputBudget(limit=100)

    def msg(kind, parent="a", **content):
        return {"msg_type": kind, "header": {"msg_type": kind}, "parent_header": {"msg_id": parent}, "content": content}

    assert budget.admit(msg("stream", name="stdout", text="x" * 50)) is not None
    notice = budget.admit(msg("stream", name="stdout", text="y" * 500))
    assert "paceline sandbox" in notice["content"]["text"]
    assert budget.used <= 100
    big = OutputBudget(limit=1000)
    head = big.admit(msg("stream", name="stdout", text="y" * 5000))["content"]["text"]
    assert head.startswith("y" * 700) and "y" * 801 not in head and "paceline sandbox" in head
    assert big.used <= 1000
    assert budget.admit(msg("stream", name="stdout", text="z")) is None
    assert budget.admit(msg("status", execution_state="idle")) is not None
    # one error and one result per cell survive the limit, shortened: they decide grades
    error = budget.admit(msg("error", ename="E", evalue="v" * 5000, traceback=["t"] * 100))
    assert len(error["content"]["evalue"]) == 2000 and len(error["content"]["traceback"]) == 20
    assert budget.admit(msg("error", ename="E", evalue="again", traceback=[])) is None
    result = budget.admit(msg("execute_result", data={"text/plain": "0.5" * 10_000}, metadata={}))
    assert len(result["content"]["data"]["text/plain"]) == 10_000
    # another cell has its own budget, the notebook a total of 4x
    assert budget.admit(msg("stream", parent="b", name="stdout", text="ok")) is not None
    for parent in "cdef":
        budget.admit(msg("stream", parent=parent, name="stdout", text="w" * 90))
    assert budget.used <= budget.total_limit
    assert "paceline" in budget.admit(msg("stream", parent="g", name="stdout", text="w" * 90))["content"]["text"]


def test_scratch_copy_skips_links_and_notebooks(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "data.csv").write_text("a\n1\n")
    (src / "sub" / "more.txt").write_text("more")
    (src / "lesson.ipynb").write_text("{}")
    (src / "link").symlink_to("/etc/passwd")
    (src / "dirlink").symlink_to("/etc")
    os.mkfifo(src / "fifo")
    copy_folder(src, tmp_path / "dst", max_bytes=1 << 20)
    files = sorted(str(p.relative_to(tmp_path / "dst")) for p in (tmp_path / "dst").rglob("*"))
    assert files == ["data.csv", "sub", "sub/more.txt"]
    (src / "big").write_bytes(b"x" * 4096)
    with pytest.raises(Exception, match="more data"):
        copy_folder(src, tmp_path / "dst2", max_bytes=1000)


def test_a_kernel_started_ahead_gives_way_to_one_that_waits(tmp_path):
    """More grading processes than pool users: a process whose kernel finished must not take the freed user
    back for its next kernel started ahead while another process waits for one (it would wait for ever)."""
    users = [PoolUser(slot, f"sb{slot}", 60_000 + slot, 60_000 + slot) for slot in range(2)]
    held = [acquire_slot(users, tmp_path, wait=0) for _ in users]  # the pool is busy
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(acquire_slot(users, tmp_path, wait=10)))
    waiter.start()
    deadline = time.monotonic() + 5
    while not someone_waits(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    finished = held.pop()
    finished.release()  # a kernel finishes...
    with pytest.raises(SandboxUnavailable, match="a kernel is waiting"):
        acquire_slot(users, tmp_path, wait=0)  # ...and the next one started ahead gives way
    waiter.join(timeout=5)
    assert [lease.user for lease in got] == [finished.user]  # the waiter has the freed user
    with pytest.raises(SandboxUnavailable, match="all 2 sandbox users are busy"):
        acquire_slot(users, tmp_path, wait=0)  # nobody waits now: the pool is merely full
    got[0].release()
    assert acquire_slot(users, tmp_path, wait=0).user == finished.user


def someone_waits(lock_dir: Path) -> bool:
    """Whether a lease is waiting (holds waiting.lock shared), asked as another process would."""
    with open(lock_dir / "waiting.lock", "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def test_missing_sandbox_is_reported_with_the_fix():
    error = SandboxUnavailable(["/usr/bin/bwrap is missing (apt-get install bubblewrap)"])
    assert "make sandbox" in str(error) and "apt-get install bubblewrap" in str(error)
    problems = check_sandbox(prefix="no-such-user-", size=2)
    assert any("no sandbox users" in problem for problem in problems)
    with pytest.raises(SandboxUnavailable, match="make sandbox"):
        require_sandbox(prefix="no-such-user-", size=2)


def test_nbgrader_wiring_replaces_execute():
    from nbgrader.converters.autograde import Autograde

    c = sandbox_config(SandboxLimits(memory_mb=512), timeout=7)
    assert "graders.engine.sandboxed.SandboxedExecute" in c.Autograde.autograde_preprocessors
    assert "nbgrader.preprocessors.execute.Execute" not in map(str, c.Autograde.autograde_preprocessors)
    assert c.Execute.timeout == 7 and c.SandboxedKernelManager.memory_mb == 512
    # a cell's remaining output (up to the output limit) may take longer than nbclient's 4 s on a busy grader
    assert SandboxedExecute(config=c).iopub_timeout >= 30
    assert pickle.loads(pickle.dumps(c)) == c  # shipped to grading workers
    assert Autograde.class_traits()["autograde_preprocessors"].default()[0].__name__ == "Execute"
    assert SandboxedExecute(config=c).kernel_manager_class is SandboxedKernelManager
    # config cannot swap the manager back to an unsandboxed one
    weak = Config(c)
    weak.Execute.kernel_manager_class = "jupyter_client.manager.AsyncKernelManager"
    with pytest.raises(Exception, match="SandboxedKernelManager"):
        SandboxedExecute(config=weak).preprocess(nbformat.v4.new_notebook(), {})


# --------------------------------------------------------------------------
# real kernels
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_dir():
    # Short: unix socket paths are limited to ~100 characters.
    path = tempfile.mkdtemp(prefix="plsb-", dir="/tmp")
    os.chmod(path, 0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def folder(tmp_path):
    """The notebook's folder, as nbgrader's autograded/<student>/<lesson> would be."""
    path = tmp_path / "autograded" / "alice" / "lesson1"
    path.mkdir(parents=True)
    (path / "data.csv").write_text("x,y\n1,2\n3,4\n")
    (path / "helper.py").write_text("VALUE = 42\n")
    (path / "lesson1.ipynb").write_text('{"hidden": "tests"}')
    (path / "shadow").symlink_to("/etc/shadow")
    return path


def run(cells, folder, base_dir, *, timeout=20, kernel="python3", **limits):
    """Execute ``cells`` in a sandboxed kernel; returns (notebook, error raised or None)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    config = Config()
    config.SandboxedKernelManager.base_dir = base_dir
    for key, value in limits.items():
        setattr(config.SandboxedKernelManager, key, value)
    client = NotebookClient(
        nb, kernel_manager_class=SandboxedKernelManager, timeout=timeout, allow_errors=True,
        interrupt_on_timeout=True, config=config, resources={"metadata": {"path": str(folder)}},
    )
    error = None
    try:
        client.execute()
    except DeadKernelError as exc:
        error = exc
    assert os.listdir(Path(base_dir) / "k") == [], "kernel folder left behind"
    return nb, error


def out(nb, index):
    """stdout of a cell, plus error names as 'ERROR:<ename>:<evalue>'."""
    parts = []
    for output in nb.cells[index].outputs:
        if output.output_type == "stream":
            parts.append(("STDERR:" if output.name == "stderr" else "") + output.text)
        elif output.output_type == "error":
            parts.append(f"ERROR:{output.ename}:{output.evalue}")
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


@needs_sandbox
def test_normal_work_pandas_and_matplotlib(folder, base_dir):
    nb, error = run([
        "import pandas as pd, numpy as np\ndf = pd.read_csv('data.csv')\nprint(df.x.sum(), np.arange(3).sum())",
        "import matplotlib.pyplot as plt\nplt.plot(df.x, df.y)\nplt.savefig('plot.png')\nimport os\nprint(os.path.getsize('plot.png') > 0)",
        "import os\nprint(os.getuid() != 0, os.getcwd())",
        "import helper\nprint(helper.VALUE)",  # the notebook's own modules import as usual
    ], folder, base_dir)
    assert error is None
    assert out(nb, 3) == "42\n"
    assert out(nb, 0) == "4 3\n"
    assert out(nb, 1) == "True\n"  # and nothing on stderr, which would zero a test cell
    assert out(nb, 2) == f"True {WORK_DIR}\n"


@needs_sandbox
def test_notebook_claiming_another_kernel_still_runs_sandboxed(folder, base_dir):
    nb, _ = run(["import os\nprint(os.getuid())"], folder, base_dir, kernel="evil-root-kernel")
    assert int(out(nb, 0)) not in (0, os.getuid())


@needs_sandbox
def test_cwd_is_a_scratch_copy(folder, base_dir):
    original = (folder / "data.csv").read_text()
    nb, error = run([
        "import os\nprint(sorted(os.listdir('.')))",
        "open('data.csv', 'w').write('tampered')\nopen('new.txt', 'w').write('x')\nos.symlink('/etc/passwd', 'lesson1.ipynb')\nprint('wrote')",
    ], folder, base_dir)
    assert error is None
    # the symlink and the graded notebook (with its hidden tests) are not copied
    assert out(nb, 0) == "['data.csv', 'helper.py']\n"
    assert out(nb, 1) == "wrote\n"
    assert (folder / "data.csv").read_text() == original
    assert not (folder / "new.txt").exists() and not (folder / "lesson1.ipynb").is_symlink()


@needs_sandbox
def test_student_files_cannot_hijack_kernel_startup(folder, base_dir):
    marker = "import os; open(os.path.expanduser('~/HIJACKED-' + __name__), 'w')\n"
    for name in ("ipykernel_launcher.py", "ipykernel.py", "zmq.py", "sitecustomize.py", "usercustomize.py",
                 "ipython_config.py", "ipython_kernel_config.py", ".ipython/profile_default/startup/00-x.py",
                 ".local/lib/python3.11/site-packages/usercustomize.py"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(marker)
    nb, error = run(["import os, sys\nprint(sorted(f for f in os.listdir('.') if f.startswith('HIJACKED')), '' in sys.path)"],
                    folder, base_dir)
    assert error is None
    assert out(nb, 0) == "[] True\n"


@needs_sandbox
def test_secrets_of_the_host_cannot_be_read(folder, base_dir, tmp_path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    (course / "source" / "solutions.ipynb").write_text("answers")
    os.chmod(course, 0o700)
    repo_secret = REPO / f".sandbox-test-secret-{os.getpid()}"
    repo_secret.write_text("secret")
    os.chmod(repo_secret, 0o600)
    targets = [str(course / "gradebook.db"), str(course / "source" / "solutions.ipynb"), str(repo_secret),
               "/root/.bashrc", "/etc/shadow", str(REPO / "graders" / "engine.py"), str(folder / "lesson1.ipynb")]
    try:
        nb, error = run([
            f"targets = {targets!r}\n"
            "for t in targets:\n"
            "    try:\n"
            "        open(t).read(); print('READ', t)\n"
            "    except OSError as exc:\n"
            "        print('denied', type(exc).__name__)\n",
            "import os\nprint(sorted(os.listdir('/root')), sorted(os.listdir('/work/main')) if os.path.isdir('/work/main') else None)",
        ], folder, base_dir)
    finally:
        repo_secret.unlink()
    assert error is None
    assert "READ" not in out(nb, 0) and out(nb, 0).count("denied") == len(targets)
    assert out(nb, 1).startswith("['.pyenv']")
    assert "graders" not in out(nb, 1)


@needs_sandbox
def test_no_network(folder, base_dir):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        nb, error = run([
            "import socket\n"
            f"for host in ('127.0.0.1', '10.0.2.2', '1.1.1.1'):\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=2); print('CONNECTED', host)\n"
            "    except OSError as exc:\n"
            "        print('refused', exc.errno)\n",
        ], folder, base_dir)
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
    assert error is None
    assert "CONNECTED" not in out(nb, 0) and out(nb, 0).count("refused") == 3


@needs_sandbox
def test_killing_processes_cannot_hurt_the_grader(folder, base_dir):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        nb, error = run([
            "import os, signal\nprint(os.getppid())\n"
            "for pid in (os.getppid(), 1):\n"
            "    try:\n        os.kill(pid, signal.SIGKILL); print('KILLED', pid)\n"
            "    except OSError as exc:\n        print('denied', type(exc).__name__)\n",
            f"try:\n    os.kill({os.getpid()}, signal.SIGKILL); print('KILLED grader')\n"
            "except OSError as exc:\n    print('denied', type(exc).__name__)\n"
            f"try:\n    os.kill({bystander.pid}, signal.SIGKILL); print('KILLED bystander')\n"
            "except OSError as exc:\n    print('denied', type(exc).__name__)\n",
            # everything it may signal (Linux spares the caller and pid 1): there is nothing
            "try:\n    os.kill(-1, signal.SIGKILL); print('KILLED all')\n"
            "except ProcessLookupError:\n    print('nothing to kill')",
        ], folder, base_dir)
        assert "KILLED" not in out(nb, 0) + out(nb, 1)
        assert out(nb, 1).count("denied") == 2
        assert out(nb, 2) == "nothing to kill\n"
        assert error is None
        assert bystander.poll() is None  # still running
    finally:
        bystander.kill()
        bystander.wait()


@needs_sandbox
def test_memory_bomb_fails_inside_the_kernel(folder, base_dir):
    nb, error = run([
        "try:\n    x = bytearray(4 * 1024**3)\n    print('ALLOCATED')\nexcept MemoryError:\n    print('MemoryError')",
        "print('still alive')",
    ], folder, base_dir)
    assert error is None
    assert out(nb, 0) == "MemoryError\n" and out(nb, 1) == "still alive\n"


@needs_sandbox
@pytest.mark.skipif(cgroup_parent("memory") is None, reason="no writable cgroup v1 memory controller")
def test_memory_cgroup_kills_only_the_kernel(folder, base_dir):
    # Within the address-space limit but above the RAM limit: the OOM killer takes the kernel.
    nb, error = run(["x = bytearray(900 * 1024**2)\nprint('ALLOCATED')"], folder, base_dir,
                    memory_mb=300, address_space_mb=2048)
    assert "ALLOCATED" not in out(nb, 0)
    assert isinstance(error, DeadKernelError)


@needs_sandbox
def test_fork_bomb_is_contained(folder, base_dir):
    nb, error = run([
        "import os, time\nok = failed = 0\nkids = []\n"
        "for _ in range(200):\n"
        "    try:\n        pid = os.fork()\n"
        "    except OSError:\n        failed += 1\n        continue\n"
        "    if pid == 0:\n        time.sleep(2)\n        os._exit(0)\n"
        "    kids.append(pid)\n"
        "for pid in kids:\n    os.waitpid(pid, 0)\n"
        "print(len(kids), failed)",
        "print('kernel fine')",
    ], folder, base_dir, processes=32, timeout=30)
    assert error is None
    forked, failed = map(int, out(nb, 0).split())
    assert forked < 32 and failed == 200 - forked
    assert out(nb, 1) == "kernel fine\n"


@needs_sandbox
def test_file_size_and_scratch_space_are_limited(folder, base_dir):
    nb, error = run([
        "try:\n    open('big', 'wb').write(b'x' * (9 * 1024**2)); print('WROTE')\nexcept OSError as exc:\n    print(exc.strerror)",
        "n = 0\ntry:\n    while n < 100:\n        open(f'/tmp/f{n}', 'wb').write(b'x' * (4 * 1024**2)); n += 1\n"
        "    print('FILLED')\nexcept OSError as exc:\n    print(exc.strerror, n)",
    ], folder, base_dir, file_size_mb=8, scratch_mb=32)
    assert error is None
    assert out(nb, 0) == "File too large\n"
    assert out(nb, 1).startswith("No space left on device") and int(out(nb, 1).split()[-1]) <= 8


@needs_sandbox
def test_sandbox_escapes_are_blocked(folder, base_dir):
    nb, error = run([
        # no user namespaces (seccomp), no privileges
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd', 'NoNewPrivs'))])",
        # the socket folder is sealed once the kernel is up
        "import sys\nipc = os.path.dirname(sys.argv[sys.argv.index('-f') + 1]) + '/ipc'\n"
        "try:\n    open(ipc + '/fill', 'w'); print('WROTE')\nexcept OSError as exc:\n    print(type(exc).__name__)",
        # read-only system and interpreter
        "import pandas\nfor path in (os.__file__, pandas.__file__, '/usr/bin/x', '/etc/passwd'):\n"
        "    try:\n        open(path, 'a'); print('WROTE', path)\n    except OSError as exc:\n        print(exc.strerror)",
    ], folder, base_dir)
    assert error is None
    assert out(nb, 0) == "-1 1\n['0000000000000000', '0000000000000000', '1']\n"
    assert out(nb, 1) == "PermissionError\n"
    assert "WROTE" not in out(nb, 2) and len(out(nb, 2).splitlines()) == 4


@needs_sandbox
def test_infinite_loop_is_interrupted_and_the_next_cell_runs(folder, base_dir):
    started = time.monotonic()
    nb, error = run(["while True:\n    pass", "print('next')"], folder, base_dir, timeout=2)
    assert error is None
    assert "ERROR:" in out(nb, 0) and out(nb, 1) == "next\n"
    assert time.monotonic() - started < 15


@needs_sandbox
def test_output_flood_is_capped(folder, base_dir):
    nb, error = run(["for _ in range(50):\n    print('x' * 100_000)", "print('after')"], folder, base_dir, output_mb=1)
    assert error is None
    assert len(out(nb, 0)) < 1.2 * 1024**2 and "paceline sandbox" in out(nb, 0)
    assert out(nb, 1) == "after\n"  # the next cell has its own budget


@needs_sandbox
def test_dead_kernel_is_cleaned_up(folder, base_dir):
    parents = [p for p in (cgroup_parent(c) for c in ("memory", "pids")) if p is not None]
    # Other graders on the host (the other test process, or an earlier, killed test run) may own cgroups of
    # their own: only those named for this kernel's pool user count.
    before = {path for parent in parents for path in parent.glob("paceline-*")}
    nb, error = run(["import os\nprint(os.getuid(), flush=True)", "os._exit(3)", "print('never')"], folder, base_dir)
    assert isinstance(error, DeadKernelError)  # run() also asserts the kernel folder is gone
    uid = int(out(nb, 0))
    leftover = [p for p in os.listdir("/proc") if p.isdigit() and _owner(p) == uid]
    assert leftover == []
    user = pwd.getpwuid(uid).pw_name
    after = {path for parent in parents for path in parent.glob(f"paceline-{user}-*")}
    assert after - before == set(), "the dead kernel's cgroups were left behind"


@needs_sandbox
def test_concurrent_kernels_get_their_own_users(folder, base_dir):
    import asyncio

    async def both():
        config = Config()
        config.SandboxedKernelManager.base_dir = base_dir
        nbs = [nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os, time\ntime.sleep(0.5)\nprint(os.getuid())")])
               for _ in range(2)]
        clients = [NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, config=config, timeout=20,
                                  resources={"metadata": {"path": str(folder)}}) for nb in nbs]
        await asyncio.gather(*(client.async_execute() for client in clients))
        return [nb.cells[0].outputs[0].text for nb in nbs]

    uids = asyncio.run(both())
    assert len(set(uids)) == 2


@needs_sandbox
def test_nbgrader_execute_preprocessor_runs_sandboxed(folder, base_dir):
    c = sandbox_config(SandboxLimits(), timeout=10)
    c.SandboxedKernelManager.base_dir = base_dir
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.getuid() != 0, os.getcwd())")])
    nb.metadata["kernelspec"] = {"name": "not-python", "display_name": "x", "language": "python"}
    executed, _ = SandboxedExecute(config=c).preprocess(nb, {"metadata": {"path": str(folder)}})
    assert out(executed, 0) == f"True {WORK_DIR}\n"
    assert os.listdir(Path(base_dir) / "k") == []


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None



# --------------------------------------------------------------------------
# fair shares (issue 8 §5): socket families, CPU quota, total output
# --------------------------------------------------------------------------

def _run_bpf(program: bytes, *, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate a classic-BPF seccomp program on one ``struct seccomp_data`` (the few opcodes it uses)."""
    import struct

    args = (tuple(args) + (0,) * 6)[:6]
    data = struct.pack("=iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld w abs
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x06:  # ret k
            return k
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


def test_seccomp_allows_only_namespaced_socket_families():
    program = seccomp_program("x86_64")
    x86, socket_nr, socketpair_nr = 0xC000003E, 41, 53
    allow, eperm = 0x7FFF0000, 0x00050001

    def socket_call(family, kind=1, protocol=0, nr=socket_nr):
        return _run_bpf(program, arch=x86, nr=nr, args=(family, kind, protocol))

    for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6):
        assert socket_call(family) == allow
    # AF_VSOCK (40) reaches the hypervisor, AF_ALG the host's crypto; none of these is in the allow-list.
    for family in (40, 38, 17, 31, 29, 21, 30, 44, 5, 0, 1 << 32 | 40):
        assert socket_call(family) == eperm, family
    assert socket_call(1 << 32 | socket.AF_UNIX) == allow  # the kernel reads an int: high bits are ignored there too
    assert socket_call(16, 3, 0) == allow  # NETLINK_ROUTE: the namespace's own addresses, for getaddrinfo
    for protocol in (9, 15, 16, 4):  # audit, kobject uevents, generic, sock diag
        assert socket_call(16, 3, protocol) == eperm
    assert socket_call(socket.AF_UNIX, nr=socketpair_nr) == allow
    assert socket_call(40, nr=socketpair_nr) == eperm
    # The rest of the filter is unchanged: ordinary calls pass, namespaces and bpf do not.
    assert _run_bpf(program, arch=x86, nr=0) == allow  # read
    assert _run_bpf(program, arch=x86, nr=272, args=(0x10000000,)) == eperm  # unshare(CLONE_NEWUSER)
    assert _run_bpf(program, arch=x86, nr=321) == eperm  # bpf
    assert _run_bpf(program, arch=0x40000003, nr=359) == 0x80000000  # i386 socket(): another ABI, killed
    arm = seccomp_program("aarch64")
    assert _run_bpf(arm, arch=0xC00000B7, nr=198, args=(40,)) == eperm
    assert _run_bpf(arm, arch=0xC00000B7, nr=198, args=(socket.AF_UNIX,)) == allow


def test_cpu_quota_files_for_cgroup_v1_and_v2():
    from graders.sandbox.cgroups import cpu_quota_files

    assert cpu_quota_files(1.0, version=1) == [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "100000")]
    assert cpu_quota_files(0.5, version=2) == [("cpu.max", "50000 100000")]
    assert cpu_quota_files(2.25, version=1)[1] == ("cpu.cfs_quota_us", "225000")
    with pytest.raises(ValueError, match="cpus"):
        SandboxLimits(cpus=0.01)
    with pytest.raises(ValueError, match="cpus"):
        SandboxLimits(cpus="1")


def test_cgroup2_cpu_parent_needs_a_cpu_controller_it_can_delegate(tmp_path):
    from graders.sandbox.cgroups import cgroup2_cpu_parent

    proc = tmp_path / "cgroup"
    grader = tmp_path / "fs" / "grading.slice"
    grader.mkdir(parents=True)
    proc.write_text("0::/grading.slice\n")
    (grader / "cgroup.controllers").write_text("cpuset memory pids\n")
    (grader / "cgroup.subtree_control").write_text("")
    assert cgroup2_cpu_parent(proc_cgroup=proc, root=tmp_path / "fs") is None  # no cpu controller here
    (grader / "cgroup.controllers").write_text("cpuset cpu memory pids\n")
    assert cgroup2_cpu_parent(proc_cgroup=proc, root=tmp_path / "fs") == grader
    assert (grader / "cgroup.subtree_control").read_text() == "+cpu"  # handed to the kernels' cgroups
    proc.write_text("4:memory:/x\n1:cpu:/\n")  # a v1-only host
    assert cgroup2_cpu_parent(proc_cgroup=proc, root=tmp_path / "fs") is None


def test_output_budget_caps_the_whole_kernel_not_only_each_cell():
    import json

    budget = OutputBudget(limit=1000, total_limit=3000)

    def msg(kind, parent, **content):
        return {"msg_type": kind, "header": {"msg_type": kind}, "parent_header": {"msg_id": parent}, "content": content}

    kept = 0
    for cell in range(50):  # each cell prints just under its own limit
        admitted = budget.admit(msg("stream", f"c{cell}", name="stdout", text="x" * 900))
        kept += len(admitted["content"]["text"]) if admitted else 0
    assert budget.used <= 3000 and kept < 3000 + 50 * 200  # the total, plus one short notice per cell
    # Errors and results past the limits are still kept (they decide grades), but past a shared 1 MB
    # allowance only a few hundred bytes each, however many cells fail with a huge error.
    sizes = []
    for cell in range(200):
        error = budget.admit(msg("error", f"e{cell}", ename="ValueError", evalue="v" * 100_000, traceback=["t" * 5000] * 50))
        assert error["content"]["ename"] == "ValueError"
        sizes.append(len(json.dumps(error["content"])))
    assert budget.shortened < OutputBudget.SHORTENED_ALLOWANCE + 60_000 + 200 * 1000  # + one roomy, + tight ones
    assert max(sizes[-100:]) < 1000
    result = budget.admit(msg("execute_result", "e0", data={"text/plain": "0.5" * 10_000}, metadata={}))
    assert result["content"]["data"]["text/plain"].startswith("0.5") and len(result["content"]["data"]["text/plain"]) <= 200


def test_limits_hold_the_course_keys():
    from graders.course.plan import GradingSettings
    from graders.engine.isolation import sandbox_limits

    limits = sandbox_limits(GradingSettings(output_mb=4, cpus=0.5))
    assert (limits.total_output_mb, limits.cpus, limits.output_bytes) == (4, 0.5, 4 * 1024 * 1024)
    assert SandboxLimits().output_bytes == 16 * 1024 * 1024  # one cell: 16 MB, within the 20 MB total
    c = sandbox_config(limits, timeout=GradingSettings().timeout)
    assert (c.SandboxedKernelManager.total_output_mb, c.SandboxedKernelManager.cpus) == (4, 0.5)


@needs_sandbox
def test_socket_families_outside_the_network_namespace_are_refused(folder, base_dir):
    nb, error = run([
        "import errno, socket\n"
        "def try_socket(family, kind, protocol=0):\n"
        "    try:\n"
        "        socket.socket(family, kind, protocol).close()\n"
        "        return 'ok'\n"
        "    except OSError as exc:\n"
        "        return errno.errorcode.get(exc.errno, str(exc.errno))\n"
        # AF_VSOCK (the hypervisor), AF_ALG, AF_PACKET, AF_BLUETOOTH, AF_CAN, AF_RDS, AF_TIPC, AF_XDP, AF_KCM
        "for family in (40, 38, 17, 31, 29, 21, 30, 44, 41):\n"
        "    print(family, sorted({try_socket(family, kind) for kind in (1, 2, 3, 5)}))",
        "print(try_socket(socket.AF_UNIX, 1), try_socket(socket.AF_INET, 2), try_socket(socket.AF_INET6, 1),"
        " try_socket(socket.AF_NETLINK, 3, 0), try_socket(socket.AF_NETLINK, 3, 15))\n"
        "a, b = socket.socketpair(); a.close(); b.close()\n"
        "print(socket.getaddrinfo('localhost', 80)[0][4][1])",
    ], folder, base_dir)
    assert error is None
    refused = [line.split(" ", 1) for line in out(nb, 0).splitlines()]
    assert len(refused) == 9 and all(result == "['EPERM']" for _, result in refused), out(nb, 0)
    assert out(nb, 1) == "ok ok ok ok EPERM\n80\n"


@needs_sandbox
@pytest.mark.skipif(cgroup_parent("cpu") is None, reason="no writable cgroup v1 cpu controller")
def test_busy_processes_in_new_sessions_get_no_more_than_the_cpu_quota(folder, base_dir):
    fixture = REPO / "tests" / "fixtures" / "hostile" / "starves_with_setsid_forks.ipynb"
    [busy] = [c.source for c in nbformat.read(fixture, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add"]
    nb, error = run([busy], folder, base_dir, cpus=0.5)
    assert error is None
    [line] = out(nb, 0).splitlines()
    assert line.startswith("evidence: cpu share") and float(line.split()[3]) <= 0.6, line


@needs_sandbox
def test_many_cells_under_the_cell_limit_stop_at_the_total(folder, base_dir):
    nb, error = run(["print('x' * 900_000)"] * 8 + ["print('after')"], folder, base_dir, output_mb=1, total_output_mb=3)
    assert error is None
    kept = sum(len(out(nb, index)) for index in range(9))
    assert 2.5 * 2**20 < kept < 3 * 2**20 + 9 * 300
    assert "3 MB per notebook" in "".join(out(nb, index) for index in range(9))
    assert not any("x" * 1000 in out(nb, index) for index in range(4, 8))  # past the total: a notice only
