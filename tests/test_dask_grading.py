"""Grading on Dask beyond one local cluster: an existing cluster, and a crash mid-batch.

A real multi-process ``LocalCluster`` (two worker processes) already grades the
adversarial batch (tests/test_adversarial.py), the nbgrader-equivalence set
(tests/test_nbgrader_equivalence.py) and the pipeline e2e test; it is not
repeated here. These tests use a few attempts of the fixture course's tiny
lesson 01-add:

- ``grade_attempts(scheduler=...)`` sends the tasks to a Dask scheduler and a
  worker that the test starts as separate processes (``dask scheduler``,
  ``dask worker``), as an instructor would on other machines;
- ``paceline grade`` is killed with SIGKILL mid-batch; a re-run grades exactly
  the attempts left, with no lost or duplicated grades in the ledger or in
  nbgrader's gradebook;
- Ctrl-C (SIGINT to the whole process group, as a terminal sends it) mid-batch,
  on a local Dask cluster and on forked workers (a batch no bigger than the
  workers): one line says how far grading got, no traceback, the attempts not
  graded stay collected, and a re-run grades them without a worker's log line;
- an attempt that cannot be graded is never announced as "Nothing new to grade";
- the default local cluster listens on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from nbgrader.api import Gradebook

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson
from graders.grading.grade import grade_attempts
from graders.sandbox import check_sandbox
from graders.sandbox.host import pool_users

MISSING = check_sandbox()
UTC = dt.timezone.utc
BIN = Path(sys.executable).parent
SUBMITTED = dt.datetime(2026, 9, 10, 12, tzinfo=UTC)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING)),
    pytest.mark.timeout(600),
]

CORRECT = "def add(a, b):\n    return a + b\n"  # 3 points
INTEGERS_ONLY = "def add(a, b):\n    return int(a) + int(b)\n"  # 1 point


def course_with_attempts(root: Path, answers: dict[str, str]):
    """The fixture course with one collected attempt of 01-add per student."""
    shutil.copytree(Path(__file__).parent / "fixtures" / "course", root)
    with (root / "students.csv").open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in answers)
    course = load_course(root)
    release_lessons(course, lesson_ids=["01-add"])
    for student, source in answers.items():
        home = root.parent / "homes" / student
        home.mkdir(parents=True)
        ws = StudentWorkspace(student, home, course.id, course.exchange_root)
        notebook = fetch_lesson(ws, "01-add") / "add.ipynb"
        nb = json.loads(notebook.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
                cell["source"] = source
        notebook.write_text(json.dumps(nb))
        submit_lesson(ws, "01-add", clock=SimulatedClock(SUBMITTED))
    collected = collect_submissions(course, clock=SimulatedClock(SUBMITTED + dt.timedelta(minutes=1)))
    assert collected.problems == [] and len(collected.collected) == len(answers)
    return course


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """Stop a process the test started, and everything in its process group."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    _kill_group(process.pid)


def _is_kernel(process: psutil.Process) -> bool:
    """A sandboxed kernel's process: it runs as a pool user."""
    try:
        return process.uids().real in {user.uid for user in pool_users()}
    except psutil.NoSuchProcess:
        return False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)  # children the leader left behind
    except ProcessLookupError:
        pass


def listening_addresses(pids: list[int]) -> set[str]:
    addresses = set()
    for pid in pids:
        for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            addresses |= {c.laddr.ip for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    return addresses


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A Dask scheduler and one worker, each its own process, on loopback only."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = {"cwd": tmp_path, "start_new_session": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard", "--dashboard-address", "127.0.0.1:0"], **common)
    worker = None
    try:
        worker = subprocess.Popen([str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                   "--local-directory", str(tmp_path / "dask-worker")], **common)
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address, [scheduler.pid, worker.pid]
    finally:
        for process in (worker, scheduler):
            if process is not None:
                stop(process)


def test_grade_attempts_on_an_existing_dask_cluster(tmp_path: Path, dask_cluster) -> None:
    address, pids = dask_cluster
    answers = {"dee": CORRECT, "eli": INTEGERS_ONLY, "fay": CORRECT}
    course = course_with_attempts(tmp_path / "course", answers)

    report = grade_attempts(course, scheduler=address)  # sandboxed: the default
    assert report.problems == []
    assert {g.attempt.student_id: g.score for g in report.graded} == {"dee": 3.0, "eli": 1.0, "fay": 3.0}

    from distributed import Client

    with Client(address, timeout="30s") as client:
        # The tasks ran there: the external scheduler timed every autograde task its worker ran.
        ran = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.task_prefixes["autograde"].all_durations.get("compute", 0))
        [worker_pid] = client.run(os.getpid).values()
    assert ran > 0
    assert worker_pid in {p.pid for p in psutil.Process(pids[1]).children(recursive=True)}  # the `dask worker` started above
    assert listening_addresses(pids) == {"127.0.0.1"}  # scheduler and worker listen on loopback only
    assert grade_attempts(course, scheduler=address).graded == []  # nothing new to grade


def ledger_rows(course) -> list[tuple]:
    """(attempt id, student, status, score, graded_at) for every attempt, read without locking out the grader."""
    with sqlite3.connect(f"file:{course.layout.ledger_path}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT id, student_id, status, score, graded_at FROM attempts ORDER BY id").fetchall()


