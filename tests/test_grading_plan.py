"""Grading's plan: ledger rows, roster, extensions and the gradebook's lessons in, tasks out (no kernels, no disk)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from graders.course.plan import CourseConfig, GradingSettings, LatePolicy, LessonPlan
from graders.course.roster import Student
from graders.course.timeline import Extension
from graders.exchange.ledger import Attempt
from graders.grading.plan import PlannedAttempt, RefusedAttempt, plan_grading

UTC = dt.timezone.utc
ROOT = Path("/nonexistent/course")  # the plan never touches it


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def course(*, grace_days: int = 0) -> CourseConfig:
    lessons = tuple(
        LessonPlan(id=lesson_id, title=lesson_id, order=order, notebooks=("n.ipynb",), opens_at=utc(2026, 9, order),
                   target_at=utc(2026, 9, 10 * order), due_at=utc(2026, 9, 10 * order, 12))
        for order, lesson_id in ((1, "01-a"), (2, "02-b"))
    )
    return CourseConfig(
        root=ROOT, id="c", title="C", timezone=ZoneInfo("UTC"), roster_path=ROOT / "students.csv",
        source_dir=ROOT / "course_source", exchange_root=ROOT / "exchange", late_policy=LatePolicy(),
        grading=GradingSettings(), lessons=lessons, grace_days=grace_days,
    )


ROSTER = {s.id: s for s in (Student("ada", "Ada", "a@x", utc(2026, 8, 1)), Student("bo", "Bo", "b@x", utc(2026, 8, 1)))}
_ids = iter(range(1, 1000))


def attempt(student: str, lesson: str, number: int, *, at: dt.datetime, status: str = "collected") -> Attempt:
    return Attempt(
        id=next(_ids), student_id=student, lesson_id=lesson, attempt=number, exchange_name=f"{student}+{lesson}+{number}",
        received_at=at, claimed_at=None, content_hash="h", size_bytes=1, file_count=1, status=status,
        score=1.0 if status == "graded" else None, max_score=1.0 if status == "graded" else None,
        late_penalty=0.0 if status == "graded" else None, graded_at=None, error=None,
    )


def plan(attempts, **options):
    options.setdefault("gradebook_lessons", {"01-a", "02-b"})
    options.setdefault("extensions", {})
    options.setdefault("roster", ROSTER)
    return plan_grading(options.pop("course", course()), attempts=attempts, **options)


def test_collected_attempts_are_planned_round_robin_by_student_with_the_latest_marked() -> None:
    b1 = attempt("bo", "02-b", 1, at=utc(2026, 9, 15))
    a2 = attempt("ada", "01-a", 2, at=utc(2026, 9, 9))
    a1 = attempt("ada", "01-a", 1, at=utc(2026, 9, 8), status="graded")
    b_a = attempt("bo", "01-a", 1, at=utc(2026, 9, 8))
    result = plan([b1, a2, a1, b_a])
    assert result.refused == ()
    # Each student's oldest pending attempt first (oldest received first), then each one's second:
    # graded attempts are not graded again.
    assert [(p.attempt.student_id, p.attempt.lesson_id, p.attempt.attempt) for p in result.planned] == [
        ("bo", "01-a", 1), ("ada", "01-a", 2), ("bo", "02-b", 1)]
    assert all(p.is_latest for p in result.planned)
    assert {p.attempt.lesson_id: p.due_at for p in result.planned} == {"01-a": utc(2026, 9, 10, 12), "02-b": utc(2026, 9, 20, 12)}


def test_regrade_plans_every_attempt_and_only_the_latest_goes_to_the_gradebook() -> None:
    first, second = attempt("ada", "01-a", 1, at=utc(2026, 9, 8), status="graded"), attempt("ada", "01-a", 2, at=utc(2026, 9, 9))
    result = plan([second, first], regrade=True)
    assert [(p.attempt.attempt, p.is_latest) for p in result.planned] == [(1, False), (2, True)]


def test_named_lessons_only() -> None:
    result = plan([attempt("ada", "01-a", 1, at=utc(2026, 9, 8)), attempt("ada", "02-b", 1, at=utc(2026, 9, 15))],
                  lesson_ids=["02-b"])
    assert [p.attempt.lesson_id for p in result.planned] == ["02-b"]


def test_students_off_the_roster_and_unreleased_lessons_are_refused_with_the_reason_in_order() -> None:
    stranger = attempt("zed", "01-a", 1, at=utc(2026, 9, 8))
    unreleased = attempt("ada", "02-b", 1, at=utc(2026, 9, 15))
    fine = attempt("bo", "01-a", 1, at=utc(2026, 9, 8))
    result = plan([unreleased, stranger, fine], gradebook_lessons={"01-a"})
    assert [type(step) for step in result.steps] == [PlannedAttempt, RefusedAttempt, RefusedAttempt]
    assert [str(r.problem) for r in result.refused] == [
        "zed / 01-a / attempt 1: not on the roster (students.csv): not graded",
        "* / 02-b: lesson is not in the gradebook: run `paceline release` first",
    ]


def test_due_dates_follow_extensions_and_grace_days() -> None:
    late = attempt("ada", "01-a", 1, at=utc(2026, 9, 12, 13))  # 2 days and 1 hour late: 3 started days
    extension = Extension("bo", "01-a", utc(2026, 9, 30), "teacher", utc(2026, 9, 1), "ill")
    result = plan([late, attempt("bo", "01-a", 1, at=utc(2026, 9, 12))], course=course(grace_days=2),
                  extensions={("bo", "01-a"): extension})
    dues = {p.attempt.student_id: p.due_at for p in result.planned}
    assert dues == {"ada": utc(2026, 9, 12, 12), "bo": utc(2026, 9, 30)}  # grace: 2 of the 3 days


def test_an_empty_ledger_plans_nothing() -> None:
    assert plan([]).steps == ()
