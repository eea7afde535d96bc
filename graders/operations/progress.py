"""A student's progress document: everything paceline knows about one student, as that student sees it.

One pure function, :func:`progress_document`, turns the course plan, the
student's roster entry, their attempts from the ledger, extensions, released
lessons and lesson points into a JSON-ready dict (schema
``paceline-progress/1``, documented in the README). The student's JupyterLab
panel reads it (written by :mod:`.progress_files`), and ``paceline status
STUDENT`` prints the same dict, so the instructor and the student see the same
facts. No files, no clock: the moment is ``as_of``.

Only what a student may see goes in: no other student, no email, no grading
error text (it can quote instructor paths), an extension's reason only when
the instructor marked it shareable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ..course.plan import CourseConfig, LessonPlan
from ..course.roster import Student
from ..course.timeline import Extension, LessonDue, days_late, lesson_dues
from ..exchange.gating import best_fractions, first_passes, is_unlocked
from ..exchange.ledger import Attempt
from ..grading.lateness import counted_submissions

SCHEMA = "paceline-progress/1"
FAILED_TEXT = "this attempt could not be graded; your instructor has the details"
AWAITING_TEXT = "awaiting manual grading"


def progress_document(
    course: CourseConfig,
    *,
    student: Student,
    attempts: Sequence[Attempt],
    extensions: Mapping[tuple[str, str], Extension],
    released: Collection[str],
    max_scores: Mapping[str, float],
    as_of: dt.datetime,
    awaiting_manual: Collection[int] = frozenset(),
) -> dict[str, Any]:
    """The progress document of ``student`` at ``as_of``.

    ``attempts`` are the student's own (any order); ``released`` the lessons
    released so far (gated ones included: they reach a student on unlock);
    ``max_scores`` each lesson's points (for lessons nobody's attempt has
    been graded on yet); ``awaiting_manual`` the ids of attempts with a
    manually graded cell no teacher has marked yet (their score is not final:
    shown empty, as the exported grades show it).
    """
    tz = course.timezone
    mine = sorted((a for a in attempts if a.student_id == student.id), key=lambda a: (a.lesson_id, a.attempt))
    dues = lesson_dues(course, student=student, extensions=extensions,
                       counted_submissions=counted_submissions(mine, include_ungraded=False))
    best = best_fractions(mine)
    withdrawn = student.withdrawn_at is not None and student.withdrawn_at <= as_of
    lessons = [
        _lesson(course, lesson, due=dues[lesson.id], attempts=[a for a in mine if a.lesson_id == lesson.id], best=best,
                released=lesson.id in released, max_score=max_scores.get(lesson.id), withdrawn=withdrawn, as_of=as_of,
                awaiting_manual=awaiting_manual)
        for lesson in course.lessons
    ]
    grace_used = sum(due.grace_spent for due in dues.values())
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "revision": "",
        "generated_at": _iso(as_of, tz),
        "course": {
            "id": course.id, "title": course.title, "timezone": tz.key,
            "start": _day(course.pacing.start if course.pacing else min(l.opens_at for l in course.lessons), tz),
            "end": _day(_course_end(course, dues), tz),
        },
        "student": {
            "id": student.id, "name": student.name, "enrolled_on": _day(student.enrolled_at, tz),
            "withdrawn_on": _day(student.withdrawn_at, tz),
            "grace_days": {"total": course.grace_days, "used": grace_used, "left": max(course.grace_days - grace_used, 0)},
        },
        "summary": _summary(course, student, lessons, dues=dues, attempts=mine, withdrawn=withdrawn, as_of=as_of),
        "lessons": lessons,
    }
    document["revision"] = revision(document)
    return document


def revision(document: Mapping[str, Any]) -> str:
    """A digest of the document's facts: it changes when they do, not when only ``generated_at`` does."""
    facts = {key: value for key, value in document.items() if key not in ("revision", "generated_at")}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _lesson(
    course: CourseConfig, lesson: LessonPlan, *, due: LessonDue, attempts: list[Attempt], best: dict[str, float],
    released: bool, max_score: float | None, withdrawn: bool, as_of: dt.datetime, awaiting_manual: Collection[int],
) -> dict[str, Any]:
    tz = course.timezone
    dates = due.dates
    graded = [a for a in attempts if a.status == "graded" and a.max_score]
    if graded:
        max_score = graded[-1].max_score
    counting = graded[-1] if graded else None  # nbgrader's grade: the latest graded attempt
    best_attempt = max(graded, key=_final, default=None)  # the first of the best, for unlocking
    passed = lesson.id in best and best[lesson.id] >= course.pass_fraction
    unlocked = is_unlocked(course, lesson, best=best)
    grading = bool(attempts) and attempts[-1].status == "collected"
    opens_at = dates.opens_at
    if grading:
        state, text = "submitted", "submitted — grading…"
    elif passed:
        state, text = "passed", f"passed (best score {best[lesson.id]:.0%})"
    elif graded:
        state, text = "graded", (f"graded: best score {best.get(lesson.id, 0.0):.0%}, "
                                 f"{course.pass_fraction:.0%} passes")
    elif not unlocked:
        state, text = "locked", _locked_text(course, lesson, best=best)
    elif as_of < opens_at or not released:
        state = "not_open"
        text = f"opens on {_short_day(opens_at, tz)}" if as_of < opens_at else "opens soon (not released yet)"
    else:
        state, text = "open", "open"
    if withdrawn and state in ("open", "not_open", "locked"):
        text += " (you have withdrawn)"
    marking = counting is not None and counting.id in awaiting_manual
    if marking and state in ("graded", "passed"):
        text += f"; {AWAITING_TEXT}"
    available = state not in ("locked", "not_open")
    requirement = _requirement(course, lesson, best=best)
    return {
        "id": lesson.id, "title": lesson.title, "position": lesson.order, "state": state, "state_text": text,
        "opens_at": _iso(opens_at, tz), "target": _iso(dates.target_at, tz), "due": _iso(dates.due_at, tz),
        "due_text": None if state in ("passed", "submitted") else _due_text(dates.due_at, dates.target_at, as_of, tz),
        "extension": (None if dates.extension is None else
                      {"due": _iso(dates.extension.due_at, tz),
                       "reason": dates.extension.reason if dates.extension.shareable else None}),
        "grace_days_used": due.grace_spent,
        "late_penalty": _late_penalty(counting, due),
        "max_score": max_score,
        "grade_score": _final(counting) if counting and not marking else None,
        "best_score": _final(best_attempt) if best_attempt else None,
        "pass_fraction": course.pass_fraction,
        "unlock": requirement,
        "attempts": [_attempt(course, a, counting=counting, best=best_attempt, awaiting_manual=awaiting_manual)
                     for a in attempts],
        "can_fetch": available,
        "can_submit": available and not withdrawn,
    }


