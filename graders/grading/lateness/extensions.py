"""Extensions: an instructor moves one student's due date for one lesson, or takes that back.

Unlike nbgrader's ``grant_extension``, this works before the student has
submitted anything; grading turns it into nbgrader's per-submission
extension when it records the student's work, and re-applies the late
penalty of work already graded. Every grant and revocation stays in the
ledger with who, when and why (``paceline status STUDENT`` lists them).

The rule: an extension only ever moves a due date later than the planned
one. A new grant replaces the one in force, so an extension can be
shortened down to just after the planned date; going back to the planned
date itself is :func:`revoke_extension`.
"""

from __future__ import annotations

import datetime as dt

from ...course.clock import Clock, SystemClock
from ...course.lock import current_user
from ...course.plan import CourseConfig
from ...course.roster import load_roster, validate_student_id
from ...course.timeline import DAY, Extension, personal_dates
from ...errors import PacelineError
from ...exchange.ledger import ExtensionRevoked, Ledger
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
    if (days is None) == (until is None):
        raise PacelineError("give either --days N or --until DATE")
    planned_due = _planned_due(course, student_id=student_id, lesson_id=lesson_id, reason=reason)
    if days is not None and days <= 0:
        raise PacelineError(f"--days must be at least 1, not {days}")
    due_at = planned_due + days * DAY if days is not None else until
    if due_at <= planned_due:
        tz = course.timezone
        raise PacelineError(
            f"the new due date {due_at.astimezone(tz):%Y-%m-%d %H:%M %Z} is not after {student_id}'s planned due date "
            f"for {lesson_id}, {planned_due.astimezone(tz):%Y-%m-%d %H:%M %Z}: an extension can only move a due date "
            f"later (a new one may shorten an earlier extension down to that); to go back to the planned date, "
            f"revoke the extension (paceline extend {student_id} {lesson_id} --revoke --reason ...)")
    extension = Extension(student_id, lesson_id, due_at, granted_by or current_user(), clock.now(), reason.strip(),
                          share_reason)
    with Ledger.open(course.layout.ledger_path) as ledger:
        ledger.add_extension(extension)
        # Work already graded gets its late penalty recomputed against the new date.
        refresh_lateness(course, ledger, student_ids=[student_id])
    return extension


def revoke_extension(
    course: CourseConfig,
    *,
    student_id: str,
    lesson_id: str,
    reason: str,
    revoked_by: str | None = None,
    clock: Clock = SystemClock(),
) -> ExtensionRevoked:
    """Take back the extension in force for ``student_id`` and ``lesson_id``: their planned due date
    applies again, and the late penalty of work already graded is recomputed against it.

    Raises :class:`PacelineError`, recording nothing, when no extension is in force.
    """
    planned_due = _planned_due(course, student_id=student_id, lesson_id=lesson_id, reason=reason)
    with Ledger.open(course.layout.ledger_path) as ledger:
        if (student_id, lesson_id) not in ledger.extensions():
            raise PacelineError(f"{student_id} has no extension for {lesson_id}: nothing to revoke")
        revoked = ExtensionRevoked(student_id, lesson_id, planned_due, revoked_by or current_user(), clock.now(), reason.strip())
        ledger.add_revocation(revoked)
        refresh_lateness(course, ledger, student_ids=[student_id])
    return revoked


def _planned_due(course: CourseConfig, *, student_id: str, lesson_id: str, reason: str) -> dt.datetime:
    """The student's due date for the lesson before any extension, after checking the request."""
    validate_student_id(student_id)
    lesson = course.lesson(lesson_id)
    students = {s.id: s for s in load_roster(course.roster_path, timezone=course.timezone)}
    if student_id not in students:
        raise PacelineError(f"unknown student {student_id!r}: not in {course.roster_path.name}")
    if not reason.strip():
        raise PacelineError("say why (--reason): extensions are part of the student's record")
    planned = personal_dates(course, student=students[student_id], lesson=lesson)
    if planned.due_at is None:
        raise PacelineError(f"{lesson_id} has no due date for {student_id}: there is nothing to extend")
    return planned.due_at

