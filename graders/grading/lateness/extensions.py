"""Extensions: an instructor moves one student's due date for one lesson.

Unlike nbgrader's ``grant_extension``, this works before the student has
submitted anything; grading turns it into nbgrader's per-submission
extension when it records the student's work, and re-applies the late
penalty of work already graded.
"""

from __future__ import annotations

import datetime as dt
import getpass

from ...course.clock import Clock, SystemClock
from ...course.plan import CourseConfig
from ...course.roster import load_roster, validate_student_id
from ...course.timeline import DAY, Extension, personal_dates
from ...errors import PacelineError
from ...exchange.ledger import Ledger
from .refresh import refresh_lateness


def grant_extension(
    course: CourseConfig,
    *,
    student_id: str,
    lesson_id: str,
    days: int | None = None,
    until: dt.datetime | None = None,
    reason: str,
    share_reason: bool = False,
    granted_by: str | None = None,
    clock: Clock = SystemClock(),
) -> Extension:
    """Give ``student_id`` until ``until``, or ``days`` days past their planned due date, for ``lesson_id``.

    Unlike nbgrader's ``grant_extension``, this works before the student has
    submitted anything; grading turns it into nbgrader's per-submission
    extension when it records the student's work. A new grant replaces the
    previous one; the late penalty of work already graded is recomputed.
    Raises :class:`PacelineError`, and records nothing, for an unknown student
    or lesson, a lesson without a due date, a date in the past of the planned
    due date, or both/neither of ``days`` and ``until``. ``share_reason`` lets the student read
    ``reason`` in their progress document (otherwise they see the new date only).
    """
    validate_student_id(student_id)
    lesson = course.lesson(lesson_id)
    students = {s.id: s for s in load_roster(course.roster_path, timezone=course.timezone)}
    if student_id not in students:
        raise PacelineError(f"unknown student {student_id!r}: not in {course.roster_path.name}")
    if (days is None) == (until is None):
        raise PacelineError("give either --days N or --until DATE")
    if not reason.strip():
        raise PacelineError("say why (--reason): extensions are part of the student's record")
    planned = personal_dates(course, student=students[student_id], lesson=lesson)
    if planned.due_at is None:
        raise PacelineError(f"{lesson_id} has no due date for {student_id}: there is nothing to extend")
    if days is not None and days <= 0:
        raise PacelineError(f"--days must be at least 1, not {days}")
    due_at = planned.due_at + days * DAY if days is not None else until
    if due_at <= planned.due_at:
        raise PacelineError(f"the new due date {due_at:%Y-%m-%d %H:%M} UTC is not after the planned one "
                            f"({planned.due_at:%Y-%m-%d %H:%M} UTC)")
    extension = Extension(student_id, lesson_id, due_at, granted_by or getpass.getuser(), clock.now(), reason.strip(),
                          share_reason)
    with Ledger.open(course.layout.ledger_path) as ledger:
        ledger.add_extension(extension)
        # Work already graded gets its late penalty recomputed against the new date.
        refresh_lateness(course, ledger, student_ids=[student_id])
    return extension
