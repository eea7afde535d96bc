"""Keeping late penalties in step with personal due dates, extensions and grace days.

The coordinator-side half of :mod:`graders.course.timeline`: it reads who submitted
what from the ledger, asks the timeline for each lesson's effective due date,
and re-applies nbgrader's late penalty where that date moved since the work
was graded (an extension granted later, grace days moving to an earlier
lesson's resubmission).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...course.plan import CourseConfig
from ...course.roster import Student, load_roster
from ...course.timeline import LessonDue, lesson_dues
from ...exchange.ledger import Attempt, Ledger

if TYPE_CHECKING:  # importing nbgrader takes seconds, and only graded work needs it
    from nbgrader.api import Gradebook


def student_dues(course: CourseConfig, ledger: Ledger, *, student: Student, include_ungraded: bool) -> dict[str, LessonDue]:
    """Effective due dates of every lesson for ``student``, grace spent on the attempts that count
    (:func:`counted_submissions`)."""
    counted = counted_submissions(ledger.attempts(student_ids=[student.id]), include_ungraded=include_ungraded)
    return lesson_dues(course, student=student, extensions=ledger.extensions(), counted_submissions=counted)


def counted_submissions(attempts: Iterable[Attempt], *, include_ungraded: bool) -> dict[str, dt.datetime]:
    """Per lesson, the receipt time of the attempt that counts for lateness and grace days.

    That is the student's latest graded attempt; with ``include_ungraded``
    (when grading it) the latest one not known to have failed.
    """
    statuses = ("graded", "collected") if include_ungraded else ("graded",)
    counted: dict[str, tuple[int, dt.datetime]] = {}
    for attempt in attempts:
        if attempt.status in statuses and attempt.attempt >= counted.get(attempt.lesson_id, (0, None))[0]:
            counted[attempt.lesson_id] = (attempt.attempt, attempt.submitted_at)
    return {lesson_id: submitted_at for lesson_id, (_, submitted_at) in counted.items()}


def refresh_lateness(course: CourseConfig, ledger: Ledger, *, student_ids: Iterable[str],
                     gradebook: Gradebook | None = None) -> list[tuple[Attempt, float]]:
    """Re-apply the late penalty of each listed student's graded work whose due date moved.

    ``gradebook`` is the course's, already open (grade's), to read the due dates nbgrader applies;
    without it, it is opened here."""
    students = {s.id: s for s in load_roster(course.roster_path, timezone=course.timezone)}
    counted: list[tuple[Attempt, dt.datetime | None]] = []  # the graded attempt that counts, and its due date
    for student_id in sorted(set(student_ids)):
        if student_id not in students:
            continue
        dues = student_dues(course, ledger, student=students[student_id], include_ungraded=False)
        latest: dict[str, Attempt] = {}
        for attempt in ledger.attempts(student_ids=[student_id]):
            latest[attempt.lesson_id] = attempt
        counted += [(attempt, dues[lesson_id].due_at) for lesson_id, attempt in latest.items()
                    if attempt.status == "graded" and lesson_id in dues]
    if not counted:
        return []  # nothing graded: the gradebook (and importing nbgrader, seconds) is not needed
    from .gradebook import apply_lateness, gradebook_dues

    applied = gradebook_dues(course, [(attempt.student_id, attempt.lesson_id) for attempt, _ in counted], gradebook=gradebook)
    changed: list[tuple[Attempt, float]] = []
    for attempt, due in counted:
        if due == applied[(attempt.student_id, attempt.lesson_id)]:
            continue
        penalty = apply_lateness(course, student_id=attempt.student_id, lesson_id=attempt.lesson_id, due_at=due)
        ledger.update_score(attempt.id, score=attempt.score or 0.0, late_penalty=penalty)
        changed.append((attempt, penalty))
    return changed
