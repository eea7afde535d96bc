"""One grading task: a pure function from a submission to its graded result.

:func:`autograde` receives everything it needs as data (the attempt's files,
the lesson's non-notebook files, a gradebook holding only the lesson's
definition, and the limits) and returns the graded notebooks and scores as
data. It runs nbgrader's own autograde in a private temporary course, so the
scores are nbgrader's, and it touches no shared state: the task can run in a
worker process or on another machine, in parallel with any other task. Only
the coordinator writes the course's gradebook (see :mod:`graders.grading.record`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event
from sqlalchemy.engine import Engine
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from ..course.layout import TIMESTAMP, ScratchCourse
from ..course.nbgrader_table import NbgraderSettings
from ..course.plan import LatePolicy
from ..engine import stages
from ..engine.gradebook_reader import read_submissions
from ..engine.stages import Stages
from ..engine.wiring import grading_config, naive_utc, recorded_score
from ..feedback.basis import page_basis
from ..sandbox.manager import LOG_PREFIX as SANDBOX_LOG_PREFIX

NBGRADER_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"

Files = tuple[tuple[str, bytes], ...]  # (relative posix path, content), sorted by path


@dataclass(frozen=True)
class GradingTask:
    """Everything needed to grade one attempt, and nothing else."""

    attempt_id: int
    course_id: str
    lesson_id: str
    student_id: str
    attempt: int
    submitted_at: dt.datetime  # trusted receipt time: decides lateness
    due_at: dt.datetime | None  # this student's due date: personal, extended, plus grace days spent
    submission: Files
    lesson_files: Files  # the lesson's data files; its notebooks come from the gradebook
    timeout: int
    late_policy: LatePolicy
    kernel: Config  # how kernels are started: the sandbox, or plain kernels when explicitly allowed
    nbgrader: NbgraderSettings = NbgraderSettings()  # course.toml's [nbgrader]: delimiters, files kept, ...


@dataclass(frozen=True)
class CellResult:
    notebook: str
    grade_id: str
    score: float | None  # as the ledger records it: None while a teacher still has to mark the cell
    max_score: float
    auto_score: float | None  # nbgrader's gradebook value, as the worker's SaveAutoGrades wrote it


@dataclass(frozen=True)
class CommentResult:
    """nbgrader's automatic comment on a solution cell ("No response." for an unchanged one)."""

    notebook: str
    comment_id: str
    auto_comment: str | None


@dataclass(frozen=True)
class GradingOutcome:
    """What grading one attempt produced; ``error`` is set when nbgrader could not grade it."""

    attempt_id: int
    lesson_id: str
    student_id: str
    attempt: int
    autograded: Files  # nbgrader's autograded folder: executed notebooks and copied lesson files
    feedback: Files  # HTML feedback for this attempt (hidden tests reduced to pass/fail)
    score: float
    max_score: float
    late_penalty: float
    cells: tuple[CellResult, ...]
    log: str
    comments: tuple[CommentResult, ...] = ()
    error: str | None = None
    stages: Stages = ()  # where the worker's time went: private course, kernel start, execute, scoring, feedback...
    # The gradebook facts the feedback pages show (graders.engine.gradebook_reader): when the course's
    # gradebook holds the same for this submission, `paceline feedback` need not render them again.
    feedback_basis: str | None = None


def autograde(task: GradingTask, gradebook_template: bytes) -> GradingOutcome:
    """Grade one attempt with nbgrader in a throw-away course folder."""
    with stages.measuring() as seconds:
        outcome = _autograde(task, gradebook_template)
    return dataclasses.replace(outcome, stages=tuple(seconds.items()))


def _autograde(task: GradingTask, gradebook_template: bytes) -> GradingOutcome:
    remove_stale_scratch()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        # nbgrader's gradebook trips SQLAlchemy's "not in session" warning on a submission that lacks
        # cells (deleted tests, blank work); harmless, and on a worker nothing filters it for the CLI.
        warnings.filterwarnings("ignore", module=r"nbgrader\.api")
        setup_started = time.perf_counter()
        course = ScratchCourse(Path(scratch))
        who = {"student_id": task.student_id, "lesson_id": task.lesson_id}
        write_files(course.source(task.lesson_id), task.lesson_files)
        write_files(course.submitted(**who), task.submission)
        (course.submitted(**who) / TIMESTAMP).write_text(task.submitted_at.strftime(NBGRADER_TIMESTAMP_FORMAT))
        course.gradebook_path.write_bytes(gradebook_template)
        with _unsynced(course.gradebook_path):
            return _grade_in(course, task, who=who, setup_started=setup_started)


