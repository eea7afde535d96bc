"""Scaffolding: a new course loads, passes check, and never clobbers existing work."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest

from graders.authoring.check import check_course
from graders.authoring.scaffold import init_course, new_lesson
from graders.course.clock import SimulatedClock
from graders.course.layout import STUDENT_DATA_PATTERNS
from graders.course.plan import load_course
from graders.course.roster import load_roster
from graders.errors import ConfigError, PacelineError

BERLIN = ZoneInfo("Europe/Berlin")
# 23:30 UTC is already the next day in Berlin: dates must follow the course time zone.
CLOCK_NOW = dt.datetime(2026, 9, 6, 23, 30, tzinfo=dt.timezone.utc)


def berlin(year: int, month: int, day: int, *clock: int) -> dt.datetime:
    return dt.datetime(year, month, day, *clock, tzinfo=BERLIN).astimezone(dt.timezone.utc)


def make_course(tmp_path: Path) -> Path:
    return init_course(
        tmp_path / "course", course_id="pyda", title="Python for Data Analysis", timezone="Europe/Berlin",
        clock=SimulatedClock(CLOCK_NOW),
    )


@pytest.mark.e2e
def test_new_course_loads_and_passes_check(tmp_path: Path) -> None:
    root = make_course(tmp_path)
    course = load_course(root)
    assert (course.id, course.title, course.timezone) == ("pyda", "Python for Data Analysis", BERLIN)
    (lesson,) = course.lessons
    assert (lesson.id, lesson.notebooks) == ("01-getting-started", ("01-getting-started.ipynb",))
    assert lesson.opens_at == berlin(2026, 9, 7)
    assert lesson.target_at == berlin(2026, 9, 14, 23, 59, 59)
    assert lesson.due_at == berlin(2026, 9, 21, 23, 59, 59)

    (student,) = load_roster(course.roster_path, timezone=course.timezone)
    assert student.id == "example-student"
    ignored = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert set(STUDENT_DATA_PATTERNS) <= set(ignored)
    assert "Python for Data Analysis" in (root / "README.md").read_text(encoding="utf-8")

    report = check_course(course)  # real kernels: source and student version of the template
    assert report.problems == ()
    assert (report.lessons, report.notebooks, report.graded_cells, report.points) == (1, 1, 2, 3.0)


def test_new_lesson_appends_to_course_toml_and_keeps_the_rest(tmp_path: Path) -> None:
    root = make_course(tmp_path)
    before = (root / "course.toml").read_text(encoding="utf-8")
    later = SimulatedClock(dt.datetime(2026, 9, 14, 8, 0, tzinfo=dt.timezone.utc))

    notebook = new_lesson(root, "02-loops", title='Loops, "while" and for', clock=later)

    assert notebook == root / "course_source" / "02-loops" / "02-loops.ipynb"
    after = (root / "course.toml").read_text(encoding="utf-8")
    assert after.startswith(before)
    assert after[len(before):] == (
        '\n[[lessons]]\nid = "02-loops"\ntitle = "Loops, \\"while\\" and for"\n'
        "opens = 2026-09-14\ntarget = 2026-09-21\ndue = 2026-09-28\n"
    )
    course = load_course(root)
    assert [lesson.id for lesson in course.lessons] == ["01-getting-started", "02-loops"]
    assert course.lesson("02-loops").title == 'Loops, "while" and for'
    heading = nbformat.read(notebook, as_version=4).cells[0].source
    assert heading.startswith('# Loops, "while" and for\n')
    assert check_course(course, lesson_ids=["02-loops"], execute=False).ok


def test_init_refuses_to_overwrite_a_course(tmp_path: Path) -> None:
    (tmp_path / "course.toml").write_text("# my course\n", encoding="utf-8")
    with pytest.raises(PacelineError, match="already exists"):
        init_course(tmp_path, course_id="pyda", title="T", timezone="UTC")
    assert (tmp_path / "course.toml").read_text(encoding="utf-8") == "# my course\n"
    assert not (tmp_path / "course_source").exists()


def test_init_keeps_an_existing_readme_and_extends_gitignore(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("*.pyc\nexports/", encoding="utf-8")
    init_course(tmp_path, course_id="pyda", title="T", timezone="UTC")
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "mine\n"
    ignored = (tmp_path / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ignored[:2] == ["*.pyc", "exports/"]
    assert ignored.count("exports/") == 1
    assert set(STUDENT_DATA_PATTERNS) <= set(ignored)


@pytest.mark.parametrize("options", [
    {"course_id": "../pyda", "title": "T", "timezone": "UTC"},
    {"course_id": "pyda", "title": "T", "timezone": "Mars/Olympus"},
    {"course_id": "pyda", "title": "two\nlines", "timezone": "UTC"},
])
def test_init_rejects_bad_options_before_writing(tmp_path: Path, options: dict[str, str]) -> None:
    with pytest.raises(PacelineError):
        init_course(tmp_path / "course", **options)
    assert not (tmp_path / "course").exists()


@pytest.mark.parametrize("lesson_id", ["../escape", "a/b", "has space", "..", ".hidden", "a..b", "x" * 65, ""])
def test_new_lesson_rejects_unsafe_ids(tmp_path: Path, lesson_id: str) -> None:
    root = make_course(tmp_path)
    before = (root / "course.toml").read_text(encoding="utf-8")
    with pytest.raises(PacelineError, match="not a safe lesson id"):
        new_lesson(root, lesson_id, title="Escape")
    assert (root / "course.toml").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in (root / "course_source").iterdir()) == ["01-getting-started"]
    assert not (tmp_path / "escape").exists()


def test_new_lesson_refuses_an_existing_folder_or_id(tmp_path: Path) -> None:
    root = make_course(tmp_path)
    (root / "course_source" / "02-loops").mkdir()
    with pytest.raises(PacelineError, match="already exists"):
        new_lesson(root, "02-loops", title="Loops")
    with pytest.raises(PacelineError, match="already schedules a lesson '01-getting-started'"):
        new_lesson(root, "01-getting-started", title="Again")


def test_new_lesson_puts_everything_back_when_the_course_does_not_load(tmp_path: Path) -> None:
    root = make_course(tmp_path)
    config = root / "course.toml"
    broken = config.read_text(encoding="utf-8").replace('method = "none"', 'method = "sometimes"')
    config.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError, match="late_policy.method"):
        new_lesson(root, "02-loops", title="Loops")
    assert config.read_text(encoding="utf-8") == broken
    assert not (root / "course_source" / "02-loops").exists()
