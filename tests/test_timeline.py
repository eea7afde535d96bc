"""Personal timelines: cohort and self-paced dates, extensions, grace days (no kernels)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from graders.course.plan import load_course
from graders.course.roster import Student
from graders.course.timeline import Extension, allocate_grace, days_late, lesson_dues, personal_dates
from graders.errors import ConfigError

UTC = dt.timezone.utc


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def self_paced(course_dir: Path, extra: str = "") -> Path:
    text = (course_dir / "course.toml").read_text()
    text = text.replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\nmode = "self-paced"')
    text = re.sub(r"opens = .*\ntarget = .*\ndue = .*\n", "", text)
    text = text.replace('title = "Counting words"', 'title = "Counting words"\nrequires = ["01-add"]\ndays = 10')
    (course_dir / "course.toml").write_text(text + "\n[pacing]\nstart = 2026-09-07\ndays_per_lesson = 7\ndue_after_days = 7\n" + extra)
    return course_dir


def test_cohort_dates_are_the_lesson_dates(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    late_joiner = Student("z", "Z", "z@x.org", utc(2026, 9, 30))
    dates = personal_dates(course, student=late_joiner, lesson=course.lessons[0])
    assert (dates.opens_at, dates.target_at, dates.due_at) == (course.lessons[0].opens_at, course.lessons[0].target_at, course.lessons[0].due_at)


def test_self_paced_dates_follow_each_students_enrolment(fixture_course: Path) -> None:
    course = load_course(self_paced(fixture_course))
    assert course.mode == "self-paced" and course.lessons[1].requires == ("01-add",)
    early = Student("e", "E", "e@x.org", utc(2026, 9, 1))  # before the course starts: paced from the start
    late = Student("l", "L", "l@x.org", utc(2026, 9, 20, 10))  # 12:00 in Berlin
    first, second = course.lessons
    assert personal_dates(course, student=early, lesson=first).target_at == utc(2026, 9, 14, 21, 59, 59)
    late_first = personal_dates(course, student=late, lesson=first)
    assert late_first.opens_at == utc(2026, 9, 20, 10)
    assert late_first.target_at == utc(2026, 9, 27, 21, 59, 59)  # 7 days after enrolling, end of day in Berlin
    assert late_first.due_at == utc(2026, 10, 4, 21, 59, 59)  # due_after_days = 7
    assert personal_dates(course, student=late, lesson=second).target_at == utc(2026, 10, 7, 21, 59, 59)  # + 10 days


def test_course_end_caps_every_date(fixture_course: Path) -> None:
    course = load_course(self_paced(fixture_course, "course_end = 2026-10-01\n"))
    late = Student("l", "L", "l@x.org", utc(2026, 9, 25))
    dates = personal_dates(course, student=late, lesson=course.lessons[1])
    assert dates.target_at == dates.due_at == utc(2026, 10, 1, 21, 59, 59)


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (lambda t: t.split("[pacing]")[0], "pacing", "required in a self-paced course"),
        (lambda t: t.replace('title = "Adding numbers"', 'title = "Adding numbers"\ntarget = 2026-09-13'), "lessons[0].target", "not used in a self-paced course"),
        (lambda t: t.replace('requires = ["01-add"]', 'requires = ["02-words"]'), "lessons[1].requires", "not an earlier lesson"),
        (lambda t: t.replace("days_per_lesson = 7", "days_per_lesson = 0"), "pacing.days_per_lesson", "at least 1"),
    ],
)
def test_bad_self_paced_config_names_the_key(fixture_course: Path, change, key: str, problem: str) -> None:
    path = self_paced(fixture_course) / "course.toml"
    path.write_text(change(path.read_text()))
    with pytest.raises(ConfigError) as info:
        load_course(fixture_course)
    assert info.value.key == key and problem in str(info.value)


def test_pacing_table_in_a_cohort_course_is_refused(fixture_course: Path) -> None:
    path = fixture_course / "course.toml"
    path.write_text(path.read_text() + "\n[pacing]\nstart = 2026-09-07\n")
    with pytest.raises(ConfigError, match="pacing: is only for self-paced courses"):
        load_course(fixture_course)


def test_extension_moves_due_and_target_together(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    ada = Student("ada", "Ada", "a@x.org", utc(2026, 9, 1))
    lesson = course.lessons[0]
    extension = Extension("ada", lesson.id, lesson.due_at + dt.timedelta(days=3), "me", utc(2026, 9, 15), "ill")
    dates = personal_dates(course, student=ada, lesson=lesson, extension=extension)
    assert dates.due_at == lesson.due_at + dt.timedelta(days=3)
    assert dates.target_at == lesson.target_at + dt.timedelta(days=3)
    assert dates.planned_due_at == lesson.due_at and dates.extension == extension


def test_days_late_counts_started_days() -> None:
    due = utc(2026, 9, 20, 21, 59, 59)
    assert days_late(due, due) == 0
    assert days_late(due + dt.timedelta(seconds=1), due) == 1
    assert days_late(due + dt.timedelta(days=2, seconds=1), due) == 3
    assert days_late(due + dt.timedelta(days=9), None) == 0


def test_grace_is_spent_in_course_order_until_gone() -> None:
    assert allocate_grace([("a", 2), ("b", 0), ("c", 3), ("d", 1)], budget=3) == {"a": 2, "b": 0, "c": 1, "d": 0}
    assert allocate_grace([("a", 5)], budget=0) == {"a": 0}


def test_lesson_dues_spend_grace_on_the_counting_attempts(fixture_course: Path) -> None:
    path = fixture_course / "course.toml"
    path.write_text(path.read_text() + "\n[grace]\ndays = 2\n")
    course = load_course(fixture_course)
    ada = Student("ada", "Ada", "a@x.org", utc(2026, 9, 1))
    first, second = course.lessons
    counted = {first.id: first.due_at + dt.timedelta(hours=30), second.id: second.due_at + dt.timedelta(hours=50)}
    dues = lesson_dues(course, student=ada, extensions={}, counted_submissions=counted)
    assert (dues[first.id].grace_spent, dues[second.id].grace_spent) == (2, 0)  # 2 days late eats the budget
    assert dues[first.id].due_at == first.due_at + dt.timedelta(days=2)
    assert dues[second.id].due_at == second.due_at
