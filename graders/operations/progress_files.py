"""Keeping every student's progress document current in their personal exchange folder.

:func:`refresh_progress_documents` reads the roster and the ledger once, builds
each student's document with :func:`graders.operations.progress.progress_document`
and writes it where only that student can read it
(``<exchange>/<course>/personal/<student>/.paceline-progress.json``, see
:mod:`graders.exchange.personal_folder`), replacing the file at once. A
document whose facts did not change is left as it is. The commands that change
what a student sees (collect, grade, feedback, extend, release, unlock) call it
after their work; ``paceline watch`` calls it every cycle. One student's
failure is recorded and the others are still written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..course.clock import Clock, SystemClock
from ..course.layout import PROGRESS_DOCUMENT
from ..course.plan import CourseConfig
from ..course.roster import Student, load_roster
from ..errors import PacelineError
from ..exchange.ledger import Attempt, Ledger
from ..exchange.personal_folder import personal_folder, read_personal_file, write_personal_file
from .progress import progress_document


@dataclass
class ProgressReport:
    written: list[str] = field(default_factory=list)  # students whose document changed
    unchanged: int = 0
    problems: list[PacelineError] = field(default_factory=list)


@dataclass(frozen=True)
class CourseFacts:
    """What every student's document is built from, read once."""

    roster: tuple[Student, ...]
    attempts: dict[str, list[Attempt]]  # by student
    extensions: dict
    released: frozenset[str]
    max_scores: dict[str, float]
    awaiting_manual: frozenset[int]  # attempts with a manually graded cell not marked yet


def read_course_facts(course: CourseConfig, *, student_ids: Iterable[str] | None = None) -> CourseFacts:
    """The roster and the ledger's rows the documents need (all students', or the named ones')."""
    wanted = set(student_ids) if student_ids is not None else None
    roster = tuple(s for s in load_roster(course.roster_path, timezone=course.timezone) if wanted is None or s.id in wanted)
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts: dict[str, list[Attempt]] = {}
        for attempt in ledger.attempts(student_ids=[s.id for s in roster]):
            attempts.setdefault(attempt.student_id, []).append(attempt)
        extensions = ledger.extensions()
        released = frozenset(ledger.releases())
        graded_points = {a.lesson_id: a.max_score for a in ledger.attempts(statuses=["graded"]) if a.max_score}
        awaiting = ledger.awaiting_manual_grading()
    return CourseFacts(roster, attempts, extensions, released, lesson_points(course, released=released, known=graded_points),
                       awaiting)


def lesson_points(course: CourseConfig, *, released: frozenset[str], known: dict[str, float]) -> dict[str, float]:
    """Each lesson's points: as grading recorded them, else (a released lesson nobody's work is graded on
    yet) summed from its notebooks; a lesson neither graded nor released has none yet."""
    points = dict(known)
    missing = [lesson for lesson in course.lessons if lesson.id not in points and lesson.id in released]
    if missing:
        from ..authoring.lesson import lesson_max_score  # nbformat: only when a lesson needs counting

        for lesson in missing:
            try:
                points[lesson.id] = lesson_max_score(course, lesson)
            except PacelineError:
                continue  # a broken source notebook is `paceline check`'s to report; the document says nothing
    return points


def student_document(course: CourseConfig, facts: CourseFacts, student: Student, *, as_of: dt.datetime) -> dict[str, Any]:
    return progress_document(
        course, student=student, attempts=facts.attempts.get(student.id, []),
        extensions=facts.extensions, released=facts.released, max_scores=facts.max_scores, as_of=as_of,
        awaiting_manual=facts.awaiting_manual)


def build_student_document(course: CourseConfig, student_id: str, *, as_of: dt.datetime) -> dict[str, Any]:
    """One student's document as it stands (what ``paceline status STUDENT`` prints)."""
    facts = read_course_facts(course, student_ids=[student_id])
    if not facts.roster:
        raise PacelineError(f"unknown student {student_id!r}: not in {course.roster_path.name}")
    return student_document(course, facts, facts.roster[0], as_of=as_of)


def refresh_progress_documents(
    course: CourseConfig, *, student_ids: Iterable[str] | None = None, clock: Clock = SystemClock(),
) -> ProgressReport:
    """Write the progress document of every roster student (or the named ones) whose facts changed."""
    report = ProgressReport()
    if not course.roster_path.exists():
        # No students yet (a new course releases its first lessons before anyone enrols; `make demo`
        # releases before simulating its cohort): no document to write, and nothing wrong.
        return report
    facts = read_course_facts(course, student_ids=student_ids)
    now = clock.now()
    for student in facts.roster:
        try:
            document = student_document(course, facts, student, as_of=now)
            folder = personal_folder(course, student.id)
            if _written_revision(folder) == document["revision"]:
                report.unchanged += 1
                continue
            write_personal_file(folder, [PROGRESS_DOCUMENT], json.dumps(document, indent=1, ensure_ascii=False).encode())
            report.written.append(student.id)
        except Exception as exc:  # noqa: BLE001 - one student's document failing stops no one else's
            report.problems.append(PacelineError(f"{student.id}: progress document not written: {_describe(exc)}"))
    return report


def _written_revision(folder) -> str | None:
    try:
        data = read_personal_file(folder, [PROGRESS_DOCUMENT])
        return json.loads(data).get("revision") if data else None
    except (OSError, ValueError, AttributeError):
        return None  # unreadable or not ours: written again


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
    return str(exc) if isinstance(exc, PacelineError) else f"{type(exc).__name__}: {exc}"
