"""Paceline's scoring rule: a test cell's score comes from its execute reply, not from its outputs.

Unit tests score crafted cells with crafted reply statuses (no kernel). The
e2e test grades every ``tests/fixtures/hostile/forges_*.ipynb`` (the stub
answer of lesson 01-add, plus hooks that forge a passing look) twice with
plain kernels: as plain nbgrader scores it, and as paceline does. The
sandboxed path is graded in the adversarial batch (tests/test_adversarial.py).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from nbgrader.preprocessors import SaveAutoGrades
from traitlets.config import Config

from graders.course.plan import GradingSettings, load_course
from graders.course.environment import own_environment
from graders.engine.isolation import kernel_config, sandbox_kernels
from graders.engine.scoring import (
    METADATA,
    ScoringError,
    StrictSaveAutoGrades,
    autograde_preprocessors,
    autograded_score,
    ends_with_expression,
    ran_cleanly,
    recorded_replies,
    visible_first,
)
from graders.exchange.release import release_lessons
from graders.grading.record import lesson_gradebook
from graders.grading.task import GradingTask, autograde

FIXTURES = Path(__file__).parent / "fixtures"
UTC = dt.timezone.utc


def graded_test_cell(source: str = "assert add(1, 2) == 3", *, points: float = 2, outputs: list | None = None):
    cell = new_code_cell(source, outputs=outputs or [])
    cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": points,
                              "schema_version": 3, "cell_type": "code", "task": False}
    return cell


def result(value: str, count: int = 3):
    return new_output("execute_result", data={"text/plain": value}, execution_count=count)


ERROR = new_output("error", ename="AssertionError", evalue="", traceback=[])
STDERR = new_output("stream", name="stderr", text="warning\n")

# --------------------------------------------------------------------------
# the rule, without kernels
# --------------------------------------------------------------------------


def test_a_test_cell_that_replied_ok_without_errors_earns_its_points() -> None:
    assert autograded_score(graded_test_cell(), reply="ok") == 2.0
    assert autograded_score(graded_test_cell(outputs=[new_output("stream", name="stdout", text="hi\n")]), reply="ok") == 2.0


@pytest.mark.parametrize("reply", ["error", "aborted", None, "not run", "OK", ""])
def test_a_reply_other_than_ok_scores_zero_whatever_the_outputs_say(reply: str | None) -> None:
    # Forged results in front of the failure, or no output at all (a swallowed traceback).
    assert autograded_score(graded_test_cell(outputs=[result("2.0")]), reply=reply) == 0.0
    assert autograded_score(graded_test_cell(), reply=reply) == 0.0


def test_error_or_stderr_output_scores_zero_as_in_nbgrader() -> None:
    assert autograded_score(graded_test_cell(outputs=[ERROR]), reply="ok") == 0.0
    assert autograded_score(graded_test_cell(outputs=[STDERR]), reply="ok") == 0.0
    assert autograded_score(graded_test_cell(outputs=[result("2.0"), STDERR]), reply="ok") == 0.0


def test_a_result_in_a_cell_that_does_not_end_with_an_expression_is_ignored() -> None:
    # Only a hook can make `assert ...` show a result: it neither lowers nor raises the score.
    assert autograded_score(graded_test_cell(outputs=[result("0.5")]), reply="ok") == 2.0


def test_partial_credit_from_a_cell_that_ends_with_an_expression() -> None:
    source = "score = 0.5 if add(1, 2) == 3 else 0\nscore"
    assert autograded_score(graded_test_cell(source, outputs=[result("0.5")]), reply="ok") == 0.5
    # nbgrader's own reading of the value: not a number means full points.
    assert autograded_score(graded_test_cell(source, outputs=[result("'fine'")]), reply="ok") == 2.0
    # A value that suppressed its display (None, or a trailing ;) shows nothing: full points, as in nbgrader.
    assert autograded_score(graded_test_cell(source), reply="ok") == 2.0


def test_an_extra_result_can_lower_partial_credit_never_raise_it() -> None:
    source = "score = 0.5 if add(1, 2) == 3 else 0\nscore"
    forged_first = [result("2.0"), result("0.5")]  # nbgrader reads the first: 2.0
    assert autograded_score(graded_test_cell(source, outputs=forged_first), reply="ok") == 0.5
    assert autograded_score(graded_test_cell(source, outputs=[result("0.5"), result("2.0")]), reply="ok") == 0.5


def test_partial_credit_above_the_points_is_refused_as_nbgrader_does() -> None:
    with pytest.raises(ValueError, match="greater than maximum points"):
        autograded_score(graded_test_cell("3", outputs=[result("3")]), reply="ok")


def test_cells_that_are_not_autograder_tests_keep_nbgraders_rule() -> None:
    answer = new_code_cell("def add(a, b):\n    return a + b")
    answer.metadata.nbgrader = {"grade": True, "solution": True, "locked": False, "grade_id": "a", "points": 1,
                                "checksum": "not the stub's", "schema_version": 3, "cell_type": "code", "task": False}
    assert autograded_score(answer, reply="error") is None  # a manually graded answer: for the instructor
    written = new_markdown_cell("My answer")
    written.metadata.nbgrader = {**answer.metadata.nbgrader, "cell_type": "markdown"}
    assert autograded_score(written, reply=None) is None


@pytest.mark.parametrize(("source", "expected"), [
    ("x = 1\nx", True),
    ("assert add(1, 2) == 3", False),
    ("add(1, 2)\nassert True", False),
    ("%time x = 1\nx", True),  # IPython syntax is IPython's, not a syntax error
    ("", False),
    ("def broken(:", False),
])
def test_which_cells_end_with_an_expression(source: str, expected: bool) -> None:
    assert ends_with_expression(source) is expected


MIXED = "assert add(-1, 1) == 0\n### BEGIN HIDDEN TESTS\nassert add(2.5, 2.5) == 5.0\n### END HIDDEN TESTS"


@pytest.mark.parametrize(("source", "expected"), [
    (MIXED, ("assert add(-1, 1) == 0\n", "### BEGIN HIDDEN TESTS\nassert add(2.5, 2.5) == 5.0\n### END HIDDEN TESTS")),
    ("### BEGIN HIDDEN TESTS\nassert add(2.5, 2.5) == 5.0\n### END HIDDEN TESTS", None),  # nothing visible first
    ("assert add(1, 2) == 3", None),  # no hidden tests
    ("%%time\nassert add(-1, 1) == 0\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS", None),  # a cell magic
    ("add(-1, 1)\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS", None),  # its value would be displayed
    ("for x in (1, 2):\n    assert add(x, 0) == x\n    ### BEGIN HIDDEN TESTS\n    assert add(x, 0.5) == x + 0.5\n"
     "    ### END HIDDEN TESTS", None),  # hidden tests inside a loop: the rest is no code on its own
    ("%precision 3\nassert add(-1, 1) == 0\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS",
     ("%precision 3\nassert add(-1, 1) == 0\n", "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS")),
])
def test_which_test_cells_run_their_visible_part_first(source: str, expected: tuple[str, str] | None) -> None:
    assert visible_first(graded_test_cell(source)) == expected


def test_only_autograder_test_cells_are_split() -> None:
    answer = graded_test_cell(MIXED)
    answer.metadata.nbgrader["solution"] = True
    assert visible_first(answer) is None
    assert visible_first(new_code_cell(MIXED)) is None


def test_ran_cleanly_reads_the_reply_the_executor_recorded() -> None:
    passed = graded_test_cell()
    passed.metadata[METADATA] = {"execute_reply": "ok"}
    assert ran_cleanly(passed)
    for recorded in ({"execute_reply": "error"}, {"execute_reply": "not run"}, "ok", None):
        cell = graded_test_cell(outputs=[result("2.0")])
        cell.metadata[METADATA] = recorded
        assert not ran_cleanly(cell)
    passed.outputs = [STDERR]
    assert not ran_cleanly(passed)


def test_recorded_replies_are_read_back_from_an_autograded_notebook() -> None:
    cells = [graded_test_cell(), graded_test_cell(), new_markdown_cell("text"), graded_test_cell(), graded_test_cell()]
    cells[0].metadata[METADATA] = {"execute_reply": "ok"}
    cells[1].metadata[METADATA] = {"execute_reply": "not run"}
    cells[3].metadata[METADATA] = "ok"  # not what the executor writes: no reply
    cells[4].metadata[METADATA] = {"execute_reply": 1}
    assert recorded_replies(nbformat.v4.new_notebook(cells=cells)) == {0: "ok", 1: "not run"}


def test_saving_grades_without_recorded_replies_is_refused() -> None:
    nb = nbformat.v4.new_notebook(cells=[graded_test_cell()])
    resources = {"nbgrader": {"notebook": "add", "assignment": "01-add", "student": "s", "db_url": "sqlite://"}}
    with pytest.raises(ScoringError, match="ReplyRecordingExecute"):
        StrictSaveAutoGrades().preprocess(nb, resources)


def test_both_kernel_paths_use_the_strict_rule() -> None:
    plain = kernel_config(GradingSettings(timeout=5), sandboxed=False, environment=own_environment()).Autograde.autograde_preprocessors
    sandboxed = sandbox_kernels(GradingSettings(timeout=5), environment=own_environment()).Autograde.autograde_preprocessors
    assert plain == autograde_preprocessors(execute="graders.engine.plain.PlainExecute")
    assert sandboxed == autograde_preprocessors(execute="graders.engine.sandboxed.SandboxedExecute")
    for preprocessors in (plain, sandboxed):
        assert preprocessors.index("graders.engine.scoring.StrictSaveAutoGrades") == 4  # where nbgrader has SaveAutoGrades
        assert f"{SaveAutoGrades.__module__}.SaveAutoGrades" not in preprocessors
        assert not any(p.endswith(".Execute") for p in preprocessors)


# --------------------------------------------------------------------------
# real kernels: forged results fool plain nbgrader, not paceline
# --------------------------------------------------------------------------

# Plain nbgrader's total for each attack (3 points possible; the answer is the stub, so 0 is honest).
FOOLS_NBGRADER = {
    "forges_result_in_pre_run_cell_hook": 3.0,
    "forges_result_after_hiding_traceback": 3.0,
    "forges_result_from_custom_exc_handler": 3.0,
    "forges_raw_execute_result_message": 3.0,
    "forges_result_with_a_displayhook": 3.0,
    "forges_result_from_quiet_exception": 3.0,
    "forges_pass_by_skipping_tests": 3.0,
    "forges_pass_by_silencing_errors": 0.0,  # nbgrader appends the reply's error itself
    "forges_execute_reply": 3.0,
}
# Rewriting the kernel's own reply handler is code running in the student's interpreter, like
# monkeypatching: nothing the kernel reports can be trusted then (see test_adversarial.py).
STILL_FOOLS_PACELINE = {"forges_execute_reply": 3.0}


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("scoring") / "course"
    shutil.copytree(FIXTURES / "course", root)
    course = load_course(root)
    release_lessons(course, lesson_ids=["01-add"])
    return course, lesson_gradebook(course, "01-add")


def grade(released, fixture: str | Path, *, kernel: Config) -> tuple[float, dict[str, float | None], nbformat.NotebookNode]:
    """Autograde a hostile fixture (by name) or a submitted notebook (by path) as mallory's attempt of 01-add."""
    course, template = released
    notebook = fixture if isinstance(fixture, Path) else FIXTURES / "hostile" / f"{fixture}.ipynb"
    task = GradingTask(
        attempt_id=1, course_id=course.id, lesson_id="01-add", student_id="mallory", attempt=1,
        submitted_at=dt.datetime(2026, 9, 10, 12, tzinfo=UTC), due_at=None,
        submission=(("add.ipynb", notebook.read_bytes()),), lesson_files=(),
        timeout=10, late_policy=course.late_policy, kernel=kernel,
    )
    outcome = autograde(task, template)
    assert outcome.error is None, outcome.error
    [graded] = [content for name, content in outcome.autograded if name == "add.ipynb"]
    return outcome.score, {c.grade_id: c.score for c in outcome.cells}, nbformat.reads(graded.decode(), as_version=4)


