"""Lateness on its own, beyond the policy's arithmetic (test_late): one list of methods, due dates as
nbgrader keeps them, the attempt that counts, and extensions (no kernels)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.course.roster import load_roster
from graders.errors import PacelineError
from graders.exchange.ledger import Attempt, ExtensionRevoked, Ledger
from graders.grading.lateness import (
    CourseLatePolicy, counted_submissions, grant_extension, revoke_extension, set_due, student_dues,
)

DAY_DELTA = dt.timedelta(days=1)


def test_course_toml_and_the_plugin_know_the_same_methods() -> None:
    from graders.course.plan import LATE_METHODS

    assert CourseLatePolicy.class_traits()["method"].values == LATE_METHODS == ("none", "zero", "per_day")


class _Assignment:
    def __init__(self, duedate):
        self.duedate = duedate


class _Submission:
    """What set_due reads and writes of nbgrader's SubmittedAssignment."""

    def __init__(self, lesson_due):
        self.assignment = _Assignment(lesson_due)
        self.extension = "unset"


def test_a_personal_due_date_becomes_nbgraders_extension() -> None:
    lesson_due = dt.datetime(2026, 9, 20, 21, 59, 59)  # naive UTC, as nbgrader keeps it
    submission = _Submission(lesson_due)
    set_due(submission, dt.datetime(2026, 9, 23, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert submission.extension == dt.timedelta(days=3)
    set_due(submission, None)
    assert submission.extension is None
    no_due = _Submission(None)
    set_due(no_due, dt.datetime(2026, 9, 23, tzinfo=dt.timezone.utc))
    assert no_due.extension is None  # nbgrader cannot extend a lesson without a due date


def _attempt(lesson: str, number: int, status: str, at: dt.datetime) -> Attempt:
    return Attempt(id=number, student_id="ada", lesson_id=lesson, attempt=number, exchange_name=f"{lesson}{number}",
                   received_at=at, claimed_at=None, content_hash="h", size_bytes=1, file_count=1, status=status,
                   score=None, max_score=None, late_penalty=None, graded_at=None, error=None)


def test_the_attempt_that_counts_is_the_latest_graded_one() -> None:
    t = dt.datetime(2026, 9, 8, tzinfo=dt.timezone.utc)
    attempts = [_attempt("01-a", 2, "graded", t + dt.timedelta(days=2)), _attempt("01-a", 1, "graded", t),
                _attempt("01-a", 3, "collected", t + dt.timedelta(days=3)), _attempt("02-b", 4, "failed", t)]
    assert counted_submissions(attempts, include_ungraded=False) == {"01-a": t + dt.timedelta(days=2)}
    assert counted_submissions(attempts, include_ungraded=True) == {"01-a": t + dt.timedelta(days=3)}


def test_an_extension_is_recorded_and_moves_the_students_due_date(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    planned = load_course(fixture_course).lesson("01-add").due_at
    extension = grant_extension(course, student_id="ada", lesson_id="01-add", days=3, reason="medical note",
                                granted_by="tina", clock=SimulatedClock(planned))
    assert (extension.due_at, extension.granted_by, extension.granted_at) == (planned + 3 * DAY_DELTA, "tina", planned)
    with Ledger.open(course.layout.ledger_path) as ledger:
        assert ledger.extensions() == {("ada", "01-add"): extension}
        ada = next(s for s in load_roster(course.roster_path, timezone=course.timezone) if s.id == "ada")
        dues = student_dues(course, ledger, student=ada, include_ungraded=False)
    assert dues["01-add"].due_at == planned + 3 * DAY_DELTA and dues["02-words"].due_at == course.lesson("02-words").due_at


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"student_id": "zed", "days": 1}, "unknown student 'zed'"),
        ({"days": 1, "until": dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)}, "give either --days N or --until DATE"),
        ({"days": 0}, "--days must be at least 1"),
        # The rule is said in the course's time zone (Berlin), not UTC.
        ({"until": dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)},
         "the new due date 2026-09-01 02:00 CEST is not after ada's planned due date for 01-add, 2026-09-20 23:59 CEST"),
        ({"days": 1, "reason": "  "}, "say why"),
    ],
)
def test_extensions_that_make_no_sense_are_refused_and_nothing_is_recorded(fixture_course: Path, options, message) -> None:
    course = load_course(fixture_course)
    arguments = {"student_id": "ada", "lesson_id": "01-add", "reason": "ill"} | options
    with pytest.raises(PacelineError, match=re.escape(message)):
        grant_extension(course, **arguments)
    assert not course.layout.ledger_path.exists()


def test_an_extension_can_be_shortened_and_revoked_and_each_change_is_in_the_audit(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    planned = course.lesson("01-add").due_at
    t0 = planned - 5 * DAY_DELTA
    week = grant_extension(course, student_id="ada", lesson_id="01-add", days=7, reason="medical note", granted_by="tina",
                           clock=SimulatedClock(t0))
    # Shorter than the extension in force but still after the planned date: allowed, and it replaces it.
    two = grant_extension(course, student_id="ada", lesson_id="01-add", days=2, reason="note covers two days",
                          clock=SimulatedClock(t0 + DAY_DELTA))
    assert two.granted_by  # the OS user, when no one is named
    revoked = revoke_extension(course, student_id="ada", lesson_id="01-add", reason="granted to the wrong student",
                               revoked_by="sam", clock=SimulatedClock(t0 + 2 * DAY_DELTA))
    assert revoked == ExtensionRevoked("ada", "01-add", planned, "sam", t0 + 2 * DAY_DELTA, "granted to the wrong student")
    with Ledger.open(course.layout.ledger_path) as ledger:
        assert ledger.extensions() == {}
        assert ledger.extension_history("ada") == [week, two, revoked]
        ada = next(s for s in load_roster(course.roster_path, timezone=course.timezone) if s.id == "ada")
        assert student_dues(course, ledger, student=ada, include_ungraded=False)["01-add"].due_at == planned
    with pytest.raises(PacelineError, match="ada has no extension for 01-add: nothing to revoke"):
        revoke_extension(course, student_id="ada", lesson_id="01-add", reason="again")
    # A new grant after a revocation is in force again.
    again = grant_extension(course, student_id="ada", lesson_id="01-add", days=1, reason="new note", granted_by="tina")
    with Ledger.open(course.layout.ledger_path) as ledger:
        assert ledger.extensions() == {("ada", "01-add"): again}
