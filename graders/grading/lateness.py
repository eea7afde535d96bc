"""Lateness, in one place: the penalty, nbgrader's plugin that applies it, extensions, and keeping it current.

- :func:`late_penalty`: the course's ``[late_policy]`` as arithmetic (pure);
- :class:`CourseLatePolicy`: the same policy as nbgrader's late-submission plugin, so
  nbgrader (paceline's grading, formgrader, the ``nbgrader`` command) computes every penalty;
- :func:`grant_extension`: an instructor moves one student's due date for one lesson;
- :func:`student_dues` and :func:`refresh_lateness`: each lesson's effective due date (asked
  of :mod:`graders.course.timeline`: self-pacing, extensions, grace days), and re-applying
  nbgrader's penalty where that date moved since the work was graded (an extension granted
  later, grace days moving to an earlier lesson's resubmission);
- :func:`set_due` and :func:`apply_lateness`: a due date as nbgrader keeps it (the lesson's,
  plus the submission's extension) and its penalty recomputed in the gradebook.

The time that counts is paceline's receipt time (:attr:`~graders.exchange.ledger.Attempt.submitted_at`).
"""

from __future__ import annotations

import datetime as dt
import getpass
import math
from collections.abc import Iterable

import nbformat
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import AssignLatePenalties
from traitlets import Enum, Float

from ..course.clock import Clock, SystemClock
from ..course.plan import LATE_METHODS, CourseConfig, LatePolicy
from ..course.roster import Student, load_roster, validate_student_id
from ..course.timeline import DAY, Extension, LessonDue, lesson_dues, personal_dates
from ..engine.wiring import naive_utc, nbgrader_config, open_gradebook
from ..errors import PacelineError
from ..exchange.ledger import Attempt, Ledger

SECONDS_PER_DAY = 86_400


def late_penalty(policy: LatePolicy, *, score: float, seconds_late: float) -> float:
    """Points to deduct from ``score`` for a submission ``seconds_late`` after its due date.

    ``per_day`` counts every started day: one second late is one day late.
    """
    if seconds_late <= 0 or score <= 0 or policy.method == "none":
        return 0.0
    if policy.method == "zero":
        return float(score)
    days_late = math.ceil(seconds_late / SECONDS_PER_DAY)
    return float(score) * min(policy.cap, policy.per_day * days_late)


class CourseLatePolicy(LateSubmissionPlugin):
    """Configured from ``[late_policy]`` in course.toml through nbgrader's config."""

    method = Enum(LATE_METHODS, default_value="none").tag(config=True)
    per_day = Float(0.0).tag(config=True)
    cap = Float(1.0).tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        policy = LatePolicy(method=self.method, per_day=self.per_day, cap=self.cap)
        return late_penalty(policy, score=score, seconds_late=total_seconds_late)


def grant_extension(
    course: CourseConfig,
    *,
    student_id: str,
    lesson_id: str,
    days: int | None = None,
    until: dt.datetime | None = None,
    reason: str,
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
    due date, or both/neither of ``days`` and ``until``.
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
    extension = Extension(student_id, lesson_id, due_at, granted_by or getpass.getuser(), clock.now(), reason.strip())
    with Ledger.open(course.layout.ledger_path) as ledger:
        ledger.add_extension(extension)
        # Work already graded gets its late penalty recomputed against the new date.
        refresh_lateness(course, ledger, student_ids=[student_id])
    return extension


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


def refresh_lateness(course: CourseConfig, ledger: Ledger, *, student_ids: Iterable[str]) -> list[tuple[Attempt, float]]:
    """Re-apply the late penalty of each listed student's graded work whose due date moved."""
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
    applied = gradebook_dues(course, [(attempt.student_id, attempt.lesson_id) for attempt, _ in counted])
    changed: list[tuple[Attempt, float]] = []
    for attempt, due in counted:
        if due == applied[(attempt.student_id, attempt.lesson_id)]:
            continue
        penalty = apply_lateness(course, student_id=attempt.student_id, lesson_id=attempt.lesson_id, due_at=due)
        ledger.update_score(attempt.id, score=attempt.score or 0.0, late_penalty=penalty)
        changed.append((attempt, penalty))
    return changed


def apply_lateness(course: CourseConfig, *, student_id: str, lesson_id: str, due_at: dt.datetime | None) -> float:
    """Move the graded submission's due date and recompute its late penalty, as nbgrader would.

    Used when an extension is granted or grace days move after the work was
    graded; returns the new penalty.
    """
    config = nbgrader_config(course)
    with open_gradebook(course) as gb:
        set_due(gb.find_submission(lesson_id, student_id), due_at)
        gb.db.commit()
    for path in sorted(course.layout.autograded(student_id=student_id, lesson_id=lesson_id).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        resources = {"nbgrader": {"db_url": course.layout.gradebook_url, "assignment": lesson_id,
                                  "notebook": path.stem, "student": student_id}}
        AssignLatePenalties(config=config).preprocess(nb, resources)
    with open_gradebook(course) as gb:
        return float(gb.find_submission(lesson_id, student_id).late_submission_penalty or 0.0)


def gradebook_dues(course: CourseConfig, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dt.datetime | None]:
    """The due date nbgrader currently applies to each (student, lesson) submission (UTC), read at once."""
    dues: dict[tuple[str, str], dt.datetime | None] = {}
    with open_gradebook(course) as gb:
        for student_id, lesson_id in pairs:
            due = gb.find_submission(lesson_id, student_id).duedate
            dues[(student_id, lesson_id)] = due.replace(tzinfo=dt.timezone.utc) if due is not None else None
    return dues


def set_due(submission, due_at: dt.datetime | None) -> None:
    """nbgrader's due date for one submission is the lesson's plus the submission's extension."""
    lesson_due = submission.assignment.duedate
    if lesson_due is None or due_at is None:
        submission.extension = None
        return
    submission.extension = naive_utc(due_at) - lesson_due
