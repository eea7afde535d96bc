"""Mastery gating through the exchange: a gated lesson is invisible and unfetchable until unlocked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.errors import ExchangeError
from graders.exchange.collect import collect_submissions
from graders.exchange.release import release_due_lessons, release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, list_lessons, submit_lesson
from graders.grading.grade import grade_attempts
from graders.operations.status import student_status

pytestmark = pytest.mark.e2e
UTC = dt.timezone.utc


def gate(course_dir: Path) -> None:
    toml = course_dir / "course.toml"
    toml.write_text(toml.read_text().replace('title = "Counting words"', 'title = "Counting words"\nrequires = ["01-add"]')
                    + "\n[gating]\npass_fraction = 1.0\n")


def workspace(course, student_id: str) -> StudentWorkspace:
    home = course.root.parent / "homes" / student_id
    home.mkdir(parents=True)
    return StudentWorkspace(student_id, home, course.id, course.exchange_root)


def test_gated_lesson_unlocks_for_the_student_who_passes(fixture_course: Path) -> None:
    gate(fixture_course)
    course = load_course(fixture_course)
    report = release_lessons(course)
    assert [(r.lesson_id, r.gated) for r in report.released] == [("01-add", False), ("02-words", True)]
    assert not (course.exchange_root / course.id / "outbound" / "02-words").exists()

    ada, brook = workspace(course, "ada"), workspace(course, "brook")
    assert {a["assignment_id"] for a in list_lessons(ada)} == {"01-add"}
    with pytest.raises(ExchangeError):
        fetch_lesson(ada, "02-words")

    at = dt.datetime(2026, 9, 9, 10, tzinfo=UTC)
    for ws, source in ((ada, "def add(a, b):\n    return a + b\n"), (brook, "def add(a, b):\n    return int(a) + int(b)\n")):
        fetch_lesson(ws, "01-add")
        notebook = ws.lesson_dir("01-add") / "add.ipynb"
        nb = json.loads(notebook.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
                cell["source"] = source
        notebook.write_text(json.dumps(nb))
        submit_lesson(ws, "01-add", clock=SimulatedClock(at))
    collect_submissions(course, clock=SimulatedClock(at + dt.timedelta(minutes=1)))

    graded = grade_attempts(course, workers=2, clock=SimulatedClock(at + dt.timedelta(minutes=2)))
    assert graded.unlocked == [("ada", "02-words")]  # brook scored 1 of 3: still locked
    assert {a["assignment_id"] for a in list_lessons(ada)} == {"01-add", "02-words"}
    assert (fetch_lesson(ada, "02-words") / "words.ipynb").is_file()
    assert {a["assignment_id"] for a in list_lessons(brook)} == {"01-add"}
    with pytest.raises(ExchangeError):
        fetch_lesson(brook, "02-words")
    # The unlocked lesson can be submitted (its release is in her personal folder, not in outbound) and is
    # collected; brook, with a folder of that name made himself, cannot submit a lesson he has not unlocked.
    submit_lesson(ada, "02-words", clock=SimulatedClock(at + dt.timedelta(minutes=3)))
    (brook.lesson_dir("02-words")).mkdir()
    (brook.lesson_dir("02-words") / "words.ipynb").write_text((ada.lesson_dir("02-words") / "words.ipynb").read_text())
    with pytest.raises(ExchangeError, match="not found"):
        submit_lesson(brook, "02-words", clock=SimulatedClock(at + dt.timedelta(minutes=3)))
    collected = collect_submissions(course, clock=SimulatedClock(at + dt.timedelta(minutes=4)))
    assert [(a.student_id, a.lesson_id) for a in collected.collected] == [("ada", "02-words")]
    assert [(l.lesson_id, l.unlocked) for l in student_status(course, "brook").lessons] == [("01-add", True), ("02-words", False)]

    # --due is idempotent: nothing changed, nothing released again.
    again = release_due_lessons(course, clock=SimulatedClock(dt.datetime(2026, 9, 30, tzinfo=UTC)))
    assert again.released == [] and again.unchanged == ["01-add", "02-words"] and again.unlocked == []
