"""paceline watch: feedback on arrival, through a bad submission and a restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graders.course.plan import load_course
from graders.errors import ExchangeError
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, submit_lesson

pytestmark = pytest.mark.e2e
PACELINE = str(Path(sys.executable).parent / "paceline")


def start_watch(course_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([PACELINE, "watch", "--interval", "1", "--workers", "1"], cwd=course_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop_watch(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def wait_for(condition, *, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def feedback_pages(ws: StudentWorkspace) -> list[Path]:
    """What the student's Fetch Feedback finds (nothing, before any feedback was released)."""
    try:
        return fetch_feedback(ws, "01-add")
    except ExchangeError:
        return []


def answer(ws: StudentWorkspace, source: str) -> None:
    notebook = ws.lesson_dir("01-add") / "add.ipynb"
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
            cell["source"] = source
    notebook.write_text(json.dumps(nb))


def test_watch_delivers_feedback_survives_bad_work_and_restarts(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    release_lessons(course)
    homes = fixture_course.parent / "homes"
    ada, brook = (StudentWorkspace(s, homes / s, course.id, course.exchange_root) for s in ("ada", "brook"))
    for ws in (ada, brook):
        ws.home.mkdir(parents=True)
        fetch_lesson(ws, "01-add")

    watch = start_watch(fixture_course)
    try:
        answer(ada, "def add(a, b):\n    return a + b\n")
        submit_lesson(ada, "01-add")
        [page] = wait_for(lambda: feedback_pages(ada), what="ada's feedback")
        assert "including the hidden ones" in page.read_text()

        (brook.lesson_dir("01-add") / "add.ipynb").write_text("{ not a notebook")
        submit_lesson(brook, "01-add")
        wait_for(lambda: [a for a in attempts(course) if a.student_id == "brook" and a.status == "failed"], what="brook's failure")
        answer(ada, "def add(a, b):\n    return a - b\n")
        submit_lesson(ada, "01-add")
        wait_for(lambda: len(feedback_pages(ada)) == 2, what="ada's second feedback")
    finally:
        output = stop_watch(watch)
    assert "Stopped." in output and "problem:" in output  # brook's broken notebook was reported, not fatal

    restarted = start_watch(fixture_course)
    try:
        brook.lesson_dir("01-add").joinpath("add.ipynb").write_text(
            (course.layout.release_dir / "01-add" / "add.ipynb").read_text())
        answer(brook, "def add(a, b):\n    return a + b\n")
        submit_lesson(brook, "01-add")
        wait_for(lambda: [a for a in attempts(course) if a.student_id == "brook" and a.status == "graded"], what="brook's regrade")
    finally:
        stop_watch(restarted)
    statuses = sorted((a.student_id, a.attempt, a.status) for a in attempts(course))
    assert statuses == [("ada", 1, "graded"), ("ada", 2, "graded"), ("brook", 1, "failed"), ("brook", 2, "graded")]


def attempts(course):
    with Ledger.open(course.layout.ledger_path) as ledger:
        return ledger.attempts()
