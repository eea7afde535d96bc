"""Reading nbgrader's gradebook as SQLite (no kernels): the same scores nbgrader's ORM computes, a digest of
what a feedback page shows, and the ledger brought in line with a teacher's marks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import bare_course_config

from graders.course.plan import CourseConfig
from graders.engine.gradebook_reader import read_submissions
from graders.engine.wiring import open_gradebook, recorded_score
from graders.exchange.ledger import CellScore, Ledger
from graders.grading.gradebook_scores import sync_gradebook_scores

UTC = dt.timezone.utc
# nbgrader's add_submission trips SQLAlchemy's harmless "not in session" warning, as in grading.
pytestmark = pytest.mark.filterwarnings("ignore:Object of type:Warning")
NOW = dt.datetime(2026, 9, 20, 12, tzinfo=UTC)


@pytest.fixture
def course(tmp_path: Path) -> CourseConfig:
    return bare_course_config(tmp_path)


def every_kind_of_cell(course: CourseConfig) -> None:
    """Lessons 01-a (notebooks n and m) and 02-b in the gradebook, every kind of graded cell nbgrader has,
    and ada's and bob's submissions as autograding leaves them."""
    with open_gradebook(course) as gb:
        for lesson in ("01-a", "02-b"):
            gb.update_or_create_assignment(lesson, duedate=NOW.replace(tzinfo=None))
            gb.add_notebook("n", lesson)
            gb.add_grade_cell("test_a", "n", lesson, max_score=2.0, cell_type="code")  # an autograder test
            gb.add_grade_cell("essay", "n", lesson, max_score=3.0, cell_type="markdown")  # a written answer
            gb.add_solution_cell("essay", "n", lesson)
            gb.add_grade_cell("code", "n", lesson, max_score=1.5, cell_type="code")  # graded code, marked by hand
            gb.add_solution_cell("code", "n", lesson)
            gb.add_solution_cell("helper", "n", lesson)  # a solution cell without points: a comment, no grade
            gb.add_task_cell("task", "n", lesson, max_score=4.0, cell_type="markdown")
            gb.add_notebook("m", lesson)
            gb.add_grade_cell("test_m", "m", lesson, max_score=1.0, cell_type="code")
        for student in ("ada", "bob"):
            gb.add_student(student)
            for lesson in ("01-a", "02-b"):
                gb.add_submission(lesson, student)
                for notebook, cell, auto in (("n", "test_a", 2.0), ("n", "essay", None), ("n", "code", 1.5),
                                             ("n", "task", None), ("m", "test_m", 1.0)):
                    grade = gb.find_grade(cell, notebook, lesson, student)
                    grade.auto_score, grade.needs_manual_grade = auto, auto is None
        # The student deleted test_m: nbgrader cannot score it and waits for a teacher, who is not meant to mark it.
        grade = gb.find_grade("test_m", "m", "01-a", "bob")
        grade.auto_score, grade.needs_manual_grade = None, True
        gb.db.commit()


def orm_view(course: CourseConfig) -> dict:
    with open_gradebook(course) as gb:
        return {
            (s.student.id, s.assignment.name): (
                float(s.score or 0.0), float(s.late_submission_penalty or 0.0),
                sorted((nb.name, g.name, recorded_score(g), float(g.max_score)) for nb in s.notebooks for g in nb.grades))
            for a in gb.assignments for s in a.submissions
        }


def sql_view(course: CourseConfig, **filters) -> dict:
    return {key: (s.score, s.late_penalty, sorted((c.notebook, c.grade_id, c.score, c.max_score) for c in s.cells))
            for key, s in read_submissions(course.layout.gradebook_path, **filters).items()}


def mark(course: CourseConfig, *, student: str, lesson: str, cell: str, notebook: str = "n",
         manual: float | None = None, extra: float | None = None) -> None:
    with open_gradebook(course) as gb:
        grade = gb.find_grade(cell, notebook, lesson, student)
        grade.manual_score, grade.extra_credit = manual, extra
        gb.db.commit()


def test_scores_and_cells_are_nbgraders_own_at_every_step_of_marking(course: CourseConfig) -> None:
    assert read_submissions(course.layout.gradebook_path) == {}  # nothing released yet: no gradebook
    every_kind_of_cell(course)
    assert sql_view(course) == orm_view(course)
    waiting = sql_view(course)[("ada", "01-a")][2]
    assert [cell[1] for cell in waiting if cell[2] is None] == ["essay", "task"]  # markdown answers wait for marks
    assert ("m", "test_m", 0.0, 1.0) in sql_view(course)[("bob", "01-a")][2]  # a deleted test scores 0: no one marks it

    mark(course, student="ada", lesson="01-a", cell="essay", manual=2.5, extra=0.5)
    mark(course, student="ada", lesson="01-a", cell="task", manual=0.0)
    mark(course, student="ada", lesson="01-a", cell="test_a", manual=1.0)  # a teacher overrides a test's score
    mark(course, student="bob", lesson="02-b", cell="code", extra=1.0)  # extra credit on top of the auto score
    with open_gradebook(course) as gb:
        for notebook in gb.find_submission("01-a", "ada").notebooks:
            notebook.late_submission_penalty = {"n": 1.25, "m": 0.5}[notebook.name]
        gb.db.commit()
    assert sql_view(course) == orm_view(course)
    assert sql_view(course)[("ada", "01-a")][:2] == (1.0 + 3.0 + 1.5 + 0.0 + 1.0, 1.75)
    assert sql_view(course, student_ids=["bob"], lesson_ids=["02-b"]) == {("bob", "02-b"): orm_view(course)[("bob", "02-b")]}
    assert sql_view(course, student_ids=[]) == {}


def test_the_feedback_basis_changes_with_what_the_page_shows_and_only_then(course: CourseConfig) -> None:
    every_kind_of_cell(course)

    def bases() -> dict:
        return {key: s.basis for key, s in read_submissions(course.layout.gradebook_path).items()}

    before = bases()
    assert len(before) == 4
    with open_gradebook(course) as gb:
        gb.find_submission("01-a", "ada").timestamp = NOW.replace(tzinfo=None)  # not on the page
        gb.db.commit()
    assert bases() == before
    changes = [
        lambda gb: setattr(gb.find_grade("essay", "n", "01-a", "ada"), "manual_score", 3.0),
        lambda gb: setattr(gb.find_grade("test_a", "n", "01-a", "ada"), "extra_credit", 1.0),
        lambda gb: setattr(gb.find_comment("essay", "n", "01-a", "ada"), "manual_comment", "Well argued."),
        lambda gb: setattr(gb.find_comment("helper", "n", "01-a", "ada"), "auto_comment", "No response."),
        lambda gb: setattr(gb.find_submission_notebook("m", "01-a", "ada"), "late_submission_penalty", 0.5),
    ]
    for change in changes:
        with open_gradebook(course) as gb:
            change(gb)
            gb.db.commit()
        after = bases()
        assert after[("ada", "01-a")] != before[("ada", "01-a")]
        assert {k: v for k, v in after.items() if k != ("ada", "01-a")} == {k: v for k, v in before.items() if k != ("ada", "01-a")}
        before = after


def test_the_ledger_takes_a_teachers_marks_for_the_latest_attempt_and_writes_nothing_unchanged(course: CourseConfig) -> None:
    every_kind_of_cell(course)
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = {}
        for number in (1, 2):
            attempt = ledger.add_attempt(student_id="ada", lesson_id="01-a", attempt=number, exchange_name=f"ada+{number}",
                                         received_at=NOW, claimed_at=None, content_hash="h", size_bytes=1, file_count=1)
            ledger.record_grade(attempt.id, score=4.5, max_score=11.5, late_penalty=0.0, graded_at=NOW, cells=[
                CellScore("n", "test_a", 2.0, 2.0), CellScore("n", "essay", None, 3.0), CellScore("n", "code", 1.5, 1.5),
                CellScore("n", "task", None, 4.0), CellScore("m", "test_m", 1.0, 1.0)])
            attempts[number] = attempt
        assert sync_gradebook_scores(course, ledger) == []  # autograded as the gradebook says: nothing to write
        assert ledger.awaiting_manual_grading() == {attempts[1].id, attempts[2].id}

        mark(course, student="ada", lesson="01-a", cell="essay", manual=2.0)
        mark(course, student="ada", lesson="01-a", cell="task", manual=4.0)
        assert sync_gradebook_scores(course, ledger, student_ids=["bob"]) == []
        assert [a.id for a in sync_gradebook_scores(course, ledger, student_ids=["ada"])] == [attempts[2].id]
        latest = ledger.get(attempts[2].id)
        assert (latest.score, latest.late_penalty) == (10.5, 0.0)
        assert ledger.awaiting_manual_grading() == {attempts[1].id}  # the earlier attempt is not nbgrader's any more
        assert CellScore("n", "essay", 2.0, 3.0) in ledger.cell_scores(latest.id)
        assert ledger.get(attempts[1].id).score == 4.5
        assert sync_gradebook_scores(course, ledger) == []
