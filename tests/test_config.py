"""course.toml: typed, validated, errors that name the key."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import AtRiskRules
from graders.course.plan import load_course
from graders.errors import ConfigError
from graders.operations.status import at_risk_rules

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


def test_at_risk_thresholds_are_read_with_defaults_for_the_rest(course_dir: Path) -> None:
    assert at_risk_rules(load_course(course_dir)) == AtRiskRules()
    write(course_dir, GOOD + "\n[at_risk]\nbehind_lessons = 3\ninactive_days = 10.5\nprojected_late = false\n")
    assert at_risk_rules(load_course(course_dir)) == AtRiskRules(behind_lessons=3, inactive_days=10.5, projected_late=False)


def test_reading_course_toml_imports_no_analytics(course_dir: Path) -> None:
    # [at_risk] stays plain data in the plan; analytics (pandas, matplotlib) checks it where it is used.
    write(course_dir, GOOD + "\n[at_risk]\nbehind_lessons = 3\n")
    code = ("import sys; from graders.course.plan import load_course; course = load_course(sys.argv[1]); "
            "print(course.at_risk, sorted(m for m in sys.modules if m.split('.')[0] in ('analytics', 'pandas', "
            "'matplotlib', 'nbgrader', 'dask')))")
    result = subprocess.run([sys.executable, "-c", code, str(course_dir)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "(('behind_lessons', 3),) []"


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ("[at_risk]\nbehind_lesons = 2", "at_risk.behind_lesons", "unknown key"),
        ("[at_risk]\nbehind_lessons = 0", "at_risk.behind_lessons", "must be at least 1"),
        ("[at_risk]\ninactive_days = \"two weeks\"", "at_risk.inactive_days", "must be a number"),
        ("[at_risk]\nfailed_attempts = 1.5", "at_risk.failed_attempts", "must be a whole number"),
        ("[at_risk]\npass_fraction = 1.2", "at_risk.pass_fraction", "at most 1"),
        ("[at_risk]\nprojected_late = 1", "at_risk.projected_late", "must be true or false"),
        ("at_risk = 3", "at_risk", "must be a table"),
    ],
)
def test_bad_at_risk_thresholds_name_the_key(course_dir: Path, table: str, key: str, problem: str) -> None:
    # A top-level key must come before the first table header.
    write(course_dir, table + "\n" + GOOD if not table.startswith("[") else GOOD + "\n" + table + "\n")
    with pytest.raises(ConfigError) as info:
        at_risk_rules(load_course(course_dir))  # "must be a table" when loading; the rest where used
    assert info.value.key == key
    assert problem in str(info.value) and f"course.toml: {key}: " in str(info.value)