def _attempt(course: CourseConfig, attempt: Attempt, *, counting: Attempt | None, best: Attempt | None,
             awaiting_manual: Collection[int]) -> dict[str, Any]:
    state = {"collected": "grading", "graded": "graded", "failed": "failed"}[attempt.status]
    marking = state == "graded" and attempt.id in awaiting_manual
    has_feedback = attempt.status == "graded" and attempt.feedback_digest is not None and attempt.feedback_error is None
    return {
        "number": attempt.attempt,
        "received_at": _iso(attempt.received_at, course.timezone),
        # The student's own submission time, as their side wrote it (never trusted): how their server
        # tells which fetched feedback folder is this attempt's.
        "claimed_at": (attempt.claimed_at.astimezone(course.timezone).isoformat(timespec="microseconds")
                       if attempt.claimed_at else None),
        "state": state,
        "score": _final(attempt) if state == "graded" and not marking else None,
        "max_score": attempt.max_score,
        "points_deducted": (attempt.late_penalty or 0.0) if state == "graded" else None,
        "counts_for_grade": counting is not None and attempt.id == counting.id,
        "counts_for_unlock": best is not None and attempt.id == best.id,
        "failure": FAILED_TEXT if state == "failed" else None,
        "awaiting_manual_grading": marking,
        "imported": attempt.origin == "imported",  # graded by the course's nbgrader before it moved to paceline
        "feedback_url": f"paceline/feedback/{attempt.lesson_id}/{attempt.attempt}" if has_feedback else None,
    }


