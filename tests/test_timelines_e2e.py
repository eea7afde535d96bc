"""Grading honours personal due dates: grace days, and extensions granted before or after submitting."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.engine.wiring import open_gradebook
from graders.errors import PacelineError
from graders.exchange.collect import collect_submissions
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson
from graders.grading.grade import grade_attempts
from graders.grading.lateness import grant_extension
from graders.operations.status import student_status

pytestmark = pytest.mark.e2e
UTC = dt.timezone.utc
CORRECT = {"01-add": ("add", "def add(a, b):\n    return a + b\n"),
           "02-words": ("count_words", "def count_words(text):\n    return len(text.split())\n")}


def submit_correct(course, student_id: str, lesson_id: str, *, at: dt.datetime) -> None:
    home = course.root.parent / "homes" / student_id
    home.mkdir(parents=True, exist_ok=True)
    ws = StudentWorkspace(student_id, home, course.id, course.exchange_root)
    if not ws.lesson_dir(lesson_id).exists():
        fetch_lesson(ws, lesson_id)
    [notebook] = ws.lesson_dir(lesson_id).glob("*.ipynb")
    nb = json.loads(notebook.read_text())
    grade_id, source = CORRECT[lesson_id]
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    notebook.write_text(json.dumps(nb))
    clock = SimulatedClock(at)
    submit_lesson(ws, lesson_id, clock=clock)
    clock.advance_to(at + dt.timedelta(minutes=2))
    collect_submissions(course, clock=clock)


def test_grace_days_and_extensions_change_the_penalty(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text() + "\n[grace]\ndays = 1\n")
    course = load_course(fixture_course)
    release_lessons(course)
    first, second = course.lessons

    # brook asked in advance: an extension before any submission exists.
    extension = grant_extension(course, student_id="brook", lesson_id=second.id, days=4, reason="travelling")
    assert extension.due_at == second.due_at + dt.timedelta(days=4)
    with pytest.raises(PacelineError, match="unknown student 'nobody'"):
        grant_extension(course, student_id="nobody", lesson_id=first.id, days=1, reason="x")
    with pytest.raises(PacelineError, match="unknown lesson"):
        grant_extension(course, student_id="ada", lesson_id="99-nope", days=1, reason="x")

    # cyd: two started days late; the one grace day covers the first, 25% for the second.
    submit_correct(course, "cyd", first.id, at=first.due_at + dt.timedelta(days=1, hours=3))
    submit_correct(course, "brook", second.id, at=second.due_at + dt.timedelta(days=3))  # inside the extension
    submit_correct(course, "ada", second.id, at=second.due_at + dt.timedelta(hours=5))  # grace covers it fully

    report = grade_attempts(course, workers=2)
    assert report.problems == []
    penalties = {(g.attempt.student_id, g.attempt.lesson_id): g.late_penalty for g in report.graded}
    assert penalties == {("cyd", first.id): 0.75, ("brook", second.id): 0.0, ("ada", second.id): 0.0}
    assert student_status(course, "cyd").grace_spent == 1
    assert student_status(course, "ada").grace_spent == 1

    # An extension granted after grading re-applies the penalty, in the gradebook too.
    grant_extension(course, student_id="cyd", lesson_id=first.id, days=3, reason="doctor's note")
    cyd = student_status(course, "cyd")
    [attempt] = cyd.lessons[0].attempts
    assert attempt.late_penalty == 0.0 and cyd.grace_spent == 0
    with open_gradebook(course) as gb:
        submission = gb.find_submission(first.id, "cyd")
        assert submission.late_submission_penalty in (None, 0) and submission.extension == dt.timedelta(days=3)
