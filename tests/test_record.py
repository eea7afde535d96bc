"""Recording a graded attempt: what reaches the ledger and the attempt's feedback folder (no kernels).

A student's earlier attempt is recorded without nbgrader's gradebook (which holds only the latest, see
test_pipeline_e2e and test_nbgrader_equivalence for that half), so these run on a bare folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from conftest import bare_course_config

from graders.course.clock import SimulatedClock
from graders.course.plan import CourseConfig, LatePolicy
from graders.errors import SubmissionError
from graders.exchange.ledger import CellScore, Ledger
from graders.grading.record import GradedAttempt, record_attempt
from graders.grading.task import CellResult, GradingOutcome

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 9, 20, 12, tzinfo=UTC)


@pytest.fixture
def course(tmp_path: Path) -> CourseConfig:
    return bare_course_config(tmp_path)


@pytest.fixture
def ledger(course: CourseConfig):
    with Ledger.open(course.layout.ledger_path) as opened:
        yield opened


def collected(ledger: Ledger):
    return ledger.add_attempt(student_id="ada", lesson_id="01-a", attempt=1, exchange_name="ada+01-a+1",
                              received_at=NOW - dt.timedelta(days=1), claimed_at=None, content_hash="h",
                              size_bytes=1, file_count=1)


def outcome(attempt_id: int, *, error: str | None = None) -> GradingOutcome:
    return GradingOutcome(
        attempt_id=attempt_id, lesson_id="01-a", student_id="ada", attempt=1, autograded=(("n.ipynb", b"{}"),),
        feedback=(("n.html", b"<p>well done</p>"),), score=2.0, max_score=3.0, late_penalty=0.5,
        cells=(CellResult("n", "test_a", 2.0, 2.0, auto_score=2.0), CellResult("n", "test_b", 0.0, 1.0, auto_score=0.0)),
        log="", error=error,
    )


def test_an_earlier_attempt_is_kept_in_the_ledger_with_its_feedback(course: CourseConfig, ledger: Ledger) -> None:
    attempt = collected(ledger)
    feedback = course.layout.attempt_feedback(student_id="ada", lesson_id="01-a", attempt=1)
    feedback.mkdir(parents=True)
    (feedback / "stale.html").write_text("from an earlier grading")
    graded = record_attempt(course, ledger, attempt, outcome(attempt.id), is_latest=False, due_at=None,
                            clock=SimulatedClock(NOW))
    assert graded == GradedAttempt(attempt, 2.0, 3.0, 0.5)
    stored = ledger.get(attempt.id)
    assert (stored.status, stored.score, stored.max_score, stored.late_penalty, stored.graded_at) == ("graded", 2.0, 3.0, 0.5, NOW)
    assert ledger.cell_scores(attempt.id) == [CellScore("n", "test_a", 2.0, 2.0), CellScore("n", "test_b", 0.0, 1.0)]
    assert sorted(p.name for p in feedback.iterdir()) == ["n.html"]  # regraded feedback replaces the old pages
    assert not course.layout.gradebook_path.exists() and not course.layout.autograded_dir.exists()


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (RuntimeError("worker lost"), "ada / 01-a / attempt 1: grading task failed: RuntimeError('worker lost')"),
        ("error", "ada / 01-a / attempt 1: nbgrader autograde failed: NameError"),
    ],
)
def test_a_failed_task_records_nothing(course: CourseConfig, ledger: Ledger, result, message: str) -> None:
    attempt = collected(ledger)
    if result == "error":
        result = outcome(attempt.id, error="nbgrader autograde failed: NameError")
    with pytest.raises(SubmissionError) as info:
        record_attempt(course, ledger, attempt, result, is_latest=True, due_at=None, clock=SimulatedClock(NOW))
    assert str(info.value) == message
    assert ledger.get(attempt.id).status == "collected"  # the caller marks it failed, with this reason
    assert not course.layout.state_dir.joinpath("feedback").exists()


def lesson_in_gradebook(course: CourseConfig, *, due: dt.datetime) -> None:
    """A released lesson as nbgrader's gradebook holds it: notebook n, tests test_a (2 points) and test_b
    (1 point), and a written answer (2 points, marked by a teacher)."""
    from graders.engine.wiring import open_gradebook

    with open_gradebook(course) as gb:
        gb.update_or_create_assignment("01-a", duedate=due.replace(tzinfo=None))
        gb.add_notebook("n", "01-a")
        gb.add_grade_cell("test_a", "n", "01-a", max_score=2.0, cell_type="code")
        gb.add_grade_cell("test_b", "n", "01-a", max_score=1.0, cell_type="code")
        gb.add_grade_cell("essay", "n", "01-a", max_score=2.0, cell_type="markdown")
        gb.add_solution_cell("essay", "n", "01-a")


def latest_outcome(attempt_id: int, *, cells: tuple[CellResult, ...], score: float) -> GradingOutcome:
    from graders.grading.task import CommentResult

    return GradingOutcome(
        attempt_id=attempt_id, lesson_id="01-a", student_id="ada", attempt=1, autograded=(("n.ipynb", b"{}"),),
        feedback=(), score=score, max_score=5.0, late_penalty=0.0, cells=cells, log="",
        comments=(CommentResult("n", "essay", "No response."),),
    )


WORKER_CELLS = (CellResult("n", "test_a", 2.0, 2.0, auto_score=2.0), CellResult("n", "test_b", 0.0, 1.0, auto_score=0.0),
                CellResult("n", "essay", None, 2.0, auto_score=None))


def test_the_latest_attempt_goes_into_the_gradebook_as_the_worker_scored_it(course: CourseConfig, ledger: Ledger) -> None:
    from graders.engine.wiring import open_gradebook

    lesson_in_gradebook(course, due=NOW - dt.timedelta(days=3))
    attempt = collected(ledger)  # received a day late
    course = dataclasses.replace(course, late_policy=LatePolicy(method="per_day", per_day=0.5, cap=1.0))
    graded = record_attempt(course, ledger, attempt, latest_outcome(attempt.id, cells=WORKER_CELLS, score=2.0),
                            is_latest=True, due_at=NOW - dt.timedelta(days=2), clock=SimulatedClock(NOW))
    with open_gradebook(course) as gb:
        submission = gb.find_submission("01-a", "ada")
        grades = {g.name: (g.auto_score, g.needs_manual_grade) for g in submission.notebooks[0].grades}
        comments = {c.name: c.auto_comment for c in submission.notebooks[0].comments}
        assert grades == {"test_a": (2.0, False), "test_b": (0.0, False), "essay": (None, True)}
        assert comments == {"essay": "No response."}
        assert submission.late_submission_penalty == 1.0  # nbgrader's AssignLatePenalties: half the score, a day late
    assert (graded.score, graded.late_penalty) == (2.0, 1.0)
    assert course.layout.autograded(student_id="ada", lesson_id="01-a").joinpath("n.ipynb").read_bytes() == b"{}"

    # A teacher marks the essay; a regrade keeps the mark, flags the cell for review, and penalises the new total.
    with open_gradebook(course) as gb:
        gb.find_grade("essay", "n", "01-a", "ada").manual_score = 2.0
        gb.db.commit()
    graded = record_attempt(course, ledger, attempt, latest_outcome(attempt.id, cells=WORKER_CELLS, score=2.0),
                            is_latest=True, due_at=NOW - dt.timedelta(days=2), clock=SimulatedClock(NOW))
    with open_gradebook(course) as gb:
        essay = gb.find_grade("essay", "n", "01-a", "ada")
        assert (essay.manual_score, essay.needs_manual_grade) == (2.0, True)
    assert (graded.score, graded.late_penalty) == (4.0, 2.0)


@pytest.mark.parametrize(
    ("cells", "score", "message"),
    [
        (WORKER_CELLS[:2], 2.0, "the grader's result for n cell 'essay' does not match the gradebook's lesson"),
        ((WORKER_CELLS[0], CellResult("n", "test_b", 0.0, 4.0, auto_score=0.0), WORKER_CELLS[2]), 2.0,
         "the grader's result for n cell 'test_b' does not match the gradebook's lesson"),
        ((*WORKER_CELLS, CellResult("n", "test_c", 1.0, 1.0, auto_score=1.0)), 3.0,
         "the grader reported cells the gradebook's lesson does not have"),
        (WORKER_CELLS, 3.0, "recorded autograde score 2.0 differs from the grader's 3.0"),
    ],
)
def test_a_result_that_does_not_match_the_lesson_is_refused(course: CourseConfig, ledger: Ledger, cells, score, message) -> None:
    lesson_in_gradebook(course, due=NOW)
    attempt = collected(ledger)
    with pytest.raises(SubmissionError, match=re.escape(message)):
        record_attempt(course, ledger, attempt, latest_outcome(attempt.id, cells=cells, score=score),
                       is_latest=True, due_at=None, clock=SimulatedClock(NOW))
    assert ledger.get(attempt.id).status == "collected"


def test_one_open_gradebook_records_attempt_after_attempt_and_keeps_nothing_of_a_refused_one(
        course: CourseConfig, ledger: Ledger) -> None:
    from graders.engine.wiring import open_gradebook

    lesson_in_gradebook(course, due=NOW)
    attempt = collected(ledger)
    # The second cell has the wrong points: refused after the first cell's score was set in the session.
    wrong = (CellResult("n", "test_a", 1.0, 2.0, auto_score=1.0), CellResult("n", "test_b", 0.0, 4.0, auto_score=0.0),
             WORKER_CELLS[2])
    with open_gradebook(course) as gradebook:
        with pytest.raises(SubmissionError, match="cell 'test_b' does not match"):
            record_attempt(course, ledger, attempt, latest_outcome(attempt.id, cells=wrong, score=1.0),
                           is_latest=True, due_at=None, clock=SimulatedClock(NOW), gradebook=gradebook)
        with open_gradebook(course) as other:  # nothing of it reached the file
            assert {g.name: g.auto_score for g in other.find_submission("01-a", "ada").notebooks[0].grades} == {
                "test_a": None, "test_b": None, "essay": None}
        # A teacher marks the essay meanwhile, through nbgrader's own gradebook (formgrader's).
        with open_gradebook(course) as teacher:
            teacher.find_grade("essay", "n", "01-a", "ada").manual_score = 1.5
            teacher.db.commit()
        graded = record_attempt(course, ledger, attempt, latest_outcome(attempt.id, cells=WORKER_CELLS, score=2.0),
                                is_latest=True, due_at=None, clock=SimulatedClock(NOW), gradebook=gradebook)
    assert (graded.score, graded.late_penalty) == (3.5, 0.0)  # the mark made between two records is counted
    with open_gradebook(course) as gb:
        grades = {g.name: (g.auto_score, g.manual_score) for g in gb.find_submission("01-a", "ada").notebooks[0].grades}
    assert grades == {"test_a": (2.0, None), "test_b": (0.0, None), "essay": (None, 1.5)}
