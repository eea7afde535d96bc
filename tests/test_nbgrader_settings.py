"""course.toml's [nbgrader]: nbgrader's own settings, validated, and applied wherever paceline runs nbgrader."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from graders.authoring.check import student_version
from graders.course.plan import load_course
from graders.engine.wiring import nbgrader_config
from graders.errors import ConfigError
from graders.exchange.release import release_lessons
from graders.feedback.hidden_tests import HideHiddenTests


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
