"""The authoring checks, on fixture notebooks named for the problem they contain.

Metadata checks run without kernels (``execute=False``); the execution checks
share one real-kernel run over a lesson holding every execution fixture.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from graders.authoring.check import check_course, check_lesson, check_source_tree, student_version
from graders.authoring.lint import Problem, equality_only_assertion
from graders.authoring.trial_run import error_output
from graders.course.plan import load_course
from graders.errors import CellRef, PacelineError

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def make_lesson(parent: Path, lesson_id: str, *fixtures: str) -> Path:
    lesson_dir = parent / lesson_id
    lesson_dir.mkdir(parents=True)
    for name in fixtures:
        shutil.copy(FIXTURES / name, lesson_dir / name)
    return lesson_dir


def found(problems: list[Problem] | tuple[Problem, ...], notebook: str | None = None) -> list[tuple[str, int | None]]:
    return [(p.code, p.where.cell_index) for p in problems if notebook is None or p.where.notebook == notebook]


def check_static(tmp_path: Path, fixture: str) -> list[Problem]:
    lesson_dir = make_lesson(tmp_path, "L01", fixture)
    return check_lesson(lesson_dir, lesson_id="L01", execute=False)


def test_good_lesson_has_no_metadata_problems(tmp_path: Path) -> None:
    assert check_static(tmp_path, "good_lesson.ipynb") == []


def test_missing_grade_id_is_reported_for_each_cell(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "missing_grade_id.ipynb")
    assert found(problems) == [("missing-grade-id", 2), ("missing-grade-id", 3)]
    assert str(problems[1]).startswith("L01 / missing_grade_id.ipynb / cell 3: autograder tests cell has no grade_id")


def test_duplicate_grade_id_names_the_first_use(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "duplicate_grade_id.ipynb")
    assert found(problems) == [("duplicate-grade-id", 4), ("duplicate-grade-id", 5)]
    assert str(problems[0]) == (
        "L01 / duplicate_grade_id.ipynb / cell 4 (test_squares): grade_id 'test_squares' is already used by cell 3: "
        "grade ids must be unique within a notebook, so rename one of them"
    )
    assert "cell 1" in problems[1].message


def test_grade_id_nbgrader_rejects(tmp_path: Path) -> None:
    assert found(check_static(tmp_path, "invalid_grade_id.ipynb")) == [("invalid-grade-id", 3)]


def test_graded_cells_without_positive_points(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "no_points.ipynb")
    assert found(problems) == [("no-points", 3), ("no-points", 4), ("no-points", 5)]
    assert "has no points" in problems[0].message
    assert "worth 0 points" in problems[2].message


def test_unclosed_solution_and_hidden_test_regions(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "unclosed_solution.ipynb")
    assert found(problems) == [("unclosed-region", 2), ("unclosed-region", 4)]
    assert "BEGIN SOLUTION is never closed" in problems[0].message
    assert "BEGIN HIDDEN TESTS is never closed" in problems[1].message


def test_regions_in_cells_of_the_wrong_role(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "misplaced_regions.ipynb")
    assert found(problems) == [("hidden-tests-outside-test-cell", 2), ("solution-outside-solution-cell", 5)]


def test_metadata_nbgrader_would_reject(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "old_schema_version.ipynb")
    assert found(problems) == [("invalid-metadata", 3)]
    assert "Outdated schema version: 1" in problems[0].message


def test_notebook_without_graded_cells(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "no_graded_cells.ipynb")
    assert found(problems) == [("no-graded-cells", None)]
    assert str(problems[0]).startswith("L01 / no_graded_cells.ipynb: has no graded cells")


def test_broken_json_is_reported_and_other_notebooks_are_still_checked(tmp_path: Path) -> None:
    lesson_dir = make_lesson(tmp_path, "L01", "broken_json.ipynb", "missing_grade_id.ipynb", "no_points.ipynb")
    problems = check_lesson(lesson_dir, lesson_id="L01", execute=False)
    assert found(problems, "broken_json.ipynb") == [("invalid-notebook", None)]
    assert "is not valid notebook JSON" in problems[0].message
    assert problems[0].where == CellRef("L01", "broken_json.ipynb")
    assert found(problems, "missing_grade_id.ipynb") == [("missing-grade-id", 2), ("missing-grade-id", 3)]
    assert found(problems, "no_points.ipynb") == [("no-points", 3), ("no-points", 4), ("no-points", 5)]


def test_named_notebook_that_is_missing(tmp_path: Path) -> None:
    lesson_dir = make_lesson(tmp_path, "L01", "good_lesson.ipynb")
    problems = check_lesson(lesson_dir, lesson_id="L01", notebooks=["good_lesson.ipynb", "gone.ipynb"], execute=False)
    assert [(p.where.notebook, p.code) for p in problems] == [("gone.ipynb", "invalid-notebook")]


def test_lesson_folder_without_notebooks(tmp_path: Path) -> None:
    lesson_dir = make_lesson(tmp_path, "L01")
    assert found(check_lesson(lesson_dir, lesson_id="L01", execute=False)) == [("no-notebooks", None)]


def test_student_version_clears_solutions_and_keeps_hidden_tests() -> None:
    nb = nbformat.read(FIXTURES / "good_lesson.ipynb", as_version=4)
    student = student_version(nb)
    assert "raise NotImplementedError()" in student.cells[2].source
    assert "i * i" not in student.cells[2].source
    assert "### BEGIN HIDDEN TESTS" in student.cells[4].source
    assert student.cells[5].source.endswith("\nYOUR ANSWER HERE")  # a written answer's solution region
    assert "i * i" in nb.cells[2].source  # the source notebook is left alone


def test_source_tree_counts_and_lesson_discovery(tmp_path: Path) -> None:
    make_lesson(tmp_path, "a-lesson", "good_lesson.ipynb")
    make_lesson(tmp_path, "b-lesson", "broken_json.ipynb", "no_points.ipynb")
    make_lesson(tmp_path, ".ipynb_checkpoints", "no_graded_cells.ipynb")
    (tmp_path / "data").mkdir()
    seen: list[str] = []

    class Recorder:
        def track(self, items, *, description):
            for item in items:
                seen.append(f"{description} {item[0]}")
                yield item

    report = check_source_tree(tmp_path, progress=Recorder(), execute=False)
    assert seen == ["Checking a-lesson", "Checking b-lesson"]
    assert (report.lessons, report.notebooks, report.graded_cells, report.points) == (2, 3, 4, 5.0)
    assert [(p.where.lesson, p.code) for p in report.problems] == [
        ("b-lesson", "invalid-notebook"), ("b-lesson", "no-points"), ("b-lesson", "no-points"), ("b-lesson", "no-points"),
    ]
    assert not report.ok

    only_a = check_source_tree(tmp_path, lesson_ids=["a-lesson"], execute=False)
    assert only_a.ok and only_a.lessons == 1
    with pytest.raises(PacelineError, match="no lesson folder 'nope'"):
        check_source_tree(tmp_path, lesson_ids=["nope"], execute=False)


def test_course_checks_the_scheduled_notebooks_of_the_named_lessons(tmp_path: Path) -> None:
    make_lesson(tmp_path / "course_source", "01-good", "good_lesson.ipynb", "no_points.ipynb")
    make_lesson(tmp_path / "course_source", "02-bad", "missing_grade_id.ipynb")
    (tmp_path / "course.toml").write_text(
        '[course]\nid = "t"\ntitle = "T"\ntimezone = "UTC"\n\n'
        '[[lessons]]\nid = "01-good"\ntitle = "Good"\nopens = 2026-09-07\ntarget = 2026-09-13\nnotebooks = ["good_lesson.ipynb"]\n\n'
        '[[lessons]]\nid = "02-bad"\ntitle = "Bad"\nopens = 2026-09-14\ntarget = 2026-09-20\n',
        encoding="utf-8",
    )
    course = load_course(tmp_path)
    good = check_course(course, lesson_ids=["01-good"], execute=False)
    assert good.ok and (good.lessons, good.notebooks, good.points) == (1, 1, 5.0)
    everything = check_course(course, execute=False)
    assert [(p.where.lesson, p.code) for p in everything.problems] == [("02-bad", "missing-grade-id")] * 2


EXECUTION_FIXTURES = (
    "good_lesson.ipynb",
    "reads_data_file.ipynb",
    "source_raises.ipynb",
    "solution_fails_tests.ipynb",
    "test_passes_on_student_version.ipynb",
    "waits_for_input.ipynb",
    "raises_exception_demo.ipynb",
    "imports_unpublished_helper.ipynb",
)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Problem]:
    """One real-kernel check of a lesson holding every execution fixture (each notebook runs twice)."""
    lesson_dir = make_lesson(tmp_path_factory.mktemp("course"), "L01", *EXECUTION_FIXTURES)
    (lesson_dir / "numbers.txt").write_text("1\n2\n3\n", encoding="utf-8")
    (lesson_dir / "plotting.py").write_text("def show(values):\n    print(values)\n", encoding="utf-8")  # not published
    return check_lesson(lesson_dir, lesson_id="L01", timeout=20)


@pytest.mark.e2e
def test_good_lesson_runs_cleanly_in_both_versions(executed: list[Problem]) -> None:
    assert found(executed, "good_lesson.ipynb") == []


@pytest.mark.e2e
def test_notebooks_run_in_the_lesson_folder(executed: list[Problem]) -> None:
    assert found(executed, "reads_data_file.ipynb") == []


@pytest.mark.e2e
def test_error_in_a_non_test_cell_of_the_source(executed: list[Problem]) -> None:
    problems = [p for p in executed if p.where.notebook == "source_raises.ipynb"]
    assert found(problems) == [("execution-error", 2)]
    assert "ZeroDivisionError: division by zero" in problems[0].message


@pytest.mark.e2e
def test_solution_that_fails_its_own_tests(executed: list[Problem]) -> None:
    problems = [p for p in executed if p.where.notebook == "solution_fails_tests.ipynb"]
    assert found(problems) == [("solution-fails-tests", 3), ("solution-fails-tests", 4), ("solution-fails-tests", 5)]
    assert "AssertionError" in problems[0].message
    assert "earns 0.5 of 1 points" in problems[2].message  # nbgrader's partial credit


@pytest.mark.e2e
def test_test_that_passes_on_the_student_version(executed: list[Problem]) -> None:
    problems = [p for p in executed if p.where.notebook == "test_passes_on_student_version.ipynb"]
    assert found(problems) == [("test-passes-on-student-version", 5)]
    assert str(problems[0]) == (
        "L01 / test_passes_on_student_version.ipynb / cell 5 (test_callable): "
        "test cell passes on the student version: it cannot fail, so it grades nothing"
    )


@pytest.mark.e2e
def test_a_cell_waiting_for_input_is_reported_once_and_what_follows_as_its_consequence(executed: list[Problem]) -> None:
    problems = [p for p in executed if p.where.notebook == "waits_for_input.ipynb"]
    assert found(problems) == [("execution-error", 1), ("consequence-of-earlier-failure", 3)]
    assert "the cell waits for keyboard input (input() or getpass())" in problems[0].message
    assert str(problems[1]) == (
        "L01 / waits_for_input.ipynb / cell 3: 2 later cell(s) fail too (cell 3, cell 4 (test_message): NameError), "
        "most likely only because cell 1 failed first: fix cell 1, then check again"
    )  # cell 5 tests greet() alone and passes: it is not a consequence


@pytest.mark.e2e
def test_a_cell_tagged_raises_exception_is_meant_to_raise(executed: list[Problem]) -> None:
    assert found(executed, "raises_exception_demo.ipynb") == []


@pytest.mark.e2e
def test_a_setup_cell_failing_beside_only_the_published_files_is_reported(executed: list[Problem]) -> None:
    problems = [p for p in executed if p.where.notebook == "imports_unpublished_helper.ipynb"]
    assert found(problems) == [("student-version-error", 1)]
    assert problems[0].message.startswith(
        "fails in the student version (ModuleNotFoundError: No module named 'plotting') although the source runs")


def test_a_student_version_that_does_not_compile_is_reported_with_its_cell(tmp_path: Path) -> None:
    problems = check_static(tmp_path, "student_version_does_not_compile.ipynb")
    assert found(problems) == [("student-version-does-not-compile", 1)]
    assert str(problems[0]).startswith(
        "L01 / student_version_does_not_compile.ipynb / cell 1 (squares): the student version of this cell does not "
        "compile (IndentationError: expected an indented block after 'for' statement on line 3, line 5)"
    )


def test_a_cell_interrupted_at_the_timeout_says_it_may_hang_for_students() -> None:
    cell = nbformat.v4.new_code_cell("while not clicked: pass")
    cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])]
    assert error_output(cell, timeout=7) == (
        "KeyboardInterrupt: the cell did not finish within 7 s and was interrupted; if it waits for a widget, "
        "the network or an endless loop, it will hang for every student too"
    )


# --------------------------------------------------------------------------
# warnings: tests a student can game (they do not fail the check)
# --------------------------------------------------------------------------

def test_tests_that_compare_only_with_eq_are_warned_about(tmp_path: Path) -> None:
    make_lesson(tmp_path, "L01", "equality_only_tests.ipynb")
    report = check_source_tree(tmp_path, execute=False)
    assert report.ok and report.problems == ()
    # Not cell 3 (it checks the exact type first) nor cell 5 (a tolerance, not an equality).
    assert found(report.warnings) == [("equality-only-test", 2), ("equality-only-test", 4)]
    assert str(report.warnings[0]).startswith(
        "L01 / equality_only_tests.ipynb / cell 2 (test_only_eq): every assertion here compares with == alone "
        "(`squares(3) == [0, 1, 4]`): an answer that returns an object equal to everything passes it."
    )
    assert "type(result) is int" in report.warnings[0].message


@pytest.mark.parametrize(("source", "flagged"), [
    ('assert add(1, 2) == 3, "add(1, 2) should be 3"', "add(1, 2) == 3"),
    ("result = add(1, 2)\nassert isinstance(result, int)\nassert result == 3", None),
    ("assert add(1, 2) == 3\nassert add(1, 2) != 4", None),  # not == alone
    ("assert 1 + 1 == 2", "1 + 1 == 2"),  # an expression, not a literal
    ("assert 2 == 2", None),  # literals only: nothing the student made
    ("%time value = add(1, 2)\nassert value == 3", "value == 3"),  # IPython syntax is parsed as IPython does
    ("print(add(1, 2))", None),  # no assertion
    ("assert add(1, 2 == 3", None),  # a syntax error is the kernel runs' to report
])
def test_which_assertions_compare_only_with_eq(source: str, flagged: str | None) -> None:
    assert equality_only_assertion(source) == flagged
