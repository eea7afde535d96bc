"""Recording graded attempts: the coordinator's side of grading, and the only code that writes nbgrader's gradebook.

Workers get a copy of the gradebook that holds the lesson's definition and no
student data (:func:`lesson_gradebook`). When a graded result comes back,
:func:`record_attempt` keeps its score in the ledger and its feedback pages
with the attempt; for a student's latest attempt, :func:`record_outcome`
writes it into the course's gradebook with nbgrader's own ``AssignLatePenalties``
and the ``SaveAutoGrades`` that grading uses
(:class:`graders.engine.scoring.StrictSaveAutoGrades`, reading the execute
replies recorded in the graded notebooks), and puts the graded notebooks where
formgrader looks for them, so the gradebook ends up exactly as
``nbgrader autograde`` with the course's configuration would have left it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import AssignLatePenalties

from ..course.clock import Clock
from ..course.layout import ScratchCourse
from ..course.plan import CourseConfig
from ..engine.stages import Stages
from ..engine.scoring import REPLIES, StrictSaveAutoGrades, recorded_replies
from ..engine.wiring import naive_utc, nbgrader_config, open_gradebook
from ..errors import SubmissionError
from ..exchange.ledger import Attempt, CellScore, Ledger
from .lateness import set_due
from .task import GradingOutcome, write_files


@dataclass(frozen=True)
class GradedAttempt:
    attempt: Attempt
    score: float
    max_score: float
    late_penalty: float
    stages: Stages = ()  # seconds per stage on the worker, and the coordinator's record step


# nbgrader's tables of students and their work, the ones that refer to others first.
STUDENT_TABLES = ("comment", "grade", "submitted_notebook", "submitted_assignment", "student")


def lesson_gradebook(course: CourseConfig, lesson_id: str) -> bytes:
    """A gradebook with the lesson's cells (and their checksums) but no students.

    It is copied from the course's gradebook, not regenerated, so workers
    restore test cells exactly as released even if the source changed since.
    """
    with tempfile.TemporaryDirectory(prefix="paceline-template-") as scratch:
        scratch_course = ScratchCourse(Path(scratch))
        copy = scratch_course.gradebook_path
        # sqlite's backup API gives a consistent snapshot even while the gradebook is in use.
        with sqlite3.connect(course.layout.gradebook_path) as live, sqlite3.connect(copy) as snapshot:
            live.backup(snapshot)
        with sqlite3.connect(copy) as db:
            # Every student's work goes, in bulk: nbgrader's remove_student loads and deletes one
            # student's submissions at a time, seconds per lesson for a class of a few dozen.
            for table in STUDENT_TABLES:
                db.execute(f"DELETE FROM {table}")
        open_gradebook(course).close()  # makes sure alembic is reachable before Gradebook() below
        with Gradebook(scratch_course.gradebook_url, course_id=course.id) as gb:
            for assignment in list(gb.assignments):
                if assignment.name != lesson_id:
                    gb.remove_assignment(assignment.name)
            try:
                gb.find_assignment(lesson_id)
            except MissingEntry:
                raise SubmissionError("*", lesson_id, None, "lesson is not in the gradebook: run `paceline release` first") from None
        with sqlite3.connect(copy) as db:
            db.execute("VACUUM")
        return copy.read_bytes()


def record_attempt(
    course: CourseConfig, ledger: Ledger, attempt: Attempt, result: GradingOutcome | BaseException,
    *, is_latest: bool, due_at: dt.datetime | None, clock: Clock,
) -> GradedAttempt:
    """Keep one task's result: its score in the ledger, its feedback pages with the attempt, and, for the
    student's latest attempt, nbgrader's gradebook and ``autograded/``. Raises SubmissionError for a
    task that failed or that nbgrader could not grade (nothing is recorded then)."""
    if isinstance(result, BaseException):
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"grading task failed: {result!r}")
    if result.error:
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, result.error)
    score, penalty = result.score, result.late_penalty
    if is_latest:
        # Only the latest attempt goes into nbgrader's gradebook, whatever order tasks finish in.
        score, penalty = record_outcome(course, result, submitted_at=attempt.submitted_at, due_at=due_at)
    feedback = course.layout.attempt_feedback(student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                                              attempt=attempt.attempt)
    if feedback.exists():
        shutil.rmtree(feedback)
    write_files(feedback, result.feedback)
    cells = [CellScore(c.notebook, c.grade_id, c.score, c.max_score) for c in result.cells]
    ledger.record_grade(attempt.id, score=score, max_score=result.max_score, late_penalty=penalty,
                        graded_at=clock.now(), cells=cells)
    return GradedAttempt(attempt, score, result.max_score, penalty, stages=result.stages)


def record_outcome(
    course: CourseConfig, outcome: GradingOutcome, *, submitted_at: dt.datetime, due_at: dt.datetime | None,
) -> tuple[float, float]:
    """Write a graded attempt into the gradebook and ``autograded/``; returns (score, late penalty).

    The result is recomputed from the graded notebooks by nbgrader's
    preprocessors and must equal what the worker's nbgrader reported.
    """
    student, lesson = outcome.student_id, outcome.lesson_id
    dest = course.layout.autograded(student_id=student, lesson_id=lesson)
    if dest.exists():
        shutil.rmtree(dest)
    write_files(dest, outcome.autograded)

    config = nbgrader_config(course)
    db_url = course.layout.gradebook_url
    graded_notebooks = {Path(name).stem: content for name, content in outcome.autograded if name.endswith(".ipynb") and "/" not in name}
    with open_gradebook(course) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(lesson, student, timestamp=naive_utc(submitted_at))
        set_due(submission, due_at)
        # As nbgrader's autograde does: a notebook that was not submitted scores zero.
        for notebook in gb.find_assignment(lesson).notebooks:
            if notebook.name not in graded_notebooks:
                for grade in gb.find_submission_notebook(notebook.name, lesson, student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()
        known = {notebook.name for notebook in gb.find_assignment(lesson).notebooks}

    with warnings.catch_warnings():
        # As on the grading workers: nbgrader's harmless "not in session" warning on a submission
        # that lacks cells (deleted tests, blank work) would flood paceline grade's output.
        warnings.filterwarnings("ignore", module=r"nbgrader\.api")
        for name, content in sorted(graded_notebooks.items()):
            if name not in known:
                continue  # nbgrader skips notebooks the lesson does not have
            nb = nbformat.reads(content.decode("utf-8"), as_version=4)
            resources = {"nbgrader": {"db_url": db_url, "assignment": lesson, "notebook": name, "student": student},
                         REPLIES: recorded_replies(nb)}
            StrictSaveAutoGrades(config=config).preprocess(nb, resources)
            AssignLatePenalties(config=config).preprocess(nb, resources)

    with open_gradebook(course) as gb:
        submission = gb.find_submission(lesson, student)
        # score includes manual grades a grader gave an earlier attempt (nbgrader
        # keeps them and flags the cell for review); the autograded part must match.
        auto = sum(float(grade.auto_score or 0.0) for notebook in submission.notebooks for grade in notebook.grades)
        score, penalty = float(submission.score or 0.0), float(submission.late_submission_penalty or 0.0)
    if abs(auto - outcome.score) > 1e-9:
        raise SubmissionError(student, lesson, outcome.attempt,
                              f"recorded autograde score {auto} differs from the grader's {outcome.score}")
    return score, penalty
