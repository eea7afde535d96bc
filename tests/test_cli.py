"""The paceline console script: clear errors and non-zero exits on bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACELINE = str(Path(sys.executable).parent / "paceline")


def paceline(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([PACELINE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_bad_course_toml_names_the_key_and_exits_non_zero(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace("due = 2026-09-20", "due = 2026-09-01"))
    result = paceline("release", cwd=fixture_course)
    assert result.returncode == 1
    assert "lessons[0].due: is before the lesson opens" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (fixture_course / "release").exists()


def test_a_bad_at_risk_threshold_is_named_by_the_commands_that_use_it(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text() + "\n[at_risk]\ninactive_days = 0\n")
    for command in (["status"], ["report"]):
        result = paceline(*command, cwd=fixture_course)
        assert result.returncode == 1, command
        assert "course.toml: at_risk.inactive_days: must be above 0" in " ".join(result.stderr.split()), command
        assert "Traceback" not in result.stderr
    # One student's status uses no at-risk rule (analytics' view is the cohort's and the report's).
    assert paceline("status", "ada", cwd=fixture_course).returncode == 0


def test_unknown_lesson_is_an_error(fixture_course: Path) -> None:
    result = paceline("grade", "99-nope", cwd=fixture_course)
    assert result.returncode == 1
    assert "unknown lesson '99-nope'" in result.stderr


def test_path_traversing_student_id_in_roster_is_refused(fixture_course: Path) -> None:
    roster = fixture_course / "students.csv"
    roster.write_text(roster.read_text() + "../../etc,Mallory,m@example.org,2026-09-01\n")
    result = paceline("export", cwd=fixture_course)
    assert result.returncode == 1
    assert "students.csv, line 5: unsafe student id '../../etc'" in result.stderr
    assert not (fixture_course / "exports").exists()


def test_check_reports_cells_and_fails(fixture_course: Path) -> None:
    lesson = fixture_course / "course_source" / "01-add"
    shutil.copy(Path(__file__).parent / "fixtures" / "notebooks" / "broken_json.ipynb", lesson / "broken_json.ipynb")
    result = paceline("check", "01-add", cwd=fixture_course)
    assert result.returncode == 1
    assert "01-add / broken_json.ipynb" in result.stdout and "invalid-notebook" in result.stdout


def test_report_takes_one_kind_at_a_time(fixture_course: Path) -> None:
    result = paceline("report", "--student", "ada", "--lesson", "01-add", cwd=fixture_course)
    assert result.returncode == 2
    assert "give at most one of --student, --lesson and --all-students" in result.stderr


def test_report_past_cohorts_are_for_the_cohort_report_and_need_two(fixture_course: Path) -> None:
    result = paceline("report", "--student", "ada", "--past", "../2025/exports", cwd=fixture_course)
    assert result.returncode == 2 and "--past is for the cohort report only" in result.stderr
    result = paceline("report", "--past", "../2025/exports", cwd=fixture_course)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "2025/exports) is not enough for the risk model: it needs at least 2" in " ".join(result.stderr.split())


def test_status_without_a_student_summarises_the_cohort(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text() + "\n[at_risk]\ninactive_days = 5\n")
    result = paceline("status", "--as-of", "2026-09-20", cwd=fixture_course)
    assert result.returncode == 0, result.stderr
    assert "Fixture course, as of 2026-09-20 23:59" in result.stdout
    assert "students enrolled" in result.stdout and "02-words" in result.stdout
    # Nobody has submitted; the 5-day threshold comes from course.toml.
    assert "ada" in result.stdout and "no submission yet, 13 days after starting" in result.stdout
    assert not (fixture_course / "exports").exists()


def test_status_of_a_student_shows_one_pace_and_where_analytics_risks_are(fixture_course: Path) -> None:
    result = paceline("status", "cyd", "--as-of", "2026-09-30", cwd=fixture_course)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    # The pace and projection of cyd's own progress document, once; analytics' view is where the README says.
    assert "Pace: not started: 2 lessons expected by today. Projected finish — (course end 2026-09-27)" in text
    assert text.count("rojected finish") == 1 and "At risk" not in text
    assert "At-risk reasons and regularity: `paceline status` (the cohort), `paceline report --student cyd`" in text
    cohort = paceline("status", "--as-of", "2026-09-30", cwd=fixture_course)
    assert "cyd inactive 0/2 2 lessons behind pace; no submission yet, 20 days after starting" in " ".join(cohort.stdout.split())


@pytest.mark.e2e
def test_release_and_report_from_a_course_folder(fixture_course: Path) -> None:
    # The course folder holds analytics/reports/: it must not shadow the analytics package.
    assert paceline("release", cwd=fixture_course).returncode == 0
    assert paceline("export", cwd=fixture_course).returncode == 0
    (fixture_course / "analytics" / "reports").mkdir(parents=True)
    result = paceline("report", "--as-of", "2026-09-30", cwd=fixture_course)
    assert result.returncode == 0, result.stderr
    html = fixture_course / "analytics" / "reports" / "cohort_progress.html"
    assert str(html) in result.stdout and "Fixture course" in html.read_text()
    for args, written in ((["--student", "ada"], "students/ada.html"), (["--lesson", "02-words"], "lessons/02-words.html")):
        result = paceline("report", *args, "--as-of", "2026-09-30", cwd=fixture_course)
        assert result.returncode == 0, result.stderr
        assert str(fixture_course / "analytics" / "reports" / written) in result.stdout
    result = paceline("report", "--all-students", "--as-of", "2026-09-30", cwd=fixture_course)
    assert result.returncode == 0, result.stderr
    assert [line.rsplit("/", 1)[-1] for line in result.stdout.splitlines()] == ["ada.html", "brook.html", "cyd.html"]


# What a light command must not import: seconds of start-up each (nbformat's jsonschema alone builds a grammar).
HEAVY = ("pandas", "matplotlib", "dask", "distributed", "nbgrader", "nbformat", "jsonschema", "analytics.tables")
RUN_AND_LIST_HEAVY = f"""
import sys
from graders.cli import main
try:
    main(sys.argv[1:], prog_name="paceline")