def _grade_in(course: ScratchCourse, task: GradingTask, *, who: dict[str, str], setup_started: float) -> GradingOutcome:
    config = _task_config(course, task)
    with Gradebook(config.CourseDirectory.db_url, course_id=task.course_id) as gb:
        # The private gradebook is this student's alone: its due date can be theirs.
        gb.update_or_create_assignment(task.lesson_id, duedate=naive_utc(task.due_at) if task.due_at else None)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.WARNING)
    stages.add("private course", time.perf_counter() - setup_started)
    with stages.timed("nbgrader autograde"):  # includes kernel start, execute and scoring, reported apart
        result = api.autograde(task.lesson_id, task.student_id, force=True, create=True)
    log = (result.get("log") or "") + (result.get("error") or "")
    if not result.get("success"):
        return _failed(task, log=log, error=failure_reason(log))
    autograded = read_files(course.autograded(**who))
    with stages.timed("feedback"):
        feedback_result = api.generate_feedback(task.lesson_id, task.student_id)
    if not feedback_result.get("success"):
        log += (feedback_result.get("log") or "") + (feedback_result.get("error") or "")
        return _failed(task, log=log, error="nbgrader could not render feedback: " + failure_reason(log))
    with Gradebook(config.CourseDirectory.db_url, course_id=task.course_id) as gb:
        try:
            submission = gb.find_submission(task.lesson_id, task.student_id)
        except MissingEntry:
            return _failed(task, log=log, error="nbgrader recorded no submission")
        # nbgrader copies every other file of the submission into its feedback folder too: a
        # student's own evil.html must not be released as a feedback page (it has no CSP).
        pages = {f"{notebook.name}.html" for notebook in submission.notebooks}
        feedback = tuple(f for f in read_files(course.feedback(**who)) if f[0] in pages)
        cells = tuple(
            CellResult(notebook.name, grade.name, recorded_score(grade), float(grade.max_score),
                       auto_score=None if grade.auto_score is None else float(grade.auto_score))
            for notebook in submission.notebooks
            for grade in notebook.grades
        )
        comments = tuple(CommentResult(notebook.name, comment.name, comment.auto_comment)
                         for notebook in submission.notebooks for comment in notebook.comments)
        basis = read_submissions(course.gradebook_path, student_ids=[task.student_id], lesson_ids=[task.lesson_id])
        return GradingOutcome(
            attempt_id=task.attempt_id, lesson_id=task.lesson_id, student_id=task.student_id, attempt=task.attempt,
            autograded=autograded, feedback=feedback, score=float(submission.score or 0.0), max_score=float(submission.max_score or 0.0),
            late_penalty=float(submission.late_submission_penalty or 0.0), cells=cells, comments=comments, log=log,
            feedback_basis=page_basis(basis[(task.student_id, task.lesson_id)].basis) if basis else None,
        )


SCRATCH_PREFIX = "paceline-grade-"


@functools.cache
def remove_stale_scratch() -> int:
    """Remove the scratch courses of grading processes that are gone (once per process); how many.

    A grading task's scratch course (a copy of one student's attempt) is removed when the task ends, but
    not when its process is killed: at Ctrl-C the coordinator ends its workers at once. Each is named for
    its process, so a later worker on the same machine removes those whose process no longer exists.
    """
    removed = 0
    base = Path(tempfile.gettempdir())
    for folder in base.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or _alive(int(pid)) or folder.is_symlink() or folder.stat().st_uid != os.geteuid():
                continue  # a live process's, an older paceline's (no pid in its name), or another user's
        except OSError:
            continue  # removed meanwhile (by another worker)
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