def _final(attempt: Attempt) -> float:
    """The points an attempt earned after its late penalty (what nbgrader's grade and gating count)."""
    return round((attempt.score or 0.0) - (attempt.late_penalty or 0.0), 6)


def _requirement(course: CourseConfig, lesson: LessonPlan, *, best: dict[str, float]) -> dict[str, Any] | None:
    """The first requirement not met yet (the last one when all are met); None for an ungated lesson."""
    if not lesson.requires:
        return None
    unmet = [r for r in lesson.requires if best.get(r, 0.0) < course.pass_fraction]
    required = unmet[0] if unmet else lesson.requires[-1]
    return {"requires": required, "fraction": course.pass_fraction,
            "best_so_far": round(best[required], 6) if required in best else None}


def _locked_text(course: CourseConfig, lesson: LessonPlan, *, best: dict[str, float]) -> str:
    parts = []
    for required in lesson.requires:
        if best.get(required, 0.0) >= course.pass_fraction:
            continue
        so_far = f"best so far {best[required]:.0%}" if required in best else "no graded attempt yet"
        parts.append(f"your best score on {required} reaches {course.pass_fraction:.0%} ({so_far})")
    return "locked — unlocks when " + " and ".join(parts)


def _late_penalty(counting: Attempt | None, due: LessonDue) -> dict[str, Any] | None:
    """Why the attempt that counts lost points: days late against the personal (extended) due date,
    the grace days that covered some of them, and nbgrader's deduction for the rest."""
    if counting is None:
        return None
    late = days_late(counting.submitted_at, due.dates.due_at)
    if late == 0:
        return None
    points = counting.late_penalty or 0.0
    grace = due.grace_spent
    parts = [f"submitted {late} day{'s' * (late != 1)} late"]
    if grace:
        parts.append(f"{grace} grace day{'s' * (grace != 1)} applied")
    parts.append(f"{points:g} point{'s' * (points != 1)} deducted" if points else "no points deducted")
    return {"days_late": late, "grace_days_applied": grace, "points_deducted": points, "text": "; ".join(parts)}


def _summary(
    course: CourseConfig, student: Student, lessons: list[dict[str, Any]], *, dues: Mapping[str, LessonDue],
    attempts: list[Attempt], withdrawn: bool, as_of: dt.datetime,
) -> dict[str, Any]:
    tz = course.timezone
    passed = sum(1 for lesson in lessons if lesson["state"] == "passed")
    expected = sum(1 for due in dues.values() if due.dates.target_at <= as_of)
    total = len(lessons)
    if withdrawn:
        pace, text = "withdrawn", f"you withdrew on {_short_day(student.withdrawn_at, tz)}"
    elif passed == total:
        pace, text = "finished", f"all {total} lessons passed"
    elif not attempts:
        pace = "not_started" if expected == 0 else "behind"
        text = ("not started yet" if expected == 0 else
                f"not started: {_lessons(expected)} expected by today")
    elif passed < expected:
        pace, text = "behind", f"{_lessons(expected - passed)} behind your plan ({passed} of {expected} expected by today)"
    elif passed > expected:
        pace, text = "ahead", f"{_lessons(passed - expected)} ahead of your plan ({passed} passed, {expected} expected by today)"
    else:
        pace, text = "on_track", f"on track ({passed} passed, {expected} expected by today)"
    return {
        "passed": passed, "expected_by_today": expected, "pace": pace, "pace_text": text,
        "projected_finish": _day(_projected_finish(student, passed=passed, total=total, as_of=as_of, begin=_begin(course, student)), tz)
        if pace not in ("withdrawn", "finished") else None,
        # A finisher's finish is a fact, not a projection: the day their last lesson was passed.
        "finished_on": _day(max(first_passes(course, attempts).values(), default=None), tz) if pace == "finished" else None,
        "course_end": _day(_course_end(course, dues), tz),
        "next": _next(lessons, withdrawn=withdrawn, tz=tz),
    }