except SystemExit as exit:
    assert not exit.code, exit.code
print(sorted(name for name in {HEAVY!r} if name in sys.modules))
"""


def test_reading_course_toml_imports_no_pandas_matplotlib_or_dask() -> None:
    code = "import graders.course.plan, sys; assert not {'pandas','matplotlib','dask'} & set(sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_light_commands_import_only_what_they_use(tmp_path: Path) -> None:
    # Each command in a fresh interpreter, in the order an instructor starts a course.
    for args in (["--help"], ["init", "course", "--id", "light", "--title", "Light"],
                 ["--course", "course", "new", "02-more", "--title", "More"],
                 # Nothing graded yet: no late penalty to re-apply, so no gradebook and no nbgrader.
                 ["--course", "course", "extend", "example-student", "02-more", "--days", "2", "--reason", "ill"]):
        result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_HEAVY, *args], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout.strip().splitlines()[-1] == "[]", args
    assert (tmp_path / "course" / "course_source" / "02-more" / "02-more.ipynb").is_file()


def _graded_with_a_teachers_mark(tmp_path: Path):
    """A new course whose one student's attempt the ledger has as 1/3, and the gradebook as 3/3: graded, then
    the essay marked by a teacher in formgrader. Returns (course, lesson, student)."""
    from graders.course.plan import load_course
    from graders.engine.wiring import open_gradebook
    from graders.exchange.ledger import CellScore, Ledger

    assert subprocess.run([PACELINE, "init", "course", "--id", "light", "--title", "Light"], cwd=tmp_path).returncode == 0
    course = load_course(tmp_path / "course")
    lesson, student = course.lessons[0], "example-student"
    with open_gradebook(course) as gb:  # as grading leaves it: the test scored, the essay waits for a teacher
        gb.update_or_create_assignment(lesson.id)
        gb.add_notebook("n", lesson.id)
        gb.add_grade_cell("test", "n", lesson.id, max_score=1.0, cell_type="code")
        gb.add_grade_cell("essay", "n", lesson.id, max_score=2.0, cell_type="markdown")
        gb.add_solution_cell("essay", "n", lesson.id)
        gb.add_student(student)
        gb.add_submission(lesson.id, student)
        gb.find_grade("test", "n", lesson.id, student).auto_score = 1.0
        gb.find_grade("essay", "n", lesson.id, student).manual_score = 2.0  # marked in formgrader since
        gb.db.commit()
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempt = ledger.add_attempt(student_id=student, lesson_id=lesson.id, attempt=1, exchange_name="x",
                                     received_at=lesson.opens_at, claimed_at=None, content_hash="h", size_bytes=1,
                                     file_count=1)
        ledger.record_grade(attempt.id, score=1.0, max_score=3.0, late_penalty=0.0, graded_at=lesson.opens_at,
                            cells=[CellScore("n", "test", 1.0, 1.0), CellScore("n", "essay", None, 2.0)])
    return course, lesson, student


def test_status_of_a_student_reads_a_teachers_marks_without_nbgrader_or_pandas(tmp_path: Path) -> None:
    course, lesson, student = _graded_with_a_teachers_mark(tmp_path)
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_HEAVY, "--course", "course", "status", student],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "awaiting" not in result.stdout and f"│ {lesson.id} │ 1 │" in result.stdout
    assert "3/3" in result.stdout  # the teacher's mark, from the gradebook
    # ... and the student sees it too: their progress document is written with it.
    document = json.loads(course.layout.exchange.progress_document(student).read_text())
    assert [(row["id"], row["grade_score"], row["max_score"]) for row in document["lessons"]][0] == (lesson.id, 3.0, 3.0)


def test_status_of_a_student_does_not_wait_to_write_their_document(tmp_path: Path) -> None:
    from graders.course.lock import course_lock

    course, _, student = _graded_with_a_teachers_mark(tmp_path)
    with course_lock(course.layout, command="paceline grade", timezone=course.timezone, wait=False):
        result = subprocess.run([PACELINE, "--course", "course", "status", student], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "3/3" in result.stdout
    assert "new marks are not in their progress document yet" in result.stderr and "paceline grade" in result.stderr
    assert not course.layout.exchange.progress_document(student).exists()


def test_python_dash_m_graders_is_the_paceline_command() -> None:
    result = subprocess.run([sys.executable, "-m", "graders", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: paceline ")
