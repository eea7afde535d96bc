"""Grade: autograde collected attempts in parallel, record them in one place.

Each attempt not graded yet becomes a pure :class:`GradingTask` (its files,
the lesson's data files, limits); tasks run on Dask workers, each in a
private temporary course with a gradebook holding only the lesson's
definition. Only this coordinator writes the course: the ledger gets every
attempt's score, and nbgrader's gradebook and ``autograded/`` get each
student's latest attempt (what formgrader shows). A batch survives a bad
submission, and a crash at any point loses nothing: an attempt is marked
graded only after its result is written, so a re-run grades what is left.
Its steps: :mod:`.plan` (pure), :mod:`.dispatch`, :mod:`.record`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field

from traitlets.config import Config

from analytics.progress import Progress, Silent

from .submitted_notebook import read_submitted_notebook
from ..authoring.lesson_files import published_files
from ..course.clock import Clock, SystemClock
from ..course.layout import TIMESTAMP
from ..course.plan import CourseConfig
from ..course.roster import load_roster
from ..course.environment import kernel_environment, lesson_kernel_problems, require_built
from ..engine.isolation import kernel_config, kernels_started_ahead
from ..engine.wiring import open_gradebook, write_nbgrader_config
from ..errors import CellRef, LessonError, PacelineError, SubmissionError, at_submission
from ..exchange.ledger import Attempt, Ledger
from ..exchange.unlock import publish_unlocks
from .dispatch import Executor, executor_for
from .lateness import refresh_lateness
from .plan import RefusedAttempt, plan_grading
from .record import GradedAttempt, lesson_gradebook, record_attempt
from .task import GradingTask, autograde, read_files
from .templates import KeptGradebooks

# nbgrader does not copy these from a lesson's source folder either (CourseDirectory.ignore).


@dataclass
class GradeReport:
    graded: list[GradedAttempt] = field(default_factory=list)
    problems: list[PacelineError] = field(default_factory=list)
    unlocked: list[tuple[str, str]] = field(default_factory=list)  # (student, lesson) gated lessons now published


class GradingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped grading between two attempts: what was graded is recorded, the rest is still to grade.

    A KeyboardInterrupt, so that a caller that does not look for it (``paceline watch``) stops as before."""

    def __init__(self, *, graded: int, failed: int, planned: int) -> None:
        super().__init__(f"interrupted: {graded} of {planned} graded")
        self.graded, self.failed, self.planned = graded, failed, planned