def test_a_killed_grade_run_resumes_with_no_lost_or_duplicated_grades(tmp_path: Path) -> None:
    # Slow enough (a second per notebook, plus the sandbox) that the kill lands mid-batch.
    answers = {f"s{i}": ("import time\ntime.sleep(1)\n" + (CORRECT if i % 2 else INTEGERS_ONLY)) for i in range(6)}
    course = course_with_attempts(tmp_path / "course", answers)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [str(BIN / "paceline"), "--course", str(course.root), "grade", "--workers", "1"]

    first = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while sum(row[2] == "graded" for row in ledger_rows(course)) < 2:
            assert first.poll() is None, "paceline grade finished before it could be killed"
            assert time.monotonic() < deadline, "paceline grade graded nothing in 240 s"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)  # the grader only: its workers and kernels are orphaned, as in a crash
        first.wait(timeout=30)
    finally:
        _kill_group(first.pid)  # then what it left behind, so nothing of it outlives the test
    before = ledger_rows(course)
    graded_before = {row[0]: row for row in before if row[2] == "graded"}
    assert 2 <= len(graded_before) < len(answers), before

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, start_new_session=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    after = ledger_rows(course)
    assert len(after) == len(answers)  # no attempt lost or added
    assert all(row[2] == "graded" for row in after), after
    for row in after:
        if row[0] in graded_before:
            assert row == graded_before[row[0]]  # graded before the kill: not graded again
    want = {s: (3.0 if "a + b" in source else 1.0) for s, source in answers.items()}
    assert {row[1]: row[3] for row in after} == want
    with Ledger.open(course.layout.ledger_path) as ledger:
        for attempt in ledger.attempts():
            cells = ledger.cell_scores(attempt.id)
            assert sorted(c.grade_id for c in cells) == ["test_add_hidden", "test_add_visible"]  # once each
    with Gradebook(f"sqlite:///{course.layout.gradebook_path}", course_id=course.id) as gb:
        submissions = gb.find_assignment("01-add").submissions
        assert sorted(s.student.id for s in submissions) == sorted(answers)  # one submission per student
        assert {s.student.id: s.score for s in submissions} == want


# One Dask worker grades one attempt after another: a short sleep keeps three attempts waiting at Ctrl-C.
# Four forked workers start all four at once: the sleep must outlast s0's grading by a safe margin.
@pytest.mark.parametrize(("workers", "sleep"), [("1", 3), ("4", 8)], ids=["dask", "forked"])
def test_ctrl_c_stops_grading_in_one_line_and_loses_nothing(tmp_path: Path, workers: str, sleep: int) -> None:
    # s0 is quick, the others sleep: Ctrl-C after s0 is graded lands while the others' kernels run.
    answers = {f"s{i}": (f"import time\ntime.sleep({sleep if i else 0})\n" + (CORRECT if i % 2 else INTEGERS_ONLY)) for i in range(4)}
    course = course_with_attempts(tmp_path / "course", answers)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [str(BIN / "paceline"), "--course", str(course.root), "grade", "--workers", workers]

    first = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not any(row[2] == "graded" for row in ledger_rows(course)):
            assert first.poll() is None, "paceline grade finished before Ctrl-C"
            assert time.monotonic() < deadline, "paceline grade graded nothing in 240 s"
            time.sleep(0.05)
        # Its workers and their kernels, running or started ahead (the kernels in sessions of their own).
        started = psutil.Process(first.pid).children(recursive=True)
        assert any(_is_kernel(p) for p in started), started
        os.killpg(first.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
        out, err = first.communicate(timeout=120)
        left = psutil.wait_procs(started, timeout=10)[1]  # stopped with it, not by _kill_group below
        assert left == [], [(p.pid, p.uids().real) for p in left]
    finally:
        _kill_group(first.pid)
    rows = ledger_rows(course)
    graded = sum(row[2] == "graded" for row in rows)
    assert first.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == f"interrupted: {graded} of 4 graded; run paceline grade again to finish", err
    assert "Traceback" not in out + err and "distributed" not in err, err
    assert graded < 4 and {row[2] for row in rows} <= {"graded", "collected"}, rows  # nothing recorded as failed

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, start_new_session=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # Progress bars go to stderr (transient); nothing else should: no worker heartbeat or shutdown log.
    assert "heartbeat" not in rerun.stderr.lower() and "distributed" not in rerun.stderr, rerun.stderr
    want = {s: (3.0 if "a + b" in source else 1.0) for s, source in answers.items()}
    assert {row[1]: row[3] for row in ledger_rows(course)} == want


def test_an_attempt_that_cannot_be_graded_is_not_announced_as_nothing_new(tmp_path: Path) -> None:
    course = course_with_attempts(tmp_path / "course", {"s1": CORRECT})
    roster = course.roster_path.read_text().splitlines(keepends=True)
    course.roster_path.write_text("".join(line for line in roster if not line.startswith("s1,")))
    done = subprocess.run([str(BIN / "paceline"), "--course", str(course.root), "grade"], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"))
    assert done.returncode == 1
    assert "Nothing new to grade" not in done.stdout + done.stderr
    assert "not on the roster" in done.stderr


def test_the_local_cluster_listens_on_loopback_only() -> None:
    from graders.grading.dispatch import dask_client

    with dask_client(scheduler=None, workers=1) as client:
        assert len(client.scheduler_info()["workers"]) == 1
        # The scheduler lives in this process, its worker and nanny in children.
        assert listening_addresses([os.getpid()]) == {"127.0.0.1"}
