"""Recording graded attempts: the coordinator's side of grading, and the only code that writes nbgrader's gradebook.

Workers get a copy of the gradebook that holds the lesson's definition and no
student data (:func:`lesson_gradebook`). When a graded result comes back,
:func:`record_attempt` keeps its score in the ledger and its feedback pages
with the attempt; for a student's latest attempt, :func:`record_outcome`
copies the scores and comments the worker's nbgrader wrote (with the
``SaveAutoGrades`` that grading uses, :class:`graders.engine.scoring.StrictSaveAutoGrades`)
into the course's gradebook, checked cell by cell against the lesson, runs
nbgrader's own ``AssignLatePenalties``, and puts the graded notebooks where
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
from ..engine.gradebook_reader import read_submissions
from ..engine.stages import Stages
from ..engine.wiring import naive_utc, nbgrader_config, open_gradebook
from ..errors import SubmissionError
from ..exchange.ledger import Attempt, CellScore, Ledger
from ..feedback.basis import page_basis
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
    *, is_latest: bool, due_at: dt.datetime | None, clock: Clock, gradebook: Gradebook | None = None,
) -> GradedAttempt:
    """Keep one task's result: its score in the ledger, its feedback pages with the attempt, and, for the
    student's latest attempt, nbgrader's gradebook and ``autograded/``. Raises SubmissionError for a
    task that failed or that nbgrader could not grade (nothing is recorded then).

    ``gradebook`` is the course's, kept open by a caller that records many attempts (see
    :func:`record_outcome`); without it, the latest attempt opens the gradebook for itself."""
    if isinstance(result, BaseException):
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"grading task failed: {result!r}")
    if result.error:
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, result.error)
    score, penalty, basis = result.score, result.late_penalty, None
    if is_latest:
        # Only the latest attempt goes into nbgrader's gradebook, whatever order tasks finish in.
        score, penalty = record_outcome(course, result, submitted_at=attempt.submitted_at, due_at=due_at,
                                        gradebook=gradebook)
        # The worker's pages show the course gradebook's facts unless a teacher's marks or comments on an
        # earlier attempt (kept by nbgrader), or another late penalty, differ: then `paceline feedback` renders.
        recorded = read_submissions(course.layout.gradebook_path, student_ids=[attempt.student_id],
                                    lesson_ids=[attempt.lesson_id]).get((attempt.student_id, attempt.lesson_id))
        if recorded is not None and page_basis(recorded.basis) == result.feedback_basis:
            basis = result.feedback_basis
    feedback = course.layout.attempt_feedback(student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                                              attempt=attempt.attempt)
    if feedback.exists():
        shutil.rmtree(feedback)
    write_files(feedback, result.feedback)
    cells = [CellScore(c.notebook, c.grade_id, c.score, c.max_score) for c in result.cells]
    ledger.record_grade(attempt.id, score=score, max_score=result.max_score, late_penalty=penalty,
                        graded_at=clock.now(), cells=cells, feedback_basis=basis)
    return GradedAttempt(attempt, score, result.max_score, penalty, stages=result.stages)


def record_outcome(
    course: CourseConfig, outcome: GradingOutcome, *, submitted_at: dt.datetime, due_at: dt.datetime | None,
    gradebook: Gradebook | None = None,
) -> tuple[float, float]:
    """Write a graded attempt into the gradebook and ``autograded/``; returns (score, late penalty).

    The worker's nbgrader scored the attempt (StrictSaveAutoGrades, from the
    execute replies) in a gradebook holding the lesson's definition alone, so
    its scores and automatic comments are copied as they are, in one
    transaction, instead of executing nbgrader's scoring pass again here (the
    coordinator records every attempt in turn: a second pass cost it about a
    second per attempt). The copy is strict: the worker must report exactly the
    lesson's graded cells, with the gradebook's points, and their sum must be
    the score it reported. nbgrader's ``AssignLatePenalties`` then runs on the
    course's gradebook, whose score may include a teacher's manual grades.

    ``gradebook`` is the course's, open, from a caller that records many
    attempts: SQLAlchemy compiles each query once per engine, and compiling
    nbgrader's queries anew took most of each record when every attempt opened
    its own. Nothing is left pending in it: an attempt that is refused rolls back.
    """
    if gradebook is None:
        with open_gradebook(course) as opened:
            return record_outcome(course, outcome, submitted_at=submitted_at, due_at=due_at, gradebook=opened)
    gb = gradebook
    student, lesson = outcome.student_id, outcome.lesson_id
    dest = course.layout.autograded(student_id=student, lesson_id=lesson)
    if dest.exists():
        shutil.rmtree(dest)
    write_files(dest, outcome.autograded)

    submitted = {Path(name).stem for name, _ in outcome.autograded if name.endswith(".ipynb") and "/" not in name}
    reported = {(cell.notebook, cell.grade_id): cell for cell in outcome.cells}
    comments = {(comment.notebook, comment.comment_id): comment.auto_comment for comment in outcome.comments}
    with warnings.catch_warnings():
        # As on the grading workers: nbgrader's harmless "not in session" warning on a submission
        # that lacks cells (deleted tests, blank work) would flood paceline grade's output.
        warnings.filterwarnings("ignore", module=r"nbgrader\.api")
        try:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(lesson, student, timestamp=naive_utc(submitted_at))
            set_due(submission, due_at)
            expected = set()
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    expected.add((notebook.name, grade.name))
                    cell = reported.get((notebook.name, grade.name))
                    if cell is None or abs(cell.max_score - float(grade.max_score)) > 1e-9:
                        raise SubmissionError(student, lesson, outcome.attempt, f"the grader's result for {notebook.name} "
                                              f"cell {grade.name!r} does not match the gradebook's lesson")
                    grade.auto_score = cell.auto_score
                    # nbgrader's rules: a notebook not submitted scores zero and needs no review; a manual
                    # grade a teacher gave an earlier attempt is kept and flagged for review.
                    grade.needs_manual_grade = notebook.name in submitted and (
                        grade.manual_score is not None or grade.auto_score is None)
                for comment in notebook.comments:
                    if (notebook.name, comment.name) in comments:
                        comment.auto_comment = comments[(notebook.name, comment.name)]
            if expected != set(reported):
                raise SubmissionError(student, lesson, outcome.attempt,
                                      "the grader reported cells the gradebook's lesson does not have")
            known = {notebook.name for notebook in submission.notebooks}
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise

        config = nbgrader_config(course)
        for name in sorted(submitted & known):  # nbgrader skips notebooks the lesson does not have
            resources = {"nbgrader": {"db_url": course.layout.gradebook_url, "assignment": lesson, "notebook": name,
                                      "student": student}}
            AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)

    try:
        gb.db.expire_all()  # AssignLatePenalties wrote through a gradebook of its own
        submission = gb.find_submission(lesson, student)
        # score includes manual grades a grader gave an earlier attempt (nbgrader
        # keeps them and flags the cell for review); the autograded part must match.
        auto = sum(float(grade.auto_score or 0.0) for notebook in submission.notebooks for grade in notebook.grades)
        score, penalty = float(submission.score or 0.0), float(submission.late_submission_penalty or 0.0)
    finally:
        gb.db.rollback()  # read only: hold no transaction between records
    if abs(auto - outcome.score) > 1e-9:
        raise SubmissionError(student, lesson, outcome.attempt,
                              f"recorded autograde score {auto} differs from the grader's {outcome.score}")
    return score, penalty