def grade_attempts(
    course: CourseConfig,
    *,
    sandboxed: bool = True,
    lesson_ids: Sequence[str] | None = None,
    regrade: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    rounds: int | None = None,
    executor: Executor | None = None,
    kept_gradebooks: KeptGradebooks | None = None,
    clock: Clock = SystemClock(),
    progress: Progress = Silent(),
) -> GradeReport:
    """Autograde every attempt not graded yet (every attempt when ``regrade``).

    Student code runs in the sandbox; ``sandboxed=False`` (the CLI's loudly
    named ``--unsafe-no-sandbox``) runs it as plain kernels instead. Tasks run
    on ``executor`` if given, else on the Dask cluster at ``scheduler``, or on
    a local cluster of ``workers`` processes. Attempts are graded round-robin
    by student (:func:`graders.grading.plan.fair_order`); ``rounds`` grades
    only each student's oldest ``rounds`` and leaves the rest for the next
    call, so that ``paceline watch`` releases everyone's feedback between two
    slices of one student's flood. ``kept_gradebooks`` keeps each lesson's
    gradebook template, and the course gradebook's engine, from one call to
    the next (``paceline watch``'s).
    """
    environment = kernel_environment(course)
    require_built(environment)
    report = GradeReport()
    lessons = []
    for lesson in course.select_lessons(lesson_ids):
        # A lesson whose notebooks name a kernel the environment lacks waits (its attempts stay collected).
        refused = lesson_kernel_problems(course.layout.lesson_source(lesson.id),
                                         notebooks=lesson.notebooks, environment=environment)
        report.problems += [LessonError(CellRef(lesson.id, name), problem) for name, problem in refused]
        if not refused:
            lessons.append(lesson)
    order = {lesson.id: lesson.order for lesson in lessons}
    # Refuses here, before anything is graded, when the sandbox is not set up.
    kernels = {lesson.id: kernel_config(lesson.grading, sandboxed=sandboxed, environment=environment) for lesson in lessons}
    write_nbgrader_config(course)
    with _interrupts_between_records() as interrupts, Ledger.open(course.layout.ledger_path) as ledger, ExitStack() as keep:
        attempts = ledger.attempts()
        if not any(a.lesson_id in order and (regrade or a.status == "collected") for a in attempts):
            return report
        # One gradebook for every record of this run (record_outcome says why), kept from run to run by watch.
        gradebook = keep.enter_context(kept_gradebooks.course_gradebook(course) if kept_gradebooks is not None
                                       else open_gradebook(course))
        released = {assignment.name for assignment in gradebook.assignments}
        gradebook.db.rollback()
        plan = plan_grading(
            course, attempts=attempts, extensions=ledger.extensions(), gradebook_lessons=released,
            roster={s.id: s for s in load_roster(course.roster_path, timezone=course.timezone)},
            lesson_ids=list(order), regrade=regrade, rounds=rounds,
        )
        by_id = {planned.attempt.id: planned for planned in plan.planned}
        interrupted = False
        try:
            templates: dict[str, bytes] = {}
            tasks: list[GradingTask] = []
            for step in plan.steps:
                attempt = step.attempt
                try:
                    if isinstance(step, RefusedAttempt):
                        raise step.problem  # recorded as failed like any attempt that cannot be graded
                    if attempt.lesson_id not in templates:
                        templates[attempt.lesson_id] = (kept_gradebooks.template(course, attempt.lesson_id)
                                                        if kept_gradebooks is not None
                                                        else lesson_gradebook(course, attempt.lesson_id))
                    tasks.append(_task(course, attempt, kernel=kernels[attempt.lesson_id], due_at=step.due_at))
                except Exception as exc:  # noqa: BLE001 - whatever one attempt raises fails that attempt, once
                    with interrupts.deferred():
                        _fail(ledger, report, attempt, exc, clock=clock)
            if not tasks:
                return report

            # The caller's executor stays theirs (open as long as they keep it); else one for this run:
            # forked processes for a small batch, a Dask cluster for a big one or at ``scheduler``.
            dispatching = (nullcontext(executor) if executor is not None
                           else executor_for(task_count=len(tasks), scheduler=scheduler, workers=workers))
            with dispatching as runner:
                if runner.keeps_processes:
                    ahead = {lesson_id: kernels_started_ahead(kernel) for lesson_id, kernel in kernels.items()}
                    tasks = [dataclasses.replace(task, kernel=ahead[task.lesson_id]) for task in tasks]
                results = runner.run(autograde, tasks, shared=templates, shared_key=lambda task: task.lesson_id)
                for task, result in progress.track(results, description="Grading", total=len(tasks)):
                    planned = by_id[task.attempt_id]
                    attempt = planned.attempt
                    # Ctrl-C waits for the attempt being recorded: its gradebook rows, files and ledger
                    # entry are written together or not at all.
                    with interrupts.deferred():
                        started = time.perf_counter()
                        try:
                            graded = record_attempt(course, ledger, attempt, result, is_latest=planned.is_latest,
                                                    due_at=task.due_at, clock=clock, gradebook=gradebook)
                        except Exception as exc:  # noqa: BLE001 - whatever one attempt raises fails that attempt, once
                            _fail(ledger, report, attempt, exc, clock=clock)
                        else:
                            recording = ("coordinator record", time.perf_counter() - started)
                            report.graded.append(dataclasses.replace(graded, stages=(*graded.stages, recording)))
        except KeyboardInterrupt:
            # Nothing half-done to undo: attempts not recorded are still "collected", and the next run grades them.
            interrupted = True
        with interrupts.deferred():
            # Grace days follow the attempts that count: a resubmission can move them between lessons.
            refresh_lateness(course, ledger, student_ids={g.attempt.student_id for g in report.graded}, gradebook=gradebook)
            fresh = {a.id: a for a in ledger.attempts(lesson_ids=list(order))}
            report.graded = [dataclasses.replace(g, attempt=fresh[g.attempt.id], late_penalty=fresh[g.attempt.id].late_penalty or 0.0)
                             for g in report.graded]
            # Passing scores just recorded may unlock gated lessons.
            report.unlocked = publish_unlocks(course, clock=clock)
    if interrupted:
        raise GradingInterrupted(graded=len(report.graded), failed=len(report.problems), planned=len(plan.steps))
    report.graded.sort(key=lambda g: (order[g.attempt.lesson_id], g.attempt.student_id, g.attempt.attempt))
    return report


