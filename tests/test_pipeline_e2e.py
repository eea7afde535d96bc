"""End to end on the fixture course: release, students fetch and submit through
nbgrader's exchange, collect every attempt, autograde with real kernels,
release feedback, export the tables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from nbgrader.api import Gradebook

from analytics.tables import ENROLLMENTS_COLUMNS, LESSONS_COLUMNS, SUBMISSIONS_COLUMNS, load_tables
from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, list_lessons, submit_lesson
import graders.feedback.basis
from graders.feedback.release import release_feedback
from graders.grading.grade import grade_attempts
from graders.grading.record import lesson_gradebook
from graders.operations.export import export_tables

pytestmark = pytest.mark.e2e
UTC = dt.timezone.utc


def answer(notebook: Path, grade_id: str, source: str) -> None:
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    notebook.write_text(json.dumps(nb))


def workspace(course, student_id: str) -> StudentWorkspace:
    home = course.root.parent / "homes" / student_id
    home.mkdir(parents=True)
    return StudentWorkspace(student_id, home, course.id, course.exchange_root)


def test_release_submit_collect_grade_feedback_export(fixture_course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    course = load_course(fixture_course)
    released = release_lessons(course)
    assert released.problems == []
    assert [(r.lesson_id, r.max_score, r.gated) for r in released.released] == [("01-add", 3.0, False), ("02-words", 3.0, False)]
    released_nb = (course.layout.release_dir / "01-add" / "add.ipynb").read_text()
    assert "raise NotImplementedError" in released_nb and "2.5, 2.5" not in released_nb  # hidden test removed

    clock = SimulatedClock(dt.datetime(2026, 9, 8, 10, tzinfo=UTC))
    ada, brook, cyd = (workspace(course, s) for s in ("ada", "brook", "cyd"))
    assert {a["assignment_id"] for a in list_lessons(ada)} == {"01-add", "02-words"}

    # ada: a blank first attempt at night, collected within minutes, then a correct one.
    fetch_lesson(ada, "01-add")
    clock.advance_to(dt.datetime(2026, 9, 9, 1, 30, tzinfo=UTC))
    submit_lesson(ada, "01-add", clock=clock)
    clock.advance_to(dt.datetime(2026, 9, 9, 1, 31, tzinfo=UTC))
    early = collect_submissions(course, clock=clock)
    assert [(a.attempt, a.submitted_at, a.claimed_at) for a in early.collected] == [
        (1, clock.now(), dt.datetime(2026, 9, 9, 1, 30, tzinfo=UTC)),
    ]
    answer(ada.lesson_dir("01-add") / "add.ipynb", "add", "def add(a, b):\n    return a + b\n")
    clock.advance_to(dt.datetime(2026, 9, 9, 2, 10, tzinfo=UTC))
    submit_lesson(ada, "01-add", clock=clock)
    # brook: only right for integers; the hidden test catches it.
    fetch_lesson(brook, "01-add")
    answer(brook.lesson_dir("01-add") / "add.ipynb", "add", "def add(a, b):\n    return int(a) + int(b)\n")
    submit_lesson(brook, "01-add", clock=clock)
    clock.advance_to(dt.datetime(2026, 9, 9, 2, 12, tzinfo=UTC))
    assert len(collect_submissions(course, clock=clock).collected) == 2
    # cyd: correct but two days after the due date (2026-09-20 23:59:59 Berlin), and
    # claiming, with a forged timestamp, to have submitted on time: the claim changes nothing.
    fetch_lesson(cyd, "01-add")
    answer(cyd.lesson_dir("01-add") / "add.ipynb", "add", "def add(a, b):\n    return a + b\n")
    submit_lesson(cyd, "01-add", clock=SimulatedClock(dt.datetime(2026, 9, 12, tzinfo=UTC)))
    clock.advance_to(dt.datetime(2026, 9, 22, 12, tzinfo=UTC))
    # brook again, on lesson 2: a notebook broken beyond JSON.
    fetch_lesson(brook, "02-words")
    (brook.lesson_dir("02-words") / "words.ipynb").write_text('{"cells": [ this is not json')
    submit_lesson(brook, "02-words", clock=clock)

    report = collect_submissions(course, clock=clock)
    assert report.problems == []
    assert [(a.student_id, a.lesson_id, a.attempt) for a in report.collected] == [
        ("cyd", "01-add", 1), ("brook", "02-words", 1),
    ]
    assert report.collected[0].claimed_at == dt.datetime(2026, 9, 12, tzinfo=UTC)
    assert all(a.received_at == clock.now() for a in report.collected)
    again = collect_submissions(course, clock=clock)
    assert again.collected == [] and again.already_collected == 5
    first = course.layout.attempt_dir(student_id="ada", lesson_id="01-add", attempt=1)
    assert (first / "add.ipynb").is_file() and "NotImplementedError" in (first / "add.ipynb").read_text()

    graded = grade_attempts(course, workers=2, clock=clock)
    scores = {(g.attempt.student_id, g.attempt.lesson_id, g.attempt.attempt): (g.score, g.late_penalty) for g in graded.graded}
    assert scores == {
        ("ada", "01-add", 1): (0.0, 0.0),
        ("ada", "01-add", 2): (3.0, 0.0),
        ("brook", "01-add", 1): (1.0, 0.0),  # visible test passes; the hidden float test fails
        ("cyd", "01-add", 1): (3.0, 1.5),  # 2 started days late at 25% a day = 50% = the cap
    }
    [problem] = graded.problems
    assert str(problem).startswith("brook / 02-words / attempt 1: words.ipynb is not valid notebook JSON")
    assert "line 1, column 13" in str(problem)
    assert grade_attempts(course, clock=clock).graded == []  # nothing new: nothing regraded

    # What workers grade against: the lesson as released, and no student's work.
    template = fixture_course.parent / "template.db"
    template.write_bytes(lesson_gradebook(course, "01-add"))
    with Gradebook(f"sqlite:///{template}", course_id=course.id) as gb:
        assert gb.students == [] and [a.name for a in gb.assignments] == ["01-add"]
        notebook = gb.find_notebook("add", "01-add")
        assert {cell.name for cell in notebook.grade_cells} == {"test_add_visible", "test_add_hidden"}
        assert {cell.name for cell in notebook.solution_cells} == {"add"}

    with Ledger.open(course.layout.ledger_path) as ledger:
        statuses = {(a.student_id, a.lesson_id, a.attempt): a.status for a in ledger.attempts()}
        cells = {c.grade_id: c.score for c in ledger.cell_scores(ledger.attempts(student_ids=["brook"], lesson_ids=["01-add"])[0].id)}
    assert statuses[("brook", "02-words", 1)] == "failed"
    assert cells == {"test_add_visible": 1.0, "test_add_hidden": 0.0}

    fb = release_feedback(course)
    assert fb.problems == [] and fb.released == {"01-add": 4}  # every graded attempt, not only the latest
    # The workers' pages show what the gradebook holds (cyd's late penalty included): none rendered again.
    assert (fb.rendered, fb.up_to_date) == ({}, 3)
    again = release_feedback(course)
    assert (again.released, again.rendered, again.up_to_date) == ({}, {}, 3)  # nothing changed: nothing rendered or released
    # A teacher regrades brook's hidden test in formgrader: that one page is rendered again, and released.
    kept = course.layout.attempt_feedback(student_id="brook", lesson_id="01-add", attempt=1) / "add.html"
    assert "(Score: 1.0 / 3.0)" in kept.read_text()
    with Gradebook(course.layout.gradebook_url, course_id=course.id) as gb:
        gb.find_grade("test_add_hidden", "add", "01-add", "brook").manual_score = 2.0
        gb.db.commit()
    regraded = release_feedback(course)
    assert (regraded.rendered, regraded.up_to_date, regraded.released) == ({"01-add": 1}, 2, {"01-add": 1})
    assert "(Score: 3.0 / 3.0)" in kept.read_text()
    with Ledger.open(course.layout.ledger_path) as ledger:  # the score brook's progress document shows next
        assert ledger.attempts(student_ids=["brook"], lesson_ids=["01-add"])[0].score == 3.0
    assert release_feedback(course).rendered == {}
    pages = fetch_feedback(ada, "01-add")
    assert len(pages) == 2  # one page per attempt, in a folder named for the attempt's timestamp
    first_page, second_page = (page.read_text() for page in pages)
    assert "add(1, 2)" in second_page  # the visible test is shown
    assert "2.5, 2.5" not in first_page + second_page  # the hidden test never is
    assert "including the hidden ones" in second_page and "did not all pass" in first_page
    brook_page = fetch_feedback(brook, "01-add")[0].read_text()
    assert "add(2.5, 2.5)" not in brook_page
    assert "including the hidden ones" in brook_page  # the teacher's mark passes the cell

    result = export_tables(course)
    tables = load_tables(result.directory)
    assert list(tables.lessons.columns) == [c.name for c in LESSONS_COLUMNS]
    assert list(tables.enrollments.columns) == [c.name for c in ENROLLMENTS_COLUMNS]
    assert list(tables.submissions.columns) == [c.name for c in SUBMISSIONS_COLUMNS]
    subs = tables.submissions.set_index(["student_id", "lesson_id", "attempt"])
    assert subs.loc[("ada", "01-add", 1), "submitted_at"] == pd.Timestamp("2026-09-09 01:31", tz="UTC")
    assert subs.loc[("cyd", "01-add", 1), "late_penalty"] == 1.5
    assert subs.loc[("brook", "02-words", 1), "status"] == "failed"
    assert pd.isna(subs.loc[("brook", "02-words", 1), "score"])
    grades = pd.read_csv(result.directory / "grades.csv").set_index(["student_id", "lesson_id"])
    assert grades.loc[("ada", "01-add"), ["attempts", "final_score"]].tolist() == [2, 3.0]
    assert grades.loc[("cyd", "01-add"), "final_score"] == 1.5
    assert grades.loc[("cyd", "02-words"), "attempts"] == 0
    canvas = pd.read_csv(result.directory / "grades_canvas.csv", keep_default_na=False)
    assert list(canvas.columns) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                                    "Adding numbers (01-add)", "Counting words (02-words)"]
    assert canvas.iloc[0]["Student"] == "Points Possible" and canvas.iloc[0]["Adding numbers (01-add)"] == 3.0
    cyd = canvas.set_index("SIS User ID").loc["cyd"]
    assert (cyd["Student"], cyd["SIS Login ID"], cyd["Adding numbers (01-add)"]) == ("Cyd Charisse", "cyd@example.org", 1.5)

    # An upgrade changes how pages are drawn (the template, the allow-list, the redaction): every kept page
    # is drawn again by the next `paceline feedback`, though the gradebook holds the same facts.
    monkeypatch.setattr(graders.feedback.basis, "renderer", lambda: "an upgraded renderer")
    upgraded = release_feedback(course)
    assert (upgraded.problems, upgraded.rendered, upgraded.up_to_date) == ([], {"01-add": 3}, 0)
    assert release_feedback(course).rendered == {}  # and once only
