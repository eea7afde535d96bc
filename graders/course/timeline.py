"""Every student's own timeline: the one place a student's lesson dates come from.

Lateness (grading), release, status and the exported ``timelines`` table all
ask :func:`personal_dates`, so they cannot disagree. Pure functions: no
files, no clock.

- cohort course: everyone has the lesson's dates from course.toml;
- self-paced course: dates follow from the student's own ``enrolled_at`` and
  the pace in ``[pacing]``;
- an extension moves the student's due date to a new instant, and the target
  by as much;
- grace days (a per-student budget) are spent on late work, lesson by lesson
  in course order, before any penalty: each spent day moves that lesson's
  due date one day later.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from .pacing import paced_dates
from .plan import CourseConfig, LessonPlan
from .roster import Student

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Extension:
    """An instructor's decision: this student's due date for this lesson is ``due_at``."""

    student_id: str
    lesson_id: str
    due_at: dt.datetime
    granted_by: str
    granted_at: dt.datetime
    reason: str
    shareable: bool = False  # the student may read the reason (their progress document shows it)


@dataclass(frozen=True)
class PersonalDates:
    student_id: str
    lesson_id: str
    opens_at: dt.datetime
    target_at: dt.datetime
    due_at: dt.datetime | None  # after any extension; before grace days
    planned_due_at: dt.datetime | None  # before any extension
    extension: Extension | None = None


def personal_dates(
    course: CourseConfig, *, student: Student, lesson: LessonPlan, extension: Extension | None = None,
) -> PersonalDates:
    """The dates that apply to ``student`` for ``lesson``."""
    if course.pacing is None:
        opens_at, target_at, due_at = lesson.opens_at, lesson.target_at, lesson.due_at
    else:
        elapsed = sum(l.days or course.pacing.days_per_lesson for l in course.lessons[: lesson.order])
        opens = lesson.opens_at if lesson.opens_at > course.pacing.start else None
        opens_at, target_at, due_at = paced_dates(
            course.pacing, timezone=course.timezone, enrolled_at=student.enrolled_at, opens=opens, elapsed_days=elapsed,
        )
    planned_due = due_at
    if extension is not None and due_at is not None:
        target_at = target_at + (extension.due_at - due_at)
        due_at = extension.due_at
    return PersonalDates(student.id, lesson.id, opens_at, target_at, due_at, planned_due, extension if due_at else None)


def days_late(submitted_at: dt.datetime, due_at: dt.datetime | None) -> int:
    """Started days after the due date (one second late is one day), 0 when on time."""
    if due_at is None or submitted_at <= due_at:
        return 0
    return math.ceil((submitted_at - due_at) / DAY)


def allocate_grace(late_days: Iterable[tuple[str, int]], *, budget: int) -> dict[str, int]:
    """Grace days spent per lesson: in course order, as many as each lesson needs while any are left."""
    spent: dict[str, int] = {}
    left = budget
    for lesson_id, late in late_days:
        spend = min(left, max(late, 0))
        spent[lesson_id] = spend
        left -= spend
    return spent


def effective_due(dates: PersonalDates, *, grace_spent: int) -> dt.datetime | None:
    """The due date grading uses: the personal one, plus the grace days spent on it."""
    if dates.due_at is None:
        return None
    return dates.due_at + grace_spent * DAY


@dataclass(frozen=True)
class LessonDue:
    """What grading needs for one lesson of one student."""

    dates: PersonalDates
    grace_spent: int
    due_at: dt.datetime | None  # effective: personal, extended, plus grace


def lesson_dues(
    course: CourseConfig,
    *,
    student: Student,
    extensions: dict[tuple[str, str], Extension],
    counted_submissions: dict[str, dt.datetime],
) -> dict[str, LessonDue]:
    """Effective due dates of every lesson for one student.

    ``counted_submissions`` maps each lesson to the receipt time of the attempt
    that counts (the latest graded one); grace days go to those that are late,
    in course order.
    """
    dates = {
        lesson.id: personal_dates(course, student=student, lesson=lesson, extension=extensions.get((student.id, lesson.id)))
        for lesson in course.lessons
    }
    late = [(lesson.id, days_late(counted_submissions[lesson.id], dates[lesson.id].due_at))
            for lesson in course.lessons if lesson.id in counted_submissions]
    spent = allocate_grace(late, budget=course.grace_days)
    return {
        lesson_id: LessonDue(d, spent.get(lesson_id, 0), effective_due(d, grace_spent=spent.get(lesson_id, 0)))
        for lesson_id, d in dates.items()
    }
