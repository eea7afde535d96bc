"""What ``paceline status`` shows: the cohort's pacing (through analytics), or one student's record.

One student's record is their progress document (the very document their JupyterLab panel shows:
personal dates, extensions, grace days, unlocks, every attempt, pace and projected finish) and what only
the instructor sees (refused submissions, grading errors, attempts awaiting manual grading, who granted
an extension and why). It is read from the ledger, the roster and nbgrader's gradebook (as SQLite) alone:
no pandas, no analytics, no nbgrader, so it prints in a fraction of a second. Analytics' view of one
student (regularity, at-risk reasons, peers) is in the cohort's ``paceline status`` (who is at risk and
why) and ``paceline report --student ID``.

The edge where course.toml's ``[at_risk]`` table, which the course plan keeps as written, becomes
analytics' :class:`~analytics.AtRiskRules` (:func:`at_risk_rules`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from typing import TYPE_CHECKING

from ..course.clock import Clock, SystemClock
from ..course.plan import CourseConfig
from ..course.roster import Student, load_roster, validate_student_id
from ..course.timeline import Extension, LessonDue
from ..errors import ConfigError, PacelineError
from ..exchange.gating import best_fractions, is_unlocked
from ..exchange.ledger import Attempt, ExtensionRevoked, Ledger
from ..grading.gradebook_scores import sync_gradebook_scores
from ..grading.lateness import student_dues
from .progress_files import build_student_document

if TYPE_CHECKING:
    from analytics import AtRiskRules, CohortStatus


@dataclass(frozen=True)
class LessonStatus:
    lesson_id: str
    title: str
    due: LessonDue  # personal dates, extension, grace spent, effective due
    gated: bool
    unlocked: bool
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class StudentRecord:
    """One student's record as paceline keeps it: their progress document, and the facts behind it."""

    student: Student
    lessons: tuple[LessonStatus, ...]
    grace_budget: int
    extensions: tuple[Extension | ExtensionRevoked, ...]  # every grant and revocation, oldest first
    document: dict  # the student's progress document (graders.operations.progress)
    refused: tuple[tuple[str, dt.datetime, str], ...] = ()  # (submission, when seen, why) of refused submissions
    awaiting_manual: frozenset[int] = frozenset()  # ids of attempts with a manually graded cell not marked yet
    rescored: int = 0  # attempts whose score the gradebook changed just now (a teacher's marks): the student's
    # progress document, written before, does not show them yet

    @property
    def grace_spent(self) -> int:
        return sum(lesson.due.grace_spent for lesson in self.lessons)


@dataclass(frozen=True)
class CohortOverview:
    """What ``paceline status`` shows of the cohort: analytics' view, and the work a teacher still has to mark."""

    status: CohortStatus
    awaiting_manual: tuple[tuple[str, str, int], ...]  # (student, lesson, attempt): counting attempts not fully marked


def cohort_status(course: CourseConfig, *, as_of: dt.datetime | None = None, limit: int = 10) -> CohortStatus:
    """The cohort at ``as_of`` (default: the latest submission), from the course's tables as they stand,
    with the ``[at_risk]`` thresholds of course.toml."""
    return cohort_overview(course, as_of=as_of, limit=limit).status


def cohort_overview(course: CourseConfig, *, as_of: dt.datetime | None = None, limit: int = 10) -> CohortOverview:
    """:func:`cohort_status`, with the graded attempts that count and still await manual grading."""
    import analytics

    from .export import awaiting_manual_grading, course_tables  # the export stage builds the tables; nothing is written

    rules = at_risk_rules(course)
    tables = course_tables(course)
    waiting = _counting(awaiting_manual_grading(tables.cell_scores), tables.submissions)
    return CohortOverview(status=analytics.cohort_status(tables, as_of=as_of, rules=rules, limit=limit),
                          awaiting_manual=tuple(waiting))


def _counting(waiting, submissions) -> list[tuple[str, str, int]]:
    """The awaiting attempts that are their student's latest graded attempt of the lesson (the one that counts)."""
    graded = submissions[submissions["status"] == "graded"]
    latest = graded.groupby(["student_id", "lesson_id"])["attempt"].max().reset_index()
    counting = waiting.merge(latest, on=["student_id", "lesson_id", "attempt"])
    return sorted((row.student_id, row.lesson_id, int(row.attempt)) for row in counting.itertuples())


def at_risk_rules(course: CourseConfig) -> AtRiskRules:
    """course.toml's ``[at_risk]`` thresholds, checked by analytics (which owns them and their ranges, as
    ``analytics.load_rules`` does for an analyst); a bad value is a ConfigError naming the key."""
    import analytics
    from analytics.errors import RulesError

    try:
        return analytics.rules_from_mapping(dict(course.at_risk))
    except RulesError as exc:
        key = f"at_risk.{exc.key}" if exc.key else "at_risk"
        raise ConfigError(course.layout.config_path, key, exc.problem) from None


def student_status(
    course: CourseConfig, student_id: str, *, as_of: dt.datetime | None = None, clock: Clock = SystemClock(),
) -> StudentRecord:
    """One student's record; their progress document as of ``as_of`` (default: now).

    The scores are the gradebook's first (a teacher's marks in formgrader since grading), as an export
    takes them."""
    validate_student_id(student_id)
    students = {s.id: s for s in load_roster(course.roster_path, timezone=course.timezone)}
    if student_id not in students:
        raise PacelineError(f"unknown student {student_id!r}: not in {course.roster_path.name}")
    student = students[student_id]
    with Ledger.open(course.layout.ledger_path) as ledger:
        rescored = len(sync_gradebook_scores(course, ledger, student_ids=[student_id]))
        attempts = ledger.attempts(student_ids=[student_id])
        dues = student_dues(course, ledger, student=student, include_ungraded=False)
        history = tuple(ledger.extension_history(student_id))
        refused = tuple((name, when, why) for name, _, _, when, why in ledger.rejections(student_id=student_id))
        waiting = ledger.awaiting_manual_grading()
    best = best_fractions(attempts)
    lessons = tuple(
        LessonStatus(
            lesson_id=lesson.id, title=lesson.title, due=dues[lesson.id], gated=bool(lesson.requires),
            unlocked=is_unlocked(course, lesson, best=best),
            attempts=tuple(a for a in attempts if a.lesson_id == lesson.id),
        )
        for lesson in course.lessons
    )
    document = build_student_document(course, student_id, as_of=as_of or clock.now())
    return StudentRecord(student=student, lessons=lessons, grace_budget=course.grace_days, extensions=history,
                         document=document, refused=refused,
                         awaiting_manual=frozenset(a.id for a in attempts if a.id in waiting), rescored=rescored)
