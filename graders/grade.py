"""Grade: autograde collected attempts with nbgrader, oldest first.

For each attempt, its archived files are staged where nbgrader expects a
submission (``submitted/<student>/<lesson>/``) with a ``timestamp.txt`` that
paceline writes (so lateness is computed from the time paceline trusts), then
nbgrader's autograde runs into its own gradebook. The score it records is
copied into the ledger. Because attempts are graded in order, the gradebook
ends up holding each student's latest attempt, which is what formgrader shows
for manual grading.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .clock import Clock, SystemClock
from .collect import attempt_dir
from .config import CourseConfig
from .engine import instructor_api, open_gradebook, write_nbgrader_config
from .errors import LessonError, PacelineError, SubmissionError
from .ledger import Attempt, CellScore, Ledger
from .lesson import read_notebook
from .progress import Progress, Silent

NBGRADER_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


@dataclass(frozen=True)
class GradedAttempt:
    attempt: Attempt
    score: float
    max_score: float
    late_penalty: float


@dataclass
class GradeReport:
    graded: list[GradedAttempt] = field(default_factory=list)
    problems: list[PacelineError] = field(default_factory=list)


def grade_attempts(
    course: CourseConfig,
    *,
    lesson_ids: list[str] | None = None,
    regrade: bool = False,
    clock: Clock = SystemClock(),
    progress: Progress = Silent(),
) -> GradeReport:
    """Autograde every attempt not graded yet (every attempt when ``regrade``)."""
    lessons = course.select_lessons(lesson_ids)
    order = {lesson.id: lesson.order for lesson in lessons}
    write_nbgrader_config(course)
    report = GradeReport()
    with Ledger.open(course.state_dir / "ledger.db") as ledger:
        statuses = None if regrade else ["collected"]
        todo = ledger.attempts(lesson_ids=list(order), statuses=statuses)
        todo.sort(key=lambda a: (order[a.lesson_id], a.student_id, a.attempt))
        if not todo:
            return report
        api = instructor_api(course)
        for attempt in progress.track(todo, description="Grading"):
            try:
                report.graded.append(_grade_one(course, ledger, attempt, api=api, clock=clock))
            except PacelineError as exc:
                ledger.record_failure(attempt.id, error=str(exc), graded_at=clock.now())
                report.problems.append(exc)
    return report


def _grade_one(course: CourseConfig, ledger: Ledger, attempt: Attempt, *, api, clock: Clock) -> GradedAttempt:
    staged = _stage(course, attempt)
    for notebook in sorted(staged.glob("*.ipynb")):
        try:
            read_notebook(notebook, lesson=attempt.lesson_id)
        except LessonError as exc:
            # nbgrader would only say "see the above traceback"; name the file and line instead.
            raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"{notebook.name} {exc.problem}") from None
    result = api.autograde(attempt.lesson_id, attempt.student_id, force=True, create=True)
    if not result.get("success"):
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, _failure_reason(result))
    with open_gradebook(course) as gb:
        submission = gb.find_submission(attempt.lesson_id, attempt.student_id)
        score = float(submission.score or 0.0)
        max_score = float(submission.max_score or 0.0)
        penalty = float(submission.late_submission_penalty or 0.0)
        cells = [
            CellScore(notebook.name, grade.name, grade.score, float(grade.max_score))
            for notebook in submission.notebooks
            for grade in notebook.grades
        ]
    ledger.record_grade(
        attempt.id, score=score, max_score=max_score, late_penalty=penalty, graded_at=clock.now(), cells=cells,
    )
    return GradedAttempt(attempt, score, max_score, penalty)


def _stage(course: CourseConfig, attempt: Attempt) -> Path:
    """Put the attempt where nbgrader looks for a submission, replacing the previous one."""
    source = attempt_dir(course, student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
    if not source.is_dir():
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"archived files missing at {source}")
    staged = course.submitted_dir / attempt.student_id / attempt.lesson_id
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source, staged, symlinks=True)
    (staged / "timestamp.txt").write_text(attempt.submitted_at.strftime(NBGRADER_TIMESTAMP_FORMAT))
    return staged


def _failure_reason(result: dict) -> str:
    """The most useful line of nbgrader's log: its last error, not the whole traceback."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("[ERROR]") and "see the the above traceback" not in line]
    detail = errors[0] if errors else (lines[-1] if lines else "no log")
    return f"nbgrader autograde failed: {detail}"
