"""course.toml's [nbgrader]: nbgrader's own settings, validated, and applied wherever paceline runs nbgrader."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from graders.authoring.check import check_course, student_version
from graders.authoring.lesson import RegionMarkers, unclosed_regions
from graders.course.plan import load_course
from graders.engine.wiring import nbgrader_config
from graders.errors import ConfigError
from graders.exchange.release import release_lessons
from graders.feedback.hidden_tests import HideHiddenTests
from graders.operations.answers import BUG_LINE, broken_answer, correct_answer, load_answer_keys


def add_table(course: Path, text: str) -> None:
    config = course / "course.toml"
    config.write_text(config.read_text() + "\n[nbgrader]\n" + text)


def test_unknown_nbgrader_keys_are_refused_with_the_allowed_ones(fixture_course: Path) -> None:
    add_table(fixture_course, 'header = "course_source/01-add/add.ipynb"\nlock_all_cells = true\n')
    with pytest.raises(ConfigError) as caught:
        load_course(fixture_course)
    message = str(caught.value)
    assert "nbgrader.lock_all_cells: unknown key" in message
    for allowed in ("header", "footer", "code_stub", "begin_solution_delimiter", "begin_hidden_tests_delimiter",
                    "exclude_overwriting"):
        assert allowed in message


@pytest.mark.parametrize(("text", "key", "why"), [
    ('header = "nothing.ipynb"\n', "nbgrader.header", "does not exist"),
    ('begin_solution_delimiter = "ANSWER"\nend_solution_delimiter = "ANSWER"\n', "nbgrader.end_solution_delimiter", "must differ"),
    ("code_stub = 3\n", "nbgrader.code_stub", "must be a string"),
    ('exclude_overwriting = { "99-none" = ["x.py"] }\n', "nbgrader.exclude_overwriting.99-none", "is not a lesson"),
    ('exclude_overwriting = { "01-add" = ["../../etc/passwd"] }\n', "nbgrader.exclude_overwriting.01-add", "not a path inside"),
])
def test_bad_nbgrader_values_name_the_key(fixture_course: Path, text: str, key: str, why: str) -> None:
    add_table(fixture_course, text)
    with pytest.raises(ConfigError, match=why) as caught:
        load_course(fixture_course)
    assert caught.value.key == key


def test_header_code_stub_and_custom_delimiters_reach_release_check_and_feedback(fixture_course: Path) -> None:
    lesson = fixture_course / "course_source" / "01-add" / "add.ipynb"
    text = lesson.read_text()
    for old, new in (("### BEGIN SOLUTION", "# >>> ANSWER"), ("### END SOLUTION", "# <<< ANSWER"),
                     ("### BEGIN HIDDEN TESTS", "# >>> SECRET TESTS"), ("### END HIDDEN TESTS", "# <<< SECRET TESTS")):
        text = text.replace(old, new)
    lesson.write_text(text)
    header = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Honour code: work on your own.")])
    nbformat.write(header, fixture_course / "header.ipynb")
    add_table(fixture_course, '\n'.join([
        'header = "header.ipynb"',
        'code_stub = "# write add here\\nraise NotImplementedError(\'add\')"',
        'begin_solution_delimiter = ">>> ANSWER"', 'end_solution_delimiter = "<<< ANSWER"',
        'begin_hidden_tests_delimiter = ">>> SECRET TESTS"', 'end_hidden_tests_delimiter = "<<< SECRET TESTS"', '']))
    course = load_course(fixture_course)

    assert release_lessons(course, lesson_ids=["01-add"]).problems == []
    released = json.loads((course.layout.lesson_release("01-add") / "add.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in released["cells"]]
    assert sources[0] == "Honour code: work on your own."  # the header notebook leads
    assert "raise NotImplementedError('add')" in sources[2] and "return a + b" not in sources[2]
    assert "2.5" not in "".join(sources) and "SECRET" not in "".join(sources)  # hidden tests cleared
    # The exchange got the same student version.
    published = json.loads((course.layout.exchange.released("01-add") / "add.ipynb").read_text())
    assert published["cells"] == released["cells"]

    # check's student version is built with the same delimiters and stub.
    student = student_version(nbformat.read(lesson, as_version=4), nbgrader=course.nbgrader)
    assert "raise NotImplementedError('add')" in student.cells[1].source and "return a + b" not in student.cells[1].source

    # Feedback finds hidden tests by the course's delimiters (the graded notebook has them restored).
    graded = nbformat.read(lesson, as_version=4)
    page, _ = HideHiddenTests(config=nbgrader_config(course)).preprocess(graded, {})
    shown = "".join(cell.source for cell in page.cells)
    assert "2.5" not in shown and "hidden tests run here" in shown


CUSTOM_DELIMITERS = '\n'.join([
    'begin_solution_delimiter = ">>> ANSWER"', 'end_solution_delimiter = "<<< ANSWER"',
    'begin_hidden_tests_delimiter = ">>> SECRET TESTS"', 'end_hidden_tests_delimiter = "<<< SECRET TESTS"', ''])


def use_custom_delimiters(course: Path) -> Path:
    """01-add marked with the course's own delimiters, declared in [nbgrader]; returns the notebook."""
    lesson = course / "course_source" / "01-add" / "add.ipynb"
    text = lesson.read_text()
    for old, new in (("### BEGIN SOLUTION", "# >>> ANSWER"), ("### END SOLUTION", "# <<< ANSWER"),
                     ("### BEGIN HIDDEN TESTS", "# >>> SECRET TESTS"), ("### END HIDDEN TESTS", "# <<< SECRET TESTS")):
        text = text.replace(old, new)
    lesson.write_text(text)
    add_table(course, CUSTOM_DELIMITERS)
    return lesson