class _Interrupts:
    """A SIGINT handler that raises KeyboardInterrupt, except inside :meth:`deferred`, after which it does."""

    def __init__(self) -> None:
        self.deferring = False
        self.pending = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.deferring:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def deferred(self) -> Iterator[None]:
        outer = self.deferring
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = outer
        if self.pending and not outer:
            self.pending = False
            raise KeyboardInterrupt


@contextmanager
def _interrupts_between_records() -> Iterator[_Interrupts]:
    """Ctrl-C raises KeyboardInterrupt only between two attempts' records (see :class:`_Interrupts`).

    Signal handlers belong to the main thread: elsewhere, and where SIGINT is ignored, nothing changes."""
    interrupts = _Interrupts()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield interrupts
        return
    previous = signal.signal(signal.SIGINT, interrupts)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, previous)


def _task(course: CourseConfig, attempt: Attempt, *, kernel: Config, due_at: dt.datetime | None) -> GradingTask:
    lesson = course.lesson(attempt.lesson_id)
    folder = course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
    if not folder.is_dir():
        raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"archived files missing at {folder}")
    for notebook in sorted(folder.glob("*.ipynb")):
        try:
            # Checked here, before the task is built: a notebook too big, too deep or of too many
            # cells would cost this coordinator (and nbgrader on the worker) far more than grading.
            read_submitted_notebook(notebook, lesson=attempt.lesson_id, limits=lesson.grading)
        except LessonError as exc:
            # nbgrader would only say "see the above traceback"; name the file and line instead.
            raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"{notebook.name} {exc.problem}") from None
    # The kernel gets what students were given, never a jupytext copy or a helper holding the solutions,
    # which nbgrader would put beside the student's notebook for student code to read and print.
    source = course.layout.lesson_source(attempt.lesson_id)
    lesson_files = tuple((name, (source / name).read_bytes()) for name in published_files(course, lesson).files
                         if not (source / name).is_symlink())
    return GradingTask(
        attempt_id=attempt.id, course_id=course.id, lesson_id=attempt.lesson_id, student_id=attempt.student_id,
        attempt=attempt.attempt, submitted_at=attempt.submitted_at, due_at=due_at,
        submission=tuple(f for f in read_files(folder) if f[0] != TIMESTAMP),
        lesson_files=lesson_files, timeout=lesson.grading.timeout, late_policy=course.late_policy, kernel=kernel,
        nbgrader=course.nbgrader,
    )


def _fail(ledger: Ledger, report: GradeReport, attempt: Attempt, exc: BaseException, *, clock: Clock) -> None:
    """Record one attempt as failed, with the reason; a later run does not try it again (only --all does)."""
    problem = at_submission(exc, student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
    ledger.record_failure(attempt.id, error=str(problem), graded_at=clock.now())
    report.problems.append(problem)
