"""Scaffolding: a new course loads, passes check, and never clobbers existing work."""

from __future__ import annotations

import datetime as dt
import subprocess
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
    written = nbformat.read(notebook, as_version=4)
    nbformat.validate(written)  # written as JSON, without nbformat
    assert written.cells[0].source.startswith('# Loops, "while" and for\n')
    assert check_course(course, lesson_ids=["02-loops"], execute=False).ok


def test_new_lessons_follow_the_last_lesson_with_its_spacing_not_today(tmp_path: Path) -> None:
    root = make_course(tmp_path)  # 01 opens 2026-09-07, target 09-14, due 09-21
    months_later = SimulatedClock(dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc))
    new_lesson(root, "02-loops", title="Loops", clock=months_later)
    loops = load_course(root).lesson("02-loops")
    # One lesson gives no step between openings: its own week from opens to target is the step.
    assert (loops.opens_at, loops.target_at, loops.due_at) == (
        berlin(2026, 9, 14), berlin(2026, 9, 21, 23, 59, 59), berlin(2026, 9, 28, 23, 59, 59))

    # The instructor spaces lessons a fortnight apart, with times of day and no due date: all of it carries on.
    config = root / "course.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("opens = 2026-09-14\ntarget = 2026-09-21\ndue = 2026-09-28\n",
                                   "opens = 2026-09-21T09:00:00\ntarget = 2026-09-24T17:00:00\n"), encoding="utf-8")
    new_lesson(root, "03-functions", title="Functions", clock=months_later)
    functions = load_course(root).lesson("03-functions")
    assert (functions.opens_at, functions.target_at, functions.due_at) == (
        berlin(2026, 10, 5, 9), berlin(2026, 10, 8, 17), None)
    assert config.read_text(encoding="utf-8").endswith("opens = 2026-10-05T09:00:00\ntarget = 2026-10-08T17:00:00\n")


def test_new_lesson_in_a_self_paced_course_leaves_the_dates_to_pacing(tmp_path: Path) -> None:
    root = make_course(tmp_path)
    config = root / "course.toml"
    text = config.read_text(encoding="utf-8").replace('timezone = "Europe/Berlin"\n',
                                                      'timezone = "Europe/Berlin"\nmode = "self-paced"\n')
    text = text.replace("opens = 2026-09-07\ntarget = 2026-09-14\ndue = 2026-09-21\n", "")
    config.write_text(text + "\n[pacing]\nstart = 2026-09-07\ndays_per_lesson = 5\n", encoding="utf-8")
    new_lesson(root, "02-loops", title="Loops")
    course = load_course(root)
    assert [lesson.id for lesson in course.lessons] == ["01-getting-started", "02-loops"]
    assert course.lesson("02-loops").target_at == berlin(2026, 9, 17, 23, 59, 59)  # two lessons of 5 days


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


def test_init_gitignore_keeps_student_data_out_of_git_and_the_course_in(tmp_path: Path) -> None:
    root = make_course(tmp_path)
    layout = load_course(root).layout
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    student_data = [
        layout.roster_path,  # names and emails
        layout.attempt_dir(student_id="ada", lesson_id="01-getting-started", attempt=1) / "01-getting-started.ipynb",
        layout.submitted_dir / "ada" / "01-getting-started" / "01-getting-started.ipynb",  # nbgrader's latest
        layout.autograded(student_id="ada", lesson_id="01-getting-started") / "01-getting-started.ipynb",
        layout.feedback_dir / "ada" / "01-getting-started" / "01-getting-started.html",
        layout.gradebook_path,
        layout.ledger_path,
        layout.attempt_feedback(student_id="ada", lesson_id="01-getting-started", attempt=1) / "page.html",
        layout.exchange.inbound / "ada+01-getting-started+2026-09-08" / "01-getting-started.ipynb",
        layout.export_dir / "grades.csv",
        layout.reports_dir / "cohort_progress.html",
    ]
    course_files = [layout.config_path, layout.readme_path, layout.gitignore_path,
                    layout.lesson_source("01-getting-started") / "01-getting-started.ipynb",
                    layout.lesson_source("01-getting-started") / "students.csv"]  # a lesson's data file of that name
    paths = [str(path.relative_to(root)) for path in student_data + course_files]
    check = subprocess.run(["git", "-C", str(root), "check-ignore", "--no-index", "--stdin"], input="\n".join(paths),
                           capture_output=True, text=True)
    assert check.returncode in (0, 1), check.stderr
    assert set(check.stdout.splitlines()) == set(paths[:len(student_data)])


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
