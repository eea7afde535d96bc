"""Nothing instructor-only leaves on release: which files go out, which hold markers, and what check says.

A lesson folder as real courses keep it: the source notebook, its jupytext ``.md``
and ``.py`` copies, a helper module holding a solution, Jupyter's checkpoints and
a hidden file. The release itself (real nbgrader, the published tree read back)
is the e2e test at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from graders.authoring.check import check_course, check_source_tree
from graders.authoring.lesson_files import (
    find_markers,
    instructor_markers,
    lesson_files,
    marker_hits,
    matches,
    select_files,
)
from graders.course.plan import load_course
from graders.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOKS = FIXTURES / "notebooks"
COPIES = FIXTURES / "copies_of_solutions"
PACELINE = [sys.executable, "-c", "from graders.cli import main; main()"]

LESSONS = '''\
[course]
id = "releases"
title = "Release fixture"
timezone = "UTC"

[[lessons]]
id = "01-copies-of-solutions"
title = "A lesson folder with copies of its solutions"
opens = 2026-09-07
target = 2026-09-13
include = ["helpers.py"]

[[lessons]]
id = "02-reads-data"
title = "A clean lesson that reads a data file"
opens = 2026-09-07
target = 2026-09-13

[[lessons]]
id = "03-nested-hidden-tests"
title = "nbgrader refuses it"
opens = 2026-09-07
target = 2026-09-13

[[lessons]]
id = "04-duplicate-grade-id"
title = "nbgrader refuses it too"
opens = 2026-09-07
target = 2026-09-13
'''


def copies_of_solutions(lesson: Path) -> Path:
    """The notebook, its jupytext copies, a helper holding a solution, a checkpoint, a hidden file and a binary."""
    lesson.mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "good_lesson.ipynb", lesson / "good_lesson.ipynb")
    for name in ("good_lesson.md", "good_lesson.py", "helpers.py"):
        shutil.copy(COPIES / name, lesson / name)
    (lesson / ".ipynb_checkpoints").mkdir()
    shutil.copy(NOTEBOOKS / "good_lesson.ipynb", lesson / ".ipynb_checkpoints" / "good_lesson-checkpoint.ipynb")
    (lesson / ".answers.py").write_text("x = 1\n# BEGIN HIDDEN TESTS\nassert x == 1\n", encoding="utf-8")
    # A binary file is not searched (its bytes may spell anything), only filtered by name.
    (lesson / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0### BEGIN SOLUTION\n")
    return lesson


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    source = root / "course_source"
    copies_of_solutions(source / "01-copies-of-solutions")
    data = source / "02-reads-data"
    data.mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "reads_data_file.ipynb", data)
    (data / "numbers.txt").write_text("1\n2\n3\n", encoding="utf-8")
    # Jupyter saved a checkpoint here too: release never publishes it.
    (data / ".ipynb_checkpoints").mkdir()
    shutil.copy(NOTEBOOKS / "reads_data_file.ipynb", data / ".ipynb_checkpoints" / "reads_data_file-checkpoint.ipynb")
    for lesson, notebook in (("03-nested-hidden-tests", "nested_hidden_tests.ipynb"),
                             ("04-duplicate-grade-id", "duplicate_grade_id.ipynb")):
        (source / lesson).mkdir()
        shutil.copy(NOTEBOOKS / notebook, source / lesson)
    (root / "course.toml").write_text(LESSONS, encoding="utf-8")
    return root


# --------------------------------------------------------------------------
# which files go out (pure)
# --------------------------------------------------------------------------

FOLDER = [
    ".ipynb_checkpoints/lesson-checkpoint.ipynb", ".env", "lesson.ipynb", "lesson.md", "lesson.py",
    "helpers.py", "__pycache__/helpers.cpython-311.pyc", "data/raw/big.csv", "data/notes.md", "figure.png",
    "extras/key.ipynb", "scratch.ipynb", "data/.hidden.csv", "README.md", "lesson-folder.zip", "solved.pdf",
    "feedback/old.csv",
]


def test_defaults_publish_the_declared_notebooks_and_data_and_assets_only() -> None:
    selection = select_files(FOLDER, notebooks=["lesson.ipynb"])
    assert selection.notebooks == ("lesson.ipynb",)
    assert selection.files == ("data/raw/big.csv", "figure.png")
    assert selection.published == ("data/raw/big.csv", "figure.png", "lesson.ipynb")
    assert set(selection.kept_home) == set(FOLDER) - set(selection.published)


def test_include_and_exclude_patterns_and_what_they_never_override() -> None:
    selection = select_files(
        FOLDER, notebooks=["lesson.ipynb", "scratch.ipynb"],
        include=["helpers.py", "data/*", ".env", "__pycache__", "extras/*"], exclude=["raw"],
    )
    assert selection.notebooks == ("lesson.ipynb", "scratch.ipynb")
    # data/* takes the notes; "raw" (a name) drops the folder; hidden files, bytecode and nested notebooks never go.
    assert selection.files == ("data/notes.md", "figure.png", "helpers.py")


@pytest.mark.parametrize(("path", "pattern", "matched"), [
    ("helpers.py", "helpers.py", True),
    ("lib/helpers.py", "helpers.py", True),  # a name matches at any depth
    ("data/a/b.csv", "data", True),  # a folder name takes everything under it
    ("data/a/b.csv", "data/*", True),  # * crosses folders in a path pattern
    ("more/data/b.csv", "data/*", False),  # a path pattern starts at the lesson folder
    ("data/b.csv", "data/", True),
    ("Helpers.py", "helpers.py", False),
    (".ipynb_checkpoints/x-checkpoint.ipynb", ".*", True),
])
def test_patterns(path: str, pattern: str, matched: bool) -> None:
    assert matches(path, pattern) is matched


def test_patterns_in_course_toml_are_validated_naming_the_key(course_dir: Path) -> None:
    toml = course_dir / "course.toml"
    assert load_course(course_dir).lessons[0].include == ("helpers.py",)
    for bad, message in (('include = "helpers.py"', "must be a list of file patterns"),
                         ('include = ["../secrets/*"]', "must be a pattern inside the lesson folder"),
                         ('include = ["/etc/passwd"]', "must be a pattern inside the lesson folder")):
        toml.write_text(LESSONS.replace('include = ["helpers.py"]', bad), encoding="utf-8")
        with pytest.raises(ConfigError, match=message) as caught:
            load_course(course_dir)
        assert caught.value.key == "lessons[0].include"
    toml.write_text(LESSONS.replace('include = ["helpers.py"]', 'exclude = [3]'), encoding="utf-8")
    with pytest.raises(ConfigError, match="lessons\\[0\\].exclude: must be a list"):
        load_course(course_dir)


# --------------------------------------------------------------------------
# markers
# --------------------------------------------------------------------------

def test_markers_are_found_with_their_line_in_any_text_file_and_binaries_are_skipped(tmp_path: Path) -> None:
    lesson = copies_of_solutions(tmp_path / "L01")
    hits = marker_hits(lesson, [p for p in lesson_files(lesson) if p != "good_lesson.ipynb"], markers=instructor_markers())
    assert [(hit.path, hit.line, hit.marker) for hit in hits] == [
        (".answers.py", 2, "BEGIN HIDDEN TESTS"),
        (".ipynb_checkpoints/good_lesson-checkpoint.ipynb", 52, "BEGIN SOLUTION"),
        ("good_lesson.md", 27, "BEGIN SOLUTION"),
        ("good_lesson.py", 29, "BEGIN SOLUTION"),
        ("helpers.py", 9, "BEGIN SOLUTION"),
    ]
    assert [hit.more_lines for hit in hits] == [0, 5, 5, 5, 1]


def test_custom_delimiters_configured_for_nbgrader_are_markers_too(tmp_path: Path) -> None:
    config = Config()
    config.ClearSolutions.begin_solution_delimeter = "BEGIN ANSWER"
    config.ClearSolutions.end_solution_delimeter = "END ANSWER"
    markers = instructor_markers(config)
    assert {"BEGIN ANSWER", "END ANSWER", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"} <= set(markers)
    assert "BEGIN SOLUTION" not in markers
    helper = tmp_path / "helper.R"
    helper.write_text("f <- function(x) {\n  # BEGIN ANSWER\n  x\n  # END ANSWER\n}\n", encoding="utf-8")
    hit = find_markers(helper, markers=markers, shown_as="helper.R")
    assert hit is not None and (hit.line, hit.marker, hit.more_lines) == (2, "BEGIN ANSWER", 1)
    assert find_markers(helper, markers=instructor_markers(), shown_as="helper.R") is None


# --------------------------------------------------------------------------
# paceline check refuses the folder, naming file and line
# --------------------------------------------------------------------------

def test_check_names_every_file_holding_a_marker_with_its_line(course_dir: Path) -> None:
    report = check_course(load_course(course_dir), lesson_ids=["01-copies-of-solutions"], execute=False)
    leaks = [problem for problem in report.problems if problem.code == "instructor-only-file"]
    assert [str(problem.where) for problem in leaks] == [
        "01-copies-of-solutions / .answers.py / line 2",
        "01-copies-of-solutions / .ipynb_checkpoints/good_lesson-checkpoint.ipynb / line 52",
        "01-copies-of-solutions / good_lesson.md / line 27",
        "01-copies-of-solutions / good_lesson.py / line 29",
        "01-copies-of-solutions / helpers.py / line 9",
    ]
    assert not report.ok and leaks == list(report.problems)
    assert "delete the .ipynb_checkpoints folder" in leaks[1].message
    assert leaks[2].message.startswith("holds nbgrader's 'BEGIN SOLUTION' marker (and 5 more line(s) with markers): ")
    assert "move it out of the course's source folder" in leaks[4].message
    # The same folder outside a course (`paceline check --source`).
    source = check_source_tree(course_dir / "course_source", lesson_ids=["01-copies-of-solutions"], execute=False)
    assert [problem.where.notebook for problem in source.problems] == [problem.where.notebook for problem in leaks]


def test_a_clean_lesson_passes(course_dir: Path) -> None:
    shutil.rmtree(course_dir / "course_source" / "02-reads-data" / ".ipynb_checkpoints")
    assert check_course(load_course(course_dir), lesson_ids=["02-reads-data"], execute=False).ok


# --------------------------------------------------------------------------
# release: real nbgrader, the published tree read back
# --------------------------------------------------------------------------

def published(folder: Path) -> list[str]:
    return lesson_files(folder) if folder.exists() else []


@pytest.mark.e2e
def test_release_publishes_only_the_selection_and_refuses_a_lesson_that_would_leak(course_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    result = subprocess.run([*PACELINE, "release"], cwd=course_dir, capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    course = load_course(course_dir)
    outbound, release = course.layout.exchange.released, course.layout.lesson_release

    # The clean lesson went out with exactly its notebook and its data file; its checkpoint stayed behind.
    assert published(outbound("02-reads-data")) == ["numbers.txt", "reads_data_file.ipynb"]
    assert published(release("02-reads-data")) == ["numbers.txt", "reads_data_file.ipynb"]
    student = (outbound("02-reads-data") / "reads_data_file.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in student and "i * i" not in student
    assert "reads_data_file.ipynb" in result.stdout and "numbers.txt" in result.stdout
    assert ("02-reads-data: not published (course.toml's include/exclude decide): "
            ".ipynb_checkpoints/reads_data_file-checkpoint.ipynb") in " ".join(result.stdout.split())

    # The lesson whose included helper holds a solution: refused, nothing of it anywhere students look.
    assert published(outbound("01-copies-of-solutions")) == []
    assert published(release("01-copies-of-solutions")) == []
    errors = " ".join(result.stderr.split())
    assert "3 lesson releases failed" in errors
    assert ("01-copies-of-solutions / helpers.py / line 9: refused, nothing of the lesson was published: this file "
            "would be published and holds nbgrader's 'BEGIN SOLUTION' marker") in errors

    # nbgrader's refusals, each in one sentence naming the cell (not 25 lines of its traceback).
    assert ("03-nested-hidden-tests / nested_hidden_tests.ipynb / cell 4 (test_squares_hidden): "
            "line 5: BEGIN HIDDEN TESTS inside an open HIDDEN TESTS region") in errors
    assert "04-duplicate-grade-id / duplicate_grade_id.ipynb / cell 4 (test_squares): grade_id 'test_squares' is already used by cell 3" in errors
    assert "Traceback" not in result.stderr and "generate_assignment" not in result.stderr

    # Without the helper among its files, the same lesson goes out: notebook only, every copy held back.
    (course_dir / "course.toml").write_text(LESSONS.replace('include = ["helpers.py"]\n', ""), encoding="utf-8")
    again = subprocess.run([*PACELINE, "release", "01-copies-of-solutions"], cwd=course_dir, capture_output=True,
                           text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    assert published(outbound("01-copies-of-solutions")) == ["figure.png", "good_lesson.ipynb"]  # a png is an asset
    assert ("01-copies-of-solutions: not published (course.toml's include/exclude decide): .answers.py, "
            ".ipynb_checkpoints/good_lesson-checkpoint.ipynb, good_lesson.md, good_lesson.py, helpers.py"
            ) in " ".join(again.stdout.split())


NESTED_LOG = '''\
      File "/venv/nbgrader/preprocessors/clearhiddentests.py", line 61, in _remove_hidden_test_region
        raise RuntimeError(
    RuntimeError: Encountered nested begin hidden tests statements

[ERROR] There was an error processing assignment '01-add' for student '.'
[ERROR] Please see the the above traceback for details on the specific errors on the above failures.
Traceback (most recent call last):
  File "/venv/nbgrader/converters/base.py", line 468, in convert_notebooks
    raise NbGraderException(msg)
nbgrader.converters.base.NbGraderException: Please see the the above traceback for details on the specific errors on the above failures.
'''


def test_an_nbgrader_failure_is_reduced_to_the_sentence_naming_the_problem() -> None:
    from graders.engine.wiring import nbgrader_reason

    assert nbgrader_reason(NESTED_LOG) == "RuntimeError: Encountered nested begin hidden tests statements"
    schema = "    jsonschema.exceptions.ValidationError: Notebook failed to validate; the nbgrader metadata may be corrupted.\n"
    assert nbgrader_reason(schema + NESTED_LOG.split("\n\n", 1)[1]) == (
        "ValidationError: Notebook failed to validate; the nbgrader metadata may be corrupted.")
    assert nbgrader_reason("[ERROR] something odd\n") == "[ERROR] something odd"


def test_a_grading_kernel_gets_only_the_published_files_beside_the_notebook(course_dir: Path) -> None:
    """nbgrader puts the lesson's files beside the student's notebook, where student code can read and print them."""
    import datetime as dt

    from graders.exchange.ledger import Attempt
    from graders.grading.grade import _task

    course = load_course(course_dir)
    lesson = course_dir / "course_source" / "02-reads-data"
    shutil.copy(COPIES / "helpers.py", lesson)  # not included: a helper holding an answer
    attempt = Attempt(id=1, student_id="ada", lesson_id="02-reads-data", attempt=1, exchange_name="x",
                      received_at=dt.datetime(2026, 9, 8, tzinfo=dt.timezone.utc), claimed_at=None, content_hash="",
                      size_bytes=0, file_count=1, status="collected", score=None, max_score=None, late_penalty=None,
                      graded_at=None, error=None)
    folder = course.layout.attempt_dir(student_id="ada", lesson_id="02-reads-data", attempt=1)
    folder.mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "reads_data_file.ipynb", folder)
    task = _task(course, attempt, kernel=Config(), due_at=None)
    assert task.lesson_files == (("numbers.txt", b"1\n2\n3\n"),)