def test_every_forging_fixture_is_listed() -> None:
    assert sorted(p.stem for p in (FIXTURES / "hostile").glob("forges_*.ipynb")) == sorted(FOOLS_NBGRADER)


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.parametrize("fixture", sorted(FOOLS_NBGRADER))
def test_forged_outputs_fool_plain_nbgrader_but_not_paceline(released, fixture: str) -> None:
    nbgrader_score, _, _ = grade(released, fixture, kernel=Config())
    assert nbgrader_score == FOOLS_NBGRADER[fixture]  # the attack is real
    score, cells, nb = grade(released, fixture, kernel=kernel_config(GradingSettings(timeout=10), sandboxed=False,
                                                                             environment=own_environment()))
    expected = STILL_FOOLS_PACELINE.get(fixture, 0.0)
    assert score == expected and sum(cells.values()) == expected
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    # What feedback reads: written by the executor on every code cell, whatever the submission said.
    assert [ran_cleanly(c) for c in tests] == [expected > 0] * 2
    recorded = {c.metadata[METADATA]["execute_reply"] for c in nb.cells if c.cell_type == "code"}
    if fixture == "forges_pass_by_skipping_tests":
        assert [c.metadata[METADATA] for c in tests] == [{"execute_reply": "not run"}] * 2
    else:
        assert recorded == ({"ok"} if expected else {"ok", "error"})


