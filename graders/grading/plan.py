"""Which collected attempts get graded, against which due date: a pure function of what the course knows.

The first step of grading (plan -> dispatch -> record). :func:`plan_grading`
reads nothing and writes nothing: given the ledger's attempts and
extensions, the roster, and which lessons nbgrader's gradebook holds, it
says which attempts to grade (round-robin by student, :func:`fair_order`), each with the due date that
applies to it and whether it is its student's latest attempt (only that one
goes into nbgrader's gradebook), and which attempts cannot be graded and why.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ..course.plan import CourseConfig
from ..course.roster import Student
from ..course.timeline import Extension, lesson_dues
from ..errors import SubmissionError
from ..exchange.ledger import Attempt
from .lateness import counted_submissions


@dataclass(frozen=True)
class PlannedAttempt:
    """One attempt to grade."""

    attempt: Attempt
    due_at: dt.datetime | None  # the student's effective due date: personal, extended, plus grace days spent
    is_latest: bool  # the student's latest attempt at the lesson: the one nbgrader's gradebook holds


@dataclass(frozen=True)
class RefusedAttempt:
    """One attempt that cannot be graded, and why."""

    attempt: Attempt
    problem: SubmissionError


@dataclass(frozen=True)
class GradingPlan:
    steps: tuple[PlannedAttempt | RefusedAttempt, ...]  # in grading order: round-robin by student (fair_order)

    @property
    def planned(self) -> tuple[PlannedAttempt, ...]:
        return tuple(step for step in self.steps if isinstance(step, PlannedAttempt))

    @property
    def refused(self) -> tuple[RefusedAttempt, ...]:
        return tuple(step for step in self.steps if isinstance(step, RefusedAttempt))


def plan_grading(
    course: CourseConfig,
    *,
    attempts: Sequence[Attempt],
    extensions: Mapping[tuple[str, str], Extension],
    roster: Mapping[str, Student],
    gradebook_lessons: Collection[str],
    lesson_ids: Sequence[str] | None = None,
    regrade: bool = False,
    rounds: int | None = None,
) -> GradingPlan:
    """Plan grading of the named lessons' attempts (all lessons when none are named).

    ``attempts`` are the ledger's attempts (any order); those still
    ``collected`` are graded, or every one with ``regrade``. An attempt of a
    student not on the roster, or of a lesson nbgrader's gradebook does not
    hold yet (not released), is refused. With ``rounds``, only each student's
    oldest ``rounds`` pending attempts are planned (see :func:`fair_order`).
    """
    lessons = course.select_lessons(lesson_ids)
    order = {lesson.id: lesson.order for lesson in lessons}
    mine = sorted((a for a in attempts if a.lesson_id in order), key=lambda a: (order[a.lesson_id], a.student_id, a.attempt))
    latest = {(a.student_id, a.lesson_id): a.attempt for a in mine}
    # Dask starts tasks in the order they are sent: one student's flood must not delay everyone else.
    todo = fair_order([a for a in mine if regrade or a.status == "collected"], lesson_order=order, rounds=rounds)
    steps: list[PlannedAttempt | RefusedAttempt] = []
    by_student: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_student[attempt.student_id].append(attempt)
    dues: dict[str, dict[str, dt.datetime | None]] = {}
    for attempt in todo:
        student = roster.get(attempt.student_id)
        if student is None:
            steps.append(RefusedAttempt(attempt, SubmissionError(
                attempt.student_id, attempt.lesson_id, attempt.attempt, f"not on the roster ({course.roster_path.name}): not graded")))
            continue
        if attempt.lesson_id not in gradebook_lessons:
            steps.append(RefusedAttempt(attempt, SubmissionError(
                "*", attempt.lesson_id, None, "lesson is not in the gradebook: run `paceline release` first")))
            continue
        if student.id not in dues:
            counted = counted_submissions(by_student[student.id], include_ungraded=True)
            dues[student.id] = {lesson_id: due.due_at for lesson_id, due in lesson_dues(
                course, student=student, extensions=extensions, counted_submissions=counted).items()}
        steps.append(PlannedAttempt(attempt, dues[student.id][attempt.lesson_id],
                                    is_latest=latest[(attempt.student_id, attempt.lesson_id)] == attempt.attempt))
    return GradingPlan(tuple(steps))


def fair_order(attempts: Sequence[Attempt], *, lesson_order: Mapping[str, int], rounds: int | None = None) -> list[Attempt]:
    """The order to grade ``attempts`` in: round-robin by student.

    Every student's oldest pending attempt comes first (oldest received
    first), then every student's second, and so on: a student who submitted
    200 times delays nobody else's first attempt. Each student's own attempts
    keep their receipt order. Every attempt is graded, none is skipped or
    superseded: the ledger keeps a score for each. With ``rounds``, only the
    first ``rounds`` rounds (each student's oldest ``rounds`` attempts).
    """
    by_student: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_student.setdefault(attempt.student_id, []).append(attempt)
    ranked = []
    for own in by_student.values():
        own.sort(key=lambda a: (a.received_at, lesson_order[a.lesson_id], a.attempt))
        ranked += [(rank, attempt) for rank, attempt in enumerate(own) if rounds is None or rank < rounds]
    ranked.sort(key=lambda pair: (pair[0], pair[1].received_at, lesson_order[pair[1].lesson_id],
                                  pair[1].student_id, pair[1].attempt))
    return [attempt for _, attempt in ranked]
