"""Self-paced courses: lesson dates that follow from a student's own enrolment.

The one place self-paced dates are computed: the course plan uses it for the
nominal plan (a student enrolled at ``[pacing] start``), the timeline for
each student's own dates. Pure: no files, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Pacing:
    """Self-paced mode: each student's targets follow from their own enrolment.

    Lesson k's target is the end of the day ``enrolled_at + days(1) + ... + days(k)``
    (``days`` per lesson, default ``days_per_lesson``); its hard due date is
    ``due_after_days`` later (none when unset); nothing is due after ``course_end``.
    """

    start: dt.datetime  # enrolment opens; the nominal plan is for a student enrolled then
    days_per_lesson: int = 7
    due_after_days: int | None = None
    course_end: dt.datetime | None = None


def paced_dates(
    pacing: Pacing, *, timezone: ZoneInfo, enrolled_at: dt.datetime, opens: dt.datetime | None, elapsed_days: int,
) -> tuple[dt.datetime, dt.datetime, dt.datetime | None]:
    """(opens, target, due) of a lesson ``elapsed_days`` of pace after enrolment.

    Targets and due dates fall at the end of a day in the course's time zone,
    as a date written in course.toml would.
    """
    begin = max(enrolled_at, pacing.start)
    opens_at = max(begin, opens) if opens is not None else begin
    target_day = (begin.astimezone(timezone) + dt.timedelta(days=elapsed_days)).date()
    target_at = _end_of_day(target_day, timezone)
    due_at = None
    if pacing.due_after_days is not None:
        due_at = _end_of_day(target_day + dt.timedelta(days=pacing.due_after_days), timezone)
    if pacing.course_end is not None:
        target_at = min(target_at, pacing.course_end)
        due_at = min(due_at, pacing.course_end) if due_at is not None else pacing.course_end
    return opens_at, max(target_at, opens_at), due_at


def _end_of_day(day: dt.date, timezone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=timezone).astimezone(dt.timezone.utc)
