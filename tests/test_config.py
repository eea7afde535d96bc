"""course.toml: typed, validated, errors that name the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from graders.config import load_course
from graders.errors import ConfigError

UTC = dt.timezone.utc


def write(root: Path, text: str) -> Path:
    (root / "course.toml").write_text(text)
    return root


GOOD = """
[course]
id = "c1"
title = "Course one"
timezone = "Europe/Berlin"

[late_policy]
method = "per_day"
per_day = 0.1
cap = 0.5

[[lessons]]
id = "01-add"
title = "Adding"
opens = 2026-09-07T09:00:00
target = 2026-09-13
due = "2026-09-20 17:30"
"""


@pytest.fixture
def course_dir(fixture_course: Path) -> Path:
    return write(fixture_course, GOOD)


def test_dates_are_read_in_course_time_zone_and_stored_in_utc(course_dir: Path) -> None:
    lesson = load_course(course_dir).lessons[0]
    assert lesson.opens_at == dt.datetime(2026, 9, 7, 7, 0, tzinfo=UTC)  # CEST is UTC+2
    assert lesson.target_at == dt.datetime(2026, 9, 13, 21, 59, 59, tzinfo=UTC)  # a bare date means end of day
    assert lesson.due_at == dt.datetime(2026, 9, 20, 15, 30, tzinfo=UTC)
    assert lesson.notebooks == ("add.ipynb",)
    assert lesson.order == 1


def test_the_fixture_and_demo_courses_load() -> None:
    root = Path(__file__).parent.parent
    demo = load_course(root)
    assert [lesson.order for lesson in demo.lessons] == list(range(1, len(demo.lessons) + 1))
    assert len(demo.lessons) >= 6
    assert load_course(root / "tests" / "fixtures" / "course").late_policy.method == "per_day"


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\ncolour = "blue"', "course.colour", "unknown key"),
        ('id = "01-add"', 'id = "99-missing"', "lessons[0].id", "does not exist"),
        ('target = 2026-09-13', 'target = "13/09/2026"', "lessons[0].target", "is not a date"),
        ('due = "2026-09-20 17:30"', 'due = 2026-09-01', "lessons[0].due", "before the lesson opens"),
        ('due = "2026-09-20 17:30"', 'due = 2026-09-10', "lessons[0].due", "before the target"),
        ('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"', "course.timezone", "unknown time zone"),
        ('id = "c1"', 'id = "../c1"', "course.id", "not a safe id"),
        ('method = "per_day"', 'method = "sometimes"', "late_policy.method", "must be none, zero or per_day"),
        ('cap = 0.5', 'cap = 2', "late_policy.cap", "from 0 to 1"),
        ('title = "Adding"\n', '', "lessons[0].title", "required but missing"),
    ],
)
def test_bad_config_names_the_key(course_dir: Path, old: str, new: str, key: str, problem: str) -> None:
    assert old in GOOD
    write(course_dir, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_course(course_dir)
    assert info.value.key == key
    assert problem in str(info.value)
    assert key in str(info.value) and "course.toml" in str(info.value)


def test_invalid_toml_reports_the_line(course_dir: Path) -> None:
    write(course_dir, GOOD + "\n[[lessons]\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 19"):
        load_course(course_dir)


def test_missing_config_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="paceline init"):
        load_course(tmp_path)


def test_duplicate_lesson_ids_are_refused(course_dir: Path) -> None:
    lesson = GOOD[GOOD.index("[[lessons]]"):]
    write(course_dir, GOOD + "\n" + lesson)
    with pytest.raises(ConfigError, match=r"lessons\[1\]\.id: duplicate lesson id '01-add'"):
        load_course(course_dir)


def test_select_lessons_keeps_course_order_and_names_unknown(course_dir: Path) -> None:
    course = load_course(course_dir.parent / "course")
    assert [lesson.id for lesson in course.select_lessons(None)] == ["01-add"]
    with pytest.raises(Exception, match="unknown lesson 'nope'.*01-add"):
        course.select_lessons(["nope"])
