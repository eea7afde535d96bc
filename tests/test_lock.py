"""The course lock: one writer per course, a waiting or refusing second one, a killed holder recovered
(real processes holding a real flock; no kernels)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from graders.course.lock import CourseBusy, LockHolder, course_lock, lock_holder
from graders.course.plan import load_course
from graders.exchange.ledger import Ledger
from graders.grading.dispatch import fork_executor

PACELINE = str(Path(sys.executable).parent / "paceline")
BERLIN = ZoneInfo("Europe/Berlin")

# A separate process that takes the course lock as `paceline grade` would and keeps it until its stdin closes.
HOLDER = """
import sys
from graders.course.lock import course_lock
from graders.course.plan import load_course
course = load_course(sys.argv[1])
with course_lock(course.layout, command="paceline grade", timezone=course.timezone):
    print("held", flush=True)
    sys.stdin.read()
"""


def start_holder(course_dir: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(course_dir)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    return holder


def paceline(*args: str, cwd: Path, **options) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen([PACELINE, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **options)


def started(holder: subprocess.Popen, course_dir: Path) -> str:
    """How the waiting message shows the holder's start: HH:MM in the course's time zone."""
    found = lock_holder(load_course(course_dir).layout)
    assert found is not None and found.pid == holder.pid
    return f"{found.started_at.astimezone(BERLIN):%H:%M}"


EXTEND = ("extend", "ada", "01-add", "--days", "2", "--reason", "ill")


def test_no_wait_refuses_with_exit_1_naming_the_holder(fixture_course: Path) -> None:
    holder = start_holder(fixture_course)
    try:
        at = started(holder, fixture_course)
        result = paceline(*EXTEND, "--no-wait", cwd=fixture_course)
        _, stderr = result.communicate(timeout=60)
        assert result.returncode == 1
        assert f"the course is busy: paceline grade (pid {holder.pid}, started {at}) is writing it" in stderr
        assert "Traceback" not in stderr
    finally:
        holder.communicate("")
    with Ledger.open(load_course(fixture_course).layout.ledger_path) as ledger:
        assert ledger.extensions() == {}  # refused before doing anything


def test_a_second_writer_waits_saying_for_whom_then_runs(fixture_course: Path) -> None:
    holder = start_holder(fixture_course)
    try:
        at = started(holder, fixture_course)
        waiting = paceline(*EXTEND, cwd=fixture_course)
        line = waiting.stderr.readline()
        assert line == f"waiting for paceline grade (pid {holder.pid}, started {at})…\n"
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting while the holder holds
    finally:
        holder.communicate("")
    stdout, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "ada / 01-add: due" in stdout
    assert lock_holder(load_course(fixture_course).layout) is None


def test_a_killed_holders_lock_is_free_at_once(fixture_course: Path) -> None:
    holder = start_holder(fixture_course)
    layout = load_course(fixture_course).layout
    assert lock_holder(layout).command == "paceline grade"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock_holder(layout) is None  # its record is still in the file, but nobody holds the lock
    result = paceline(*EXTEND, "--no-wait", cwd=fixture_course)
    stdout, stderr = result.communicate(timeout=60)
    assert result.returncode == 0, stderr
    assert "waiting" not in stderr and "ada / 01-add: due" in stdout


def open_files(_task: object = None, _shared: object = None) -> list[str]:
    """What this process has open (also run as a grading worker's task)."""
    files = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            files.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return files


def test_forked_grading_workers_do_not_keep_the_course_lock(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    lock = str(course.layout.lock_path.resolve())
    with course_lock(course.layout, command="paceline grade", timezone=course.timezone, wait=False):
        assert lock in open_files()
        with fork_executor(workers=1) as executor:
            [(_, worker_files)] = list(executor.run(open_files, [0], shared={"": None}, shared_key=lambda _task: ""))
    # Had the coordinator died, a worker still grading would have held the course for as long as it ran.
    assert lock not in worker_files


def test_the_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    other: list[str] = []

    def second_thread() -> None:
        try:
            with course_lock(course.layout, command="paceline collect", timezone=course.timezone, wait=False):
                other.append("got it")
        except CourseBusy as exc:
            other.append(str(exc))

    with course_lock(course.layout, command="paceline watch", timezone=course.timezone, wait=False):
        with course_lock(course.layout, command="paceline grade", timezone=course.timezone, wait=False):
            pass  # the same thread again: no deadlock, no refusal
        thread = threading.Thread(target=second_thread)
        thread.start()
        thread.join(timeout=30)
    assert len(other) == 1 and other[0].startswith("the course is busy: paceline watch (pid ")
    with course_lock(course.layout, command="paceline collect", timezone=course.timezone, wait=False):
        pass  # free again once the outer block ended


def test_the_holder_is_described_in_the_course_time_zone() -> None:
    started = dt.datetime(2026, 11, 30, 9, 2, tzinfo=dt.timezone.utc)
    holder = LockHolder("paceline grade", 4242, "tina", os.uname().nodename, started)
    assert holder.describe(BERLIN, now=started + dt.timedelta(hours=1)) == "paceline grade (pid 4242, started 10:02)"
    assert holder.describe(BERLIN, now=started + dt.timedelta(days=1)) == "paceline grade (pid 4242, started 2026-11-30 10:02)"
    elsewhere = LockHolder("paceline watch", 7, "tina", "grader-2", started)
    assert elsewhere.describe(BERLIN, now=started) == "paceline watch (pid 7 on grader-2, started 10:02)"


@pytest.mark.parametrize("command", [["status"], ["status", "ada"]])
def test_read_only_commands_do_not_wait_for_the_lock(fixture_course: Path, command: list[str]) -> None:
    holder = start_holder(fixture_course)
    try:
        result = paceline(*command, "--as-of", "2026-09-20", cwd=fixture_course)
        _, stderr = result.communicate(timeout=120)
        assert result.returncode == 0, stderr
        assert "waiting" not in stderr
    finally:
        holder.communicate("")


@pytest.mark.e2e
def test_two_concurrent_grades_grade_each_attempt_once(fixture_course: Path) -> None:
    from graders.exchange.collect import collect_submissions
    from graders.exchange.release import release_lessons
    from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson

    course = load_course(fixture_course)
    release_lessons(course, lesson_ids=["01-add"])
    ws = StudentWorkspace("ada", fixture_course.parent / "homes" / "ada", course.id, course.exchange_root)
    ws.home.mkdir(parents=True)
    fetch_lesson(ws, "01-add")
    submit_lesson(ws, "01-add")
    assert len(collect_submissions(course).collected) == 1

    first = paceline("grade", "--workers", "1", cwd=fixture_course)
    deadline = time.monotonic() + 60
    while (holder := lock_holder(course.layout)) is None or holder.pid != first.pid:
        assert time.monotonic() < deadline and first.poll() is None, "the first grade never took the lock"
        time.sleep(0.05)
    second = paceline("grade", "--workers", "1", cwd=fixture_course)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert f"waiting for paceline grade (pid {first.pid}, started " in err2
    assert "Grading" in out1 and "01-add" in out1
    assert "Nothing new to grade." in out2
    with Ledger.open(course.layout.ledger_path) as ledger:
        [attempt] = ledger.attempts()
    assert attempt.status == "graded"
    assert holder.started_at <= attempt.graded_at  # graded by the first run, under its lock
