"""Grade: autograde collected attempts in parallel, record them in one place.

Each attempt not graded yet becomes a pure :class:`GradingTask` (its files,
the lesson's data files, limits); tasks run on Dask workers, each in a
private temporary course with a gradebook holding only the lesson's
definition. Only this coordinator writes the course: the ledger gets every
attempt's score, and nbgrader's gradebook and ``autograded/`` get each
student's latest attempt (what formgrader shows). A batch survives a bad
submission, and a crash at any point loses nothing: an attempt is marked
graded only after its result is written, so a re-run grades what is left.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field

from traitlets.config import Config

from analytics.progress import Progress, Silent

from ..authoring.lesson import read_notebook
from ..course.clock import Clock, SystemClock
from ..course.layout import TIMESTAMP
from ..course.plan import CourseConfig
from ..course.roster import load_roster
from ..course.timeline import LessonDue
from ..errors import LessonError, PacelineError, SubmissionError
from ..exchange.ledger import Attempt, CellScore, Ledger
from ..exchange.unlock import publish_unlocks
from ..feedback.release import attempt_feedback_dir
from .dispatch import dask_client, run_tasks
from .engine import write_nbgrader_config
from .isolation import kernel_config
from .lateness import refresh_lateness, student_dues
from .record import lesson_gradebook, record_outcome
from .task import GradingOutcome, GradingTask, autograde, read_files, write_files

# nbgrader does not copy these from a lesson's source folder either (CourseDirectory.ignore).
IGNORED_PARTS = frozenset({".ipynb_checkpoints", "__pycache__", "feedback"})


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
    unlocked: list[tuple[str, str]] = field(default_factory=list)  # (student, lesson) gated lessons now published


def grade_attempts(
    course: CourseConfig,
    *,
    sandboxed: bool = True,
    lesson_ids: Sequence[str] | None = None,
    regrade: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    clock: Clock = SystemClock(),
    progress: Progress = Silent(),
) -> GradeReport:
    """Autograde every attempt not graded yet (every attempt when ``regrade``).

    Student code runs in the sandbox; ``sandboxed=False`` (the CLI's loudly
    named ``--unsafe-no-sandbox``) runs it as plain kernels instead. Tasks run
    on the Dask cluster at ``scheduler``, or on a local cluster of ``workers``
    processes.
    """
    lessons = course.select_lessons(lesson_ids)
    order = {lesson.id: lesson.order for lesson in lessons}
    # Refuses here, before anything is graded, when the sandbox is not set up.
    kernels = {lesson.id: kernel_config(lesson.grading, sandboxed=sandboxed) for lesson in lessons}
    write_nbgrader_config(course)
    report = GradeReport()
    with Ledger.open(course.layout.ledger_path) as ledger:
        todo = ledger.attempts(lesson_ids=list(order), statuses=None if regrade else ["collected"])
        todo.sort(key=lambda a: (order[a.lesson_id], a.student_id, a.attempt))
        if not todo:
            return report
        latest = {(a.student_id, a.lesson_id): a.attempt for a in ledger.attempts(lesson_ids=list(order))}
        by_id = {attempt.id: attempt for attempt in todo}

        roster = {s.id: s for s in load_roster(course.roster_path, timezone=course.timezone)}
        dues: dict[str, dict[str, LessonDue]] = {}
        templates: dict[str, bytes] = {}
        tasks: list[GradingTask] = []
        for attempt in todo:
            try:
                if attempt.student_id not in roster:
                    raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt,
                                          f"not on the roster ({course.roster_path.name}): not graded")
                if attempt.student_id not in dues:
                    dues[attempt.student_id] = student_dues(course, ledger, student=roster[attempt.student_id], include_ungraded=True)
                if attempt.lesson_id not in templates:
                    templates[attempt.lesson_id] = lesson_gradebook(course, attempt.lesson_id)
                due_at = dues[attempt.student_id][attempt.lesson_id].due_at
                tasks.append(_task(course, attempt, kernel=kernels[attempt.lesson_id], due_at=due_at))
            except PacelineError as exc:
                ledger.record_failure(attempt.id, error=str(exc), graded_at=clock.now())
                report.problems.append(exc)
        if not tasks:
            return report

        with dask_client(scheduler=scheduler, workers=workers) as client:
            results = run_tasks(client, autograde, tasks, shared=templates, shared_key=lambda task: task.lesson_id)
            for task, result in progress.track(results, description="Grading", total=len(tasks)):
                attempt = by_id[task.attempt_id]
                try:
                    is_latest = latest[(attempt.student_id, attempt.lesson_id)] == attempt.attempt
                    graded = _record(course, ledger, attempt, result, is_latest=is_latest, due_at=task.due_at, clock=clock)
                except PacelineError as exc:
                    ledger.record_failure(attempt.id, error=str(exc), graded_at=clock.now())
                    report.problems.append(exc)
                else:
                    report.graded.append(graded)
        # Grace days follow the attempts that count: a resubmission can move them between lessons.
        refresh_lateness(course, ledger, student_ids={g.attempt.student_id for g in report.graded})
        fresh = {a.id: a for a in ledger.attempts(lesson_ids=list(order))}
        report.graded = [GradedAttempt(fresh[g.attempt.id], g.score, g.max_score, fresh[g.attempt.id].late_penalty or 0.0)
                         for g in report.graded]
    # Passing scores just recorded may unlock gated lessons.
    report.unlocked = publish_unlocks(course, clock=clock)
    report.graded.sort(key=lambda g: (order[g.attempt.lesson_id], g.attempt.student_id, g.attempt.attempt))
    return report


def _task(course: CourseConfig, attempt: Attempt, *, kernel: Config, due_at: dt.datetime | None) -> GradingTask:
    lesson = course.lesson(attempt.lesson_id)
    folder = course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
    if not folder.is_dir():
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"archived files missing at {folder}")
    for notebook in sorted(folder.glob("*.ipynb")):
        try:
            read_notebook(notebook, lesson=attempt.lesson_id)
        except LessonError as exc:
            # nbgrader would only say "see the above traceback"; name the file and line instead.
            raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"{notebook.name} {exc.problem}") from None
    lesson_files = tuple(
        (name, content) for name, content in read_files(course.layout.lesson_source(attempt.lesson_id), exclude_suffix=".ipynb")
        if not IGNORED_PARTS & set(name.split("/"))
    )
    return GradingTask(
        attempt_id=attempt.id, course_id=course.id, lesson_id=attempt.lesson_id, student_id=attempt.student_id,
        attempt=attempt.attempt, submitted_at=attempt.submitted_at, due_at=due_at,
        submission=tuple(f for f in read_files(folder) if f[0] != TIMESTAMP),
        lesson_files=lesson_files, timeout=lesson.grading.timeout, late_policy=course.late_policy, kernel=kernel,
    )


def _record(
    course: CourseConfig, ledger: Ledger, attempt: Attempt, result: GradingOutcome | BaseException,
    *, is_latest: bool, due_at: dt.datetime | None, clock: Clock,
) -> GradedAttempt:
    if isinstance(result, BaseException):
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"grading task failed: {result!r}")
    if result.error:
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, result.error)
    score, penalty = result.score, result.late_penalty
    if is_latest:
        # Only the latest attempt goes into nbgrader's gradebook, whatever order tasks finish in.
        score, penalty = record_outcome(course, result, submitted_at=attempt.submitted_at, due_at=due_at)
    feedback = attempt_feedback_dir(course, attempt)
    if feedback.exists():
        shutil.rmtree(feedback)
    write_files(feedback, result.feedback)
    cells = [CellScore(c.notebook, c.grade_id, c.score, c.max_score) for c in result.cells]
    ledger.record_grade(attempt.id, score=score, max_score=result.max_score, late_penalty=penalty,
                        graded_at=clock.now(), cells=cells)
    return GradedAttempt(attempt, score, result.max_score, penalty)