GENERIC_ERRORS = ("see the the above traceback", "There was an error processing assignment", "Traceback (most recent call last)")
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Z]\w*): (.+)$")
DUPLICATE_CELL = re.compile(r"^\[WARNING\] Cell with id '(.+)' exists multiple times!$")
CELL_PREVIEW = "Here is a preview of the cell contents"  # what follows is the student's code


def failure_reason(log: str) -> str:
    """Why nbgrader could not grade: the sandbox's reason for stopping the kernel, else nbgrader's
    first specific error, else the exception its traceback ends with (not "see the above traceback")."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    stopped = [line for line in lines if line.startswith("[ERROR]") and SANDBOX_LOG_PREFIX in line]
    errors = [line for line in lines if line.startswith("[ERROR]") and not any(g in line for g in GENERIC_ERRORS)]
    if stopped:
        detail = stopped[0]
    elif errors:
        detail = errors[0]
    else:
        detail = _traceback_exception(lines) or (lines[-1] if lines else "no log")
    detail = detail.removeprefix("[ERROR] ")
    duplicated = [m.group(1) for m in map(DUPLICATE_CELL.search, lines) if m]
    if duplicated and "use an old version" in detail:
        # nbgrader blanks all but one copy of a duplicated cell, then reports the blank copies' metadata as old.
        detail = f"graded cell {duplicated[0]!r} appears more than once in the notebook (nbgrader: {detail})"
    return f"nbgrader autograde failed: {detail}"


def _traceback_exception(lines: list[str]) -> str | None:
    """The exception that ends the first traceback nbgrader logged, with nbclient's message."""
    try:
        start = lines.index("[ERROR] Traceback (most recent call last):")
    except ValueError:
        return None
    found = None
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.startswith("[") or line.startswith(CELL_PREVIEW):
            break
        match = EXCEPTION_LINE.match(line)
        if match:
            found = f"{match.group(1)}: {match.group(2)}"
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if following.startswith("The message was:"):
                found += " " + following
    return found


# nbgrader commits once per graded cell, and SQLite waits for the disk at every commit (13 ms each on this
# busy host, several tenths of a second per attempt). The private gradebook is thrown away with its folder,
# so its connections do not wait: set on every connection SQLAlchemy opens to that file while grading runs.
_UNSYNCED_GRADEBOOK: ContextVar[str | None] = ContextVar("paceline_unsynced_gradebook", default=None)


@contextmanager
def _unsynced(gradebook: Path) -> Iterator[None]:
    token = _UNSYNCED_GRADEBOOK.set(str(gradebook.resolve()))
    try:
        yield
    finally:
        _UNSYNCED_GRADEBOOK.reset(token)


@event.listens_for(Engine, "connect")
def _skip_disk_waits_in_private_gradebook(dbapi_connection, connection_record) -> None:
    path = _UNSYNCED_GRADEBOOK.get()
    if path is None or not isinstance(dbapi_connection, sqlite3.Connection):
        return
    if any(row[2] == path for row in dbapi_connection.execute("PRAGMA database_list")):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


def _task_config(course: ScratchCourse, task: GradingTask) -> Config:
    c = Config()
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = task.course_id
    c.CourseDirectory.db_url = course.gradebook_url
    c.merge(grading_config(timeout=task.timeout, late_policy=task.late_policy, nbgrader=task.nbgrader))
    c.merge(task.kernel)
    return c


def _failed(task: GradingTask, *, log: str, error: str) -> GradingOutcome:
    return GradingOutcome(
        attempt_id=task.attempt_id, lesson_id=task.lesson_id, student_id=task.student_id, attempt=task.attempt,
        autograded=(), feedback=(), score=0.0, max_score=0.0, late_penalty=0.0, cells=(), log=log, error=error,
    )


def read_files(folder: Path, *, exclude_suffix: str | None = None) -> Files:
    """A folder's regular files as data; symbolic links are never followed."""
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if exclude_suffix and path.name.endswith(exclude_suffix):
            continue
        files.append((path.relative_to(folder).as_posix(), path.read_bytes()))
    return tuple(files)


def write_files(folder: Path, files: Files) -> None:
    """Recreate files from data; refuses paths that would leave ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder.resolve()
    for relative, content in files:
        target = (folder / relative).resolve()
        if base not in target.parents:
            raise ValueError(f"refusing to write {relative!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

