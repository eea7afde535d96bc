"""The progress document builder on hand-built courses, students and ledger rows (no files, no clock)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from graders.course.plan import CourseConfig, GradingSettings, LatePolicy, LessonPlan
from graders.course.roster import Student
from graders.course.timeline import Extension
from graders.exchange.ledger import Attempt
from graders.operations.progress import FAILED_TEXT, SCHEMA, progress_document, revision

BERLIN = ZoneInfo("Europe/Berlin")
AS_OF = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.timezone.utc)  # Mon 30 Nov, 14:00 in Berlin


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN).astimezone(dt.timezone.utc)


def lesson(order: int, lesson_id: str, title: str, opens: tuple, target: tuple, due: tuple | None,
           requires: tuple[str, ...] = ()) -> LessonPlan:
    return LessonPlan(id=lesson_id, title=title, order=order, notebooks=(f"{lesson_id}.ipynb",),
                      opens_at=berlin(*opens), target_at=berlin(*target, 23, 59, 59),
                      due_at=berlin(*due, 23, 59, 59) if due else None, requires=requires)


COURSE = CourseConfig(
    root=Path("/course"), id="py101", title="Python 101", timezone=BERLIN, roster_path=Path("/course/students.csv"),
    source_dir=Path("/course/course_source"), exchange_root=Path("/course/.paceline/exchange"),
    late_policy=LatePolicy(method="per_day", per_day=0.1, cap=1.0), grading=GradingSettings(),
    lessons=(
        lesson(1, "01-intro", "Intro", (2026, 11, 2), (2026, 11, 9), (2026, 11, 12)),
        lesson(2, "02-control-flow", "Control flow", (2026, 11, 9), (2026, 11, 16), (2026, 11, 19), requires=("01-intro",)),
        lesson(3, "03-functions", "Functions", (2026, 12, 3), (2026, 12, 10), (2026, 12, 13)),
    ),
    grace_days=2, pass_fraction=0.6,
)
ADA = Student("ada", "Ada Lovelace", "ada@example.org", berlin(2026, 10, 20, 9, 0))
RELEASED = {"01-intro", "02-control-flow"}
POINTS = {"01-intro": 3.0, "02-control-flow": 2.0, "03-functions": 4.0}


def attempt(number: int, lesson_id: str, received: dt.datetime, *, status: str = "graded", score: float | None = None,
            max_score: float | None = None, penalty: float | None = None, error: str | None = None,
            feedback: bool = True, student_id: str = "ada", origin: str = "collected") -> Attempt:
    graded = status == "graded"
    return Attempt(
        id=hash((student_id, lesson_id, number)) % 10_000, student_id=student_id, lesson_id=lesson_id, attempt=number,
        exchange_name=f"{student_id}+{lesson_id}+{number}", received_at=received, claimed_at=received, content_hash="h",
        size_bytes=1, file_count=1, status=status, score=score if graded else None,
        max_score=(max_score or POINTS[lesson_id]) if graded else None, late_penalty=(penalty or 0.0) if graded else None,
        graded_at=received + dt.timedelta(minutes=1) if status != "collected" else None, error=error,
        feedback_digest="d" if graded and feedback else None, origin=origin,
    )


def build(student: Student = ADA, attempts: list[Attempt] = (), extensions: dict | None = None,
          as_of: dt.datetime = AS_OF, course: CourseConfig = COURSE, awaiting_manual: frozenset[int] = frozenset()) -> dict:
    return progress_document(course, student=student, attempts=list(attempts), extensions=extensions or {},
                             released=RELEASED, max_scores=POINTS, as_of=as_of, awaiting_manual=awaiting_manual)


def test_a_student_without_submissions_gets_the_whole_document() -> None:
    document = build()
    assert document == {
        "schema": SCHEMA,
        "revision": revision(document),
        "generated_at": "2026-11-30T14:00:00+01:00",
        "course": {"id": "py101", "title": "Python 101", "timezone": "Europe/Berlin", "start": "2026-11-02",
                   "end": "2026-12-13"},
        "student": {"id": "ada", "name": "Ada Lovelace", "enrolled_on": "2026-10-20", "withdrawn_on": None,
                    "grace_days": {"total": 2, "used": 0, "left": 2}},
        "summary": {"passed": 0, "expected_by_today": 2, "pace": "behind",
                    "pace_text": "not started: 2 lessons expected by today", "projected_finish": None,
                    "finished_on": None, "course_end": "2026-12-13",
                    "next": {"lesson": "01-intro", "text": "Submit 01-intro: 18 days late"}},
        "lessons": [
            {"id": "01-intro", "title": "Intro", "position": 1, "state": "open", "state_text": "open",
             "opens_at": "2026-11-02T00:00:00+01:00", "target": "2026-11-09T23:59:59+01:00",
             "due": "2026-11-12T23:59:59+01:00", "due_text": "18 days late", "extension": None, "grace_days_used": 0,
             "late_penalty": None, "max_score": 3.0, "grade_score": None, "best_score": None, "pass_fraction": 0.6,
             "unlock": None, "attempts": [], "can_fetch": True, "can_submit": True},
            {"id": "02-control-flow", "title": "Control flow", "position": 2, "state": "locked",
             "state_text": "locked — unlocks when your best score on 01-intro reaches 60% (no graded attempt yet)",
             "opens_at": "2026-11-09T00:00:00+01:00", "target": "2026-11-16T23:59:59+01:00",
             "due": "2026-11-19T23:59:59+01:00", "due_text": "11 days late", "extension": None, "grace_days_used": 0,
             "late_penalty": None, "max_score": 2.0, "grade_score": None, "best_score": None, "pass_fraction": 0.6,
             "unlock": {"requires": "01-intro", "fraction": 0.6, "best_so_far": None}, "attempts": [],
             "can_fetch": False, "can_submit": False},
            {"id": "03-functions", "title": "Functions", "position": 3, "state": "not_open",
             "state_text": "opens on Thu 3 Dec", "opens_at": "2026-12-03T00:00:00+01:00",
             "target": "2026-12-10T23:59:59+01:00", "due": "2026-12-13T23:59:59+01:00",
             "due_text": "in 13 days (Sun 13 Dec)", "extension": None, "grace_days_used": 0, "late_penalty": None,
             "max_score": 4.0, "grade_score": None, "best_score": None, "pass_fraction": 0.6, "unlock": None,
             "attempts": [], "can_fetch": False, "can_submit": False},
        ],
    }
    json.dumps(document)  # JSON as it is: no datetimes, no tuples


def test_the_revision_changes_with_the_facts_not_with_the_time_alone() -> None:
    first = build()
    assert build(as_of=AS_OF + dt.timedelta(minutes=5))["revision"] == first["revision"]
    assert build(as_of=AS_OF + dt.timedelta(days=1))["revision"] != first["revision"]  # "19 days late" now
    graded = build(attempts=[attempt(1, "01-intro", berlin(2026, 11, 10, 12, 0), score=3.0)])
    assert graded["revision"] != first["revision"]


def test_a_gated_lesson_names_its_requirement_and_the_best_score_so_far() -> None:
    attempts = [attempt(1, "01-intro", berlin(2026, 11, 8, 10, 0), score=1.0),
                attempt(2, "01-intro", berlin(2026, 11, 9, 10, 0), score=1.35)]
    document = build(attempts=attempts)
    intro, gated, _ = document["lessons"]
    assert gated["state"] == "locked"
    assert gated["state_text"] == "locked — unlocks when your best score on 01-intro reaches 60% (best so far 45%)"
    assert gated["unlock"] == {"requires": "01-intro", "fraction": 0.6, "best_so_far": 0.45}
    assert intro["state"] == "graded"
    assert intro["state_text"] == "graded: best score 45%, 60% passes"
    assert document["summary"]["next"] == {"lesson": "01-intro", "text": "Improve and resubmit 01-intro: 18 days late"}

    passing = build(attempts=[*attempts, attempt(3, "01-intro", berlin(2026, 11, 9, 20, 0), score=3.0)])
    intro, gated, _ = passing["lessons"]
    assert (intro["state"], intro["state_text"]) == ("passed", "passed (best score 100%)")
    assert (gated["state"], gated["state_text"], gated["can_fetch"]) == ("open", "open", True)
    assert gated["unlock"] == {"requires": "01-intro", "fraction": 0.6, "best_so_far": 1.0}
    assert passing["summary"]["next"] == {"lesson": "02-control-flow", "text": "Submit 02-control-flow: 11 days late"}


def test_attempts_say_which_counts_for_the_grade_and_which_for_unlocking() -> None:
    attempts = [attempt(1, "01-intro", berlin(2026, 11, 8, 10, 0), score=3.0),
                attempt(2, "01-intro", berlin(2026, 11, 9, 10, 0), score=2.0, feedback=False)]
    intro = build(attempts=attempts)["lessons"][0]
    assert intro["attempts"] == [
        {"number": 1, "received_at": "2026-11-08T10:00:00+01:00",
         "claimed_at": "2026-11-08T10:00:00.000000+01:00", "state": "graded", "score": 3.0, "max_score": 3.0,
         "points_deducted": 0.0, "counts_for_grade": False, "counts_for_unlock": True, "failure": None,
         "awaiting_manual_grading": False, "imported": False,
         "feedback_url": "paceline/feedback/01-intro/1"},
        {"number": 2, "received_at": "2026-11-09T10:00:00+01:00",
         "claimed_at": "2026-11-09T10:00:00.000000+01:00", "state": "graded", "score": 2.0, "max_score": 3.0,
         "points_deducted": 0.0, "counts_for_grade": True, "counts_for_unlock": False, "failure": None,
         "awaiting_manual_grading": False, "imported": False,
         "feedback_url": None},
    ]
    assert (intro["grade_score"], intro["best_score"], intro["state"], intro["due_text"]) == (2.0, 3.0, "passed", None)


@pytest.mark.parametrize("shareable, reason", [(True, "medical note"), (False, None)])
def test_an_extension_shows_its_new_date_and_its_reason_only_when_shareable(shareable: bool, reason: str | None) -> None:
    extension = Extension("ada", "01-intro", berlin(2026, 11, 20, 23, 59, 59), "tina", berlin(2026, 11, 10, 9, 0),
                          "medical note", shareable)
    attempts = [attempt(1, "01-intro", berlin(2026, 11, 18, 10, 0), score=3.0)]
    intro = build(attempts=attempts, extensions={("ada", "01-intro"): extension})["lessons"][0]
    assert intro == {
        "id": "01-intro", "title": "Intro", "position": 1, "state": "passed", "state_text": "passed (best score 100%)",
        "opens_at": "2026-11-02T00:00:00+01:00", "target": "2026-11-17T23:59:59+01:00",
        "due": "2026-11-20T23:59:59+01:00", "due_text": None,
        "extension": {"due": "2026-11-20T23:59:59+01:00", "reason": reason},
        "grace_days_used": 0, "late_penalty": None, "max_score": 3.0, "grade_score": 3.0, "best_score": 3.0,
        "pass_fraction": 0.6, "unlock": None, "attempts": [
            {"number": 1, "received_at": "2026-11-18T10:00:00+01:00",
             "claimed_at": "2026-11-18T10:00:00.000000+01:00", "state": "graded", "score": 3.0, "max_score": 3.0,
             "points_deducted": 0.0, "counts_for_grade": True, "counts_for_unlock": True, "failure": None,
             "awaiting_manual_grading": False, "imported": False,
             "feedback_url": "paceline/feedback/01-intro/1"}],
        "can_fetch": True, "can_submit": True,
    }
    assert "medical note" not in json.dumps(build(attempts=attempts, extensions={("ada", "01-intro"): dataclasses.replace(
        extension, shareable=False)}))


def test_grace_days_spent_and_the_late_penalty_explained() -> None:
    # Due Thu 12 Nov 23:59:59; received Sun 15 Nov: 3 started days late, 2 grace days, 1 day's 10% of 3 points.
    attempts = [attempt(1, "01-intro", berlin(2026, 11, 15, 10, 0), score=3.0, penalty=0.3)]
    document = build(attempts=attempts)
    intro = document["lessons"][0]
    assert intro["late_penalty"] == {"days_late": 3, "grace_days_applied": 2, "points_deducted": 0.3,
                                     "text": "submitted 3 days late; 2 grace days applied; 0.3 points deducted"}
    assert (intro["grace_days_used"], intro["grade_score"], intro["attempts"][0]["points_deducted"]) == (2, 2.7, 0.3)
    assert document["student"]["grace_days"] == {"total": 2, "used": 2, "left": 0}


def test_late_work_fully_covered_by_grace_days_says_so() -> None:
    attempts = [attempt(1, "01-intro", berlin(2026, 11, 14, 10, 0), score=3.0)]
    assert build(attempts=attempts)["lessons"][0]["late_penalty"] == {
        "days_late": 2, "grace_days_applied": 2, "points_deducted": 0.0,
        "text": "submitted 2 days late; 2 grace days applied; no points deducted"}


def test_an_attempt_still_grading_and_a_failed_attempt() -> None:
    attempts = [attempt(1, "01-intro", berlin(2026, 11, 8, 10, 0), score=1.0),
                attempt(2, "01-intro", berlin(2026, 11, 8, 11, 0), status="failed",
                        error="ada / 01-intro / attempt 2: archived files missing at /course/submitted/.attempts/ada"),
                attempt(3, "01-intro", berlin(2026, 11, 30, 13, 55), status="collected")]
    document = build(attempts=attempts)
    intro = document["lessons"][0]
    assert (intro["state"], intro["state_text"], intro["grade_score"]) == ("submitted", "submitted — grading…", 1.0)
    assert intro["attempts"][1:] == [
        {"number": 2, "received_at": "2026-11-08T11:00:00+01:00",
         "claimed_at": "2026-11-08T11:00:00.000000+01:00", "state": "failed", "score": None, "max_score": None,
         "points_deducted": None, "counts_for_grade": False, "counts_for_unlock": False, "failure": FAILED_TEXT,
         "awaiting_manual_grading": False, "imported": False,
         "feedback_url": None},
        {"number": 3, "received_at": "2026-11-30T13:55:00+01:00",
         "claimed_at": "2026-11-30T13:55:00.000000+01:00", "state": "grading", "score": None, "max_score": None,
         "points_deducted": None, "counts_for_grade": False, "counts_for_unlock": False, "failure": None,
         "awaiting_manual_grading": False, "imported": False,
         "feedback_url": None},
    ]
    assert "/course" not in json.dumps(document)  # the grader's error names instructor paths: never shown
    assert document["summary"]["next"] == {"lesson": "01-intro", "text": "Wait for 01-intro to be graded (usually a minute or two)"}


def test_an_imported_attempt_awaiting_manual_grading_has_no_score_yet() -> None:
    """As the exported grades: a score a teacher has not finished marking is empty, never a partial number."""
    imported = attempt(1, "01-intro", berlin(2026, 11, 8, 10, 0), score=2.0, origin="imported")
    later = attempt(2, "01-intro", berlin(2026, 11, 9, 10, 0), score=1.0)
    intro = build(attempts=[imported], awaiting_manual=frozenset({imported.id}))["lessons"][0]
    assert intro["attempts"] == [
        {"number": 1, "received_at": "2026-11-08T10:00:00+01:00",
         "claimed_at": "2026-11-08T10:00:00.000000+01:00", "state": "graded", "score": None, "max_score": 3.0,
         "points_deducted": 0.0, "counts_for_grade": True, "counts_for_unlock": True, "failure": None,
         "awaiting_manual_grading": True, "imported": True, "feedback_url": "paceline/feedback/01-intro/1"}]
    assert (intro["state"], intro["state_text"], intro["grade_score"]) == (
        "passed", "passed (best score 67%); awaiting manual grading", None)
    # Once a later attempt counts, or the teacher has marked it, the scores are final again.
    resubmitted = build(attempts=[imported, later], awaiting_manual=frozenset({imported.id}))["lessons"][0]
    assert (resubmitted["state_text"], resubmitted["grade_score"]) == ("passed (best score 67%)", 1.0)
    assert [a["awaiting_manual_grading"] for a in resubmitted["attempts"]] == [True, False]
    marked = build(attempts=[imported])["lessons"][0]
    assert (marked["grade_score"], marked["attempts"][0]["score"], marked["attempts"][0]["imported"]) == (2.0, 2.0, True)


def test_a_withdrawn_student() -> None:
    withdrawn = dataclasses.replace(ADA, withdrawn_at=berlin(2026, 11, 20, 12, 0))
    document = build(student=withdrawn, attempts=[attempt(1, "01-intro", berlin(2026, 11, 8, 10, 0), score=3.0)])
    assert document["student"]["withdrawn_on"] == "2026-11-20"
    assert document["summary"] == {
        "passed": 1, "expected_by_today": 2, "pace": "withdrawn", "pace_text": "you withdrew on Fri 20 Nov",
        "projected_finish": None, "finished_on": None, "course_end": "2026-12-13",
        "next": {"lesson": None, "text": "nothing: you have withdrawn from the course"}}
    gated = document["lessons"][1]
    assert (gated["state"], gated["state_text"], gated["can_fetch"], gated["can_submit"]) == (
        "open", "open (you have withdrawn)", True, False)


def test_pace_ahead_on_track_and_finished_with_a_projected_finish() -> None:
    early = dt.datetime(2026, 11, 5, 11, 0, tzinfo=dt.timezone.utc)  # nothing expected yet
    ahead = build(attempts=[attempt(1, "01-intro", berlin(2026, 11, 4, 10, 0), score=3.0)], as_of=early)
    # Began at the first opening (2 Nov 00:00 Berlin), one lesson in 3.5 days: two more take 7 days.
    assert ahead["summary"] == {
        "passed": 1, "expected_by_today": 0, "pace": "ahead",
        "pace_text": "1 lesson ahead of your plan (1 passed, 0 expected by today)", "projected_finish": "2026-11-12",
        "finished_on": None, "course_end": "2026-12-13", "next": {"lesson": "02-control-flow", "text": "02-control-flow opens on Mon 9 Nov"}}
    on_track = build(attempts=[attempt(1, "01-intro", berlin(2026, 11, 4, 10, 0), score=3.0),
                               attempt(1, "02-control-flow", berlin(2026, 11, 12, 10, 0), score=2.0)])
    assert (on_track["summary"]["pace"], on_track["summary"]["pace_text"]) == (
        "on_track", "on track (2 passed, 2 expected by today)")
    assert on_track["summary"]["next"] == {"lesson": "03-functions", "text": "03-functions opens on Thu 3 Dec"}
    # The last lesson passed on its second attempt (after a failed first), and the first was resubmitted
    # later still: the finish is the day the last lesson was first passed.
    done = build(attempts=[attempt(1, "01-intro", berlin(2026, 11, 4, 10, 0), score=3.0),
                           attempt(1, "02-control-flow", berlin(2026, 11, 12, 10, 0), score=2.0),
                           attempt(1, "03-functions", berlin(2026, 11, 28, 12, 0), score=0.0),
                           attempt(2, "03-functions", berlin(2026, 11, 30, 23, 30), score=4.0),
                           attempt(2, "01-intro", berlin(2026, 12, 1, 9, 0), score=3.0)])
    assert {k: done["summary"][k] for k in ("pace", "pace_text", "projected_finish", "finished_on", "next")} == {
        "pace": "finished", "pace_text": "all 3 lessons passed", "projected_finish": None, "finished_on": "2026-11-30",
        "next": {"lesson": None, "text": "Nothing left: every lesson is passed"}}


def test_another_students_attempts_never_reach_the_document() -> None:
    theirs = attempt(1, "01-intro", berlin(2026, 11, 8, 10, 0), score=3.0, student_id="brook")
    assert build(attempts=[theirs]) == build()


def _leaves(value: object, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v, f"{prefix}.{k}" if prefix else k) for k, v in value.items())) if value else {prefix}
    if isinstance(value, list):
        return set().union(*(_leaves(v, f"{prefix}[]") for v in value)) if value else {f"{prefix}[]"}
    return {prefix}


def test_the_readme_documents_every_field_of_the_schema() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("<!-- progress-schema:begin -->\n", 1)[1].split("<!-- progress-schema:end -->", 1)[0]
    documented: set[str] = set()
    for row in table.splitlines()[2:]:
        parent = ""
        for token in re.findall(r"`([^`]+)`", row.split("|")[1]):
            full = parent + token if token.startswith(".") else token
            parent = full.rsplit(".", 1)[0] if "." in full else ""
            documented.add(full)
    extension = Extension("ada", "01-intro", berlin(2026, 11, 13, 23, 59, 59), "tina", berlin(2026, 11, 10, 9, 0), "ill", True)
    full = build(attempts=[attempt(1, "01-intro", berlin(2026, 11, 16, 10, 0), score=3.0, penalty=0.3)],
                 extensions={("ada", "01-intro"): extension})
    assert full["lessons"][0]["extension"] and full["lessons"][0]["late_penalty"] and full["lessons"][1]["unlock"]
    leaves = _leaves(full)
    # An object that is null in one lesson and filled in another is documented by its fields.
    assert documented == {path for path in leaves if not path.endswith("[]") and not any(
        other.startswith(path + ".") for other in leaves)}