def test_check_lints_regions_and_finds_instructor_copies_by_the_courses_delimiters(fixture_course: Path) -> None:
    lesson = use_custom_delimiters(fixture_course)
    assert check_course(load_course(fixture_course), lesson_ids=["01-add"], execute=False).ok
    nb = nbformat.read(lesson, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("    # <<< ANSWER", "")  # the solution region left open
    nb.cells[2].source += "\n# >>> SECRET TESTS\nassert add(0, 0) == 0\n# <<< SECRET TESTS"  # hidden tests in a visible-test
    nb.cells[3].source = nb.cells[3].source.replace("# <<< SECRET TESTS", "")  # ... and never closed
    nb.cells[2].metadata.nbgrader.update(grade=False, locked=True)  # cell 2 is read-only now
    del nb.cells[2].metadata.nbgrader["points"]
    nbformat.write(nb, lesson)
    (lesson.parent / "helpers.py").write_text("def add(a, b):\n    # >>> ANSWER\n    return a + b\n    # <<< ANSWER\n")
    (lesson.parent / "notes.md").write_text("### BEGIN SOLUTION is how other courses mark it\n")

    report = check_course(load_course(fixture_course), lesson_ids=["01-add"], execute=False)
    assert [(str(problem.where), problem.code) for problem in report.problems] == [
        ("01-add / helpers.py / line 2", "instructor-only-file"),
        ("01-add / add.ipynb / cell 1 (add)", "unclosed-region"),
        ("01-add / add.ipynb / cell 2 (test_add_visible)", "hidden-tests-outside-test-cell"),
        ("01-add / add.ipynb / cell 3 (test_add_hidden)", "unclosed-region"),
    ]
    messages = [problem.message for problem in report.problems]
    assert messages[0].startswith("holds nbgrader's '>>> ANSWER' marker (and 1 more line(s) with markers)")
    assert messages[1].startswith("'>>> ANSWER' is never closed by '<<< ANSWER'")
    assert messages[2].startswith("has a '>>> SECRET TESTS' region but is not an 'Autograder tests' cell")
    assert messages[3].startswith("'>>> SECRET TESTS' is never closed by '<<< SECRET TESTS'")

    # release refuses the same lesson in check's words before nbgrader runs, naming the first cell.
    refused = release_lessons(load_course(fixture_course), lesson_ids=["01-add"]).problems
    assert [str(problem) for problem in refused] == [
        "01-add / add.ipynb / cell 1 (add): '>>> ANSWER' is never closed by '<<< ANSWER': every BEGIN marker needs "
        "its END marker on a line of its own, or nbgrader cannot build the student version "
        "(and 2 more problem(s): run `paceline check 01-add`)"]


def test_region_markers_default_to_nbgrader_lines_and_take_the_courses_delimiters_anywhere_in_a_line() -> None:
    default = RegionMarkers()
    assert default.begins_solution("    ### BEGIN SOLUTION") and not default.begins_solution("x = 'BEGIN SOLUTION'")
    assert unclosed_regions("### BEGIN HIDDEN TESTS\nassert f()") == ["BEGIN HIDDEN TESTS is never closed by END HIDDEN TESTS"]
    custom = RegionMarkers(">>> ANSWER", "<<< ANSWER", ">>> SECRET TESTS", "<<< SECRET TESTS")
    assert custom.begins_solution("    # >>> ANSWER (write yours here)") and not custom.begins_solution("### BEGIN SOLUTION")
    assert unclosed_regions("# >>> ANSWER\nx = 1\n# >>> ANSWER\n# <<< ANSWER\n# <<< SECRET TESTS", markers=custom) == [
        "line 3: '>>> ANSWER' inside an open solution region", "'>>> ANSWER' is never closed by '<<< ANSWER'",
        "line 5: '<<< SECRET TESTS' without a '>>> SECRET TESTS'"]
    assert unclosed_regions("### BEGIN SOLUTION\nx = 1", markers=custom) == []  # plain text in this course


def test_simulated_answers_strip_the_courses_delimiters(fixture_course: Path) -> None:
    use_custom_delimiters(fixture_course)
    course = load_course(fixture_course)
    (key,) = load_answer_keys(course, course.lesson("01-add"))
    assert correct_answer(key.solution, markers=key.markers) == 'def add(a, b):\n    """Return a + b."""\n    return a + b'
    assert broken_answer(key.solution, markers=key.markers) == (
        f'def add(a, b):\n    """Return a + b."""\n    {BUG_LINE}\n    return a + b')


def test_grading_runs_visible_tests_first_by_the_courses_hidden_tests_delimiter(fixture_course: Path) -> None:
    from graders.engine.scoring import ReplyRecordingExecute, visible_first

    lesson = use_custom_delimiters(fixture_course)
    execute = ReplyRecordingExecute(config=nbgrader_config(load_course(fixture_course)))
    assert execute.begin_hidden_delimiter == ">>> SECRET TESTS"
    [cell] = [c for c in nbformat.read(lesson, as_version=4).cells
              if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add_hidden"]
    # The visible assertion runs on its own, so a failure there shows its own message in feedback.
    assert visible_first(cell, markers=RegionMarkers(begin_hidden=execute.begin_hidden_delimiter)) == (
        "assert add(-1, 1) == 0\n", "# >>> SECRET TESTS\nassert add(2.5, 2.5) == 5.0\n# <<< SECRET TESTS")
    assert visible_first(cell) is None  # nbgrader's own marker is not in this cell