SUBTRACTS = "def add(a, b):\n    return a - b\n"  # fails the visible test of the mixed cell
INTEGERS_ONLY = "def add(a, b):\n    return int(a) + int(b)\n"  # passes it, fails the hidden one


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.parametrize("answer", [SUBTRACTS, INTEGERS_ONLY], ids=["visible_fails", "hidden_fails"])
def test_the_visible_part_runs_first_and_scores_stay_nbgraders(released, tmp_path: Path, answer: str) -> None:
    from graders.feedback.hidden_tests import feedback_notebook

    course, _ = released
    nb = nbformat.read(course.layout.release_dir / "01-add" / "add.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add"]
    cell.source = answer
    submission = tmp_path / "submission.ipynb"
    nbformat.write(nb, submission)
    plain, plain_cells, _ = grade(released, submission, kernel=Config())
    score, cells, graded = grade(released, submission, kernel=kernel_config(GradingSettings(timeout=10), sandboxed=False,
                                                                                   environment=own_environment()))
    assert (score, cells) == (plain, plain_cells) == (0.0 if answer == SUBTRACTS else 1.0,
                                                      {"test_add_visible": 0.0 if answer == SUBTRACTS else 1.0,
                                                       "test_add_hidden": 0.0})
    [mixed] = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add_hidden"]
    recorded = mixed.metadata[METADATA]
    assert recorded["visible_reply"] == ("error" if answer == SUBTRACTS else "ok")
    visible_outputs = mixed.outputs[:recorded["visible_outputs"]]
    assert "2.5" not in str(visible_outputs)  # the visible part's traceback quotes the visible part only
    shown = [o for c in feedback_notebook(graded).cells if c.cell_type == "code" for o in c.outputs]
    text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(o.get("text", "") + "".join(o.get("traceback", [])) for o in shown))
    if answer == SUBTRACTS:
        assert "assert add(-1, 1) == 0" in text and any(o.get("ename") == "AssertionError" for o in shown)
        assert "These tests did not all pass: a visible test failed, so the hidden tests of this cell did not run." in text
    else:
        assert "These tests did not all pass (AssertionError). Some of them are hidden" in text
    assert "2.5" not in text