def _begin(course: CourseConfig, student: Student) -> dt.datetime:
    first_open = min(lesson.opens_at for lesson in course.lessons)
    return max(student.enrolled_at, course.pacing.start if course.pacing else first_open)


def _projected_finish(student: Student, *, passed: int, total: int, as_of: dt.datetime, begin: dt.datetime) -> dt.datetime | None:
    """At the student's own pace so far: the time since they began per lesson passed, for each lesson left.
    None before the first pass (no pace to go by)."""
    if passed == 0 or passed >= total or as_of <= begin:
        return None
    return as_of + (as_of - begin) / passed * (total - passed)


def _next(lessons: list[dict[str, Any]], *, withdrawn: bool, tz) -> dict[str, Any]:
    if withdrawn:
        return {"lesson": None, "text": "nothing: you have withdrawn from the course"}
    for lesson in lessons:
        if lesson["state"] == "passed":
            continue
        lid = lesson["id"]
        if lesson["state"] == "submitted":
            return {"lesson": lid, "text": f"Wait for {lid} to be graded (usually a minute or two)"}
        if lesson["state"] in ("open", "graded"):
            verb = "Improve and resubmit" if lesson["state"] == "graded" else "Submit"
            when = f": {lesson['due_text']}" if lesson["due_text"] else ""
            return {"lesson": lid, "text": f"{verb} {lid}{when}"}
        if lesson["state"] == "locked":
            unlock = lesson["unlock"]
            so_far = "" if unlock["best_so_far"] is None else f" (best so far {unlock['best_so_far']:.0%})"
            return {"lesson": unlock["requires"],
                    "text": f"Reach {unlock['fraction']:.0%} on {unlock['requires']} to unlock {lid}{so_far}"}
        return {"lesson": lid, "text": f"{lid} {lesson['state_text']}"}
    return {"lesson": None, "text": "Nothing left: every lesson is passed"}


def _due_text(due: dt.datetime | None, target: dt.datetime, as_of: dt.datetime, tz) -> str | None:
    """How far away the due date (or, without one, the target) is, in calendar days of the course's time zone."""
    when, label = (due, "due") if due is not None else (target, "target")
    if as_of > when:
        late = days_late(as_of, when)
        return f"{late} day{'s' * (late != 1)} late" if label == "due" else f"target passed {late} day{'s' * (late != 1)} ago"
    days = (when.astimezone(tz).date() - as_of.astimezone(tz).date()).days
    if days == 0:
        return f"{label} today"
    prefix = "in" if label == "due" else "target in"
    return f"{prefix} {days} day{'s' * (days != 1)} ({_short_day(when, tz)})"


def _course_end(course: CourseConfig, dues: Mapping[str, LessonDue]) -> dt.datetime:
    if course.pacing is not None and course.pacing.course_end is not None:
        return course.pacing.course_end
    return max(max(d.dates.target_at, d.dates.due_at or d.dates.target_at) for d in dues.values())


def _lessons(count: int) -> str:
    return f"{count} lesson{'s' * (count != 1)}"


def _iso(when: dt.datetime | None, tz) -> str | None:
    return when.astimezone(tz).isoformat(timespec="seconds") if when is not None else None


def _day(when: dt.datetime | None, tz) -> str | None:
    return when.astimezone(tz).date().isoformat() if when is not None else None


def _short_day(when: dt.datetime, tz) -> str:
    local = when.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}"

