"""Scores from whether the tests ran, not from what the student's kernel displayed.

nbgrader scores an autograded test cell from its outputs (``determine_grade``):
no credit for an error or stderr output, else partial credit from the first
``execute_result``, else full points. Every output is sent by the student's
kernel, so a hook in the student's namespace can forge them: a
``pre_run_cell`` hook that calls the displayhook puts ``2.0`` before a failing
assertion's error, and nbgrader gives full points. Paceline keeps nbgrader's
rule and adds what the kernel's outputs cannot change:

- :class:`ReplyRecordingExecute` (nbgrader's ``Execute``) remembers each code
  cell's execute reply status, in ``resources`` (which nbconvert hands from one
  autograde preprocessor to the next; the submission cannot put anything
  there) and in the cell's ``paceline`` metadata, which it overwrites on
  every cell, whatever the submission had there;
- :class:`StrictSaveAutoGrades` (nbgrader's ``SaveAutoGrades``) scores a test
  cell with :func:`autograded_score`: 0 unless the reply came and says ``ok``,
  and partial credit only from a cell whose own source ends with an
  expression.

A test cell that mixes visible tests with hidden ones (visible first) runs
as two execute requests (:func:`visible_first`): the visible part, then, if
it passed, the rest. The cell's outputs are both parts' outputs, its reply the
last one sent, so it scores as nbgrader scores the whole cell, which also
stops at the first failing line. But the kernel has not seen the hidden tests
while the visible part runs, so its outputs (the number of them is recorded
as ``visible_outputs`` in the cell's ``paceline`` metadata) can be shown to
the student like those of any cell before the hidden tests
(:mod:`graders.feedback.hidden_tests`).

What stays out of reach is the student's interpreter itself: tests run in it,
so code that replaces the kernel's reply handler, the functions under test or
``__eq__`` still decides its own score (see the README and
``tests/test_adversarial.py``).
"""

from __future__ import annotations

import ast
import copy
import time
from collections.abc import Mapping
from logging import Logger

from IPython.core.inputtransformer2 import TransformerManager
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute, SaveAutoGrades
from nbgrader.utils import determine_grade, get_partial_grade, is_grade, is_solution
from traitlets import Unicode

from ..authoring.lesson import NBGRADER_DEFAULT_MARKERS, RegionMarkers
from ..errors import PacelineError
from . import stages

REPLIES = "paceline_execute_replies"  # resources key: {cell index: execute reply status}
METADATA = "paceline"  # cell metadata namespace written by ReplyRecordingExecute, never by the student
NOT_RUN = "not run"  # no execute request was sent (blank source, a skip-execution tag)
REPLY_RECORDING_EXECUTE = "graders.engine.scoring.ReplyRecordingExecute"
STRICT_SAVE_AUTO_GRADES = "graders.engine.scoring.StrictSaveAutoGrades"


class ReplyRecordingExecute(Execute):
    """nbgrader's Execute, remembering each code cell's execute reply status, and running a test cell's
    visible tests before its hidden ones (:func:`visible_first`)."""

    begin_hidden_delimiter = Unicode(
        "", help="The course's begin-hidden-tests delimiter, where test cells are split (empty: nbgrader's)",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict | None = None, km=None):
        resources = resources if resources is not None else ResourcesDict()
        self._replies: dict[int, str] = {}
        resources[REPLIES] = self._replies
        for cell in nb.cells:
            # Whatever the submission wrote here is replaced before anything runs.
            cell.metadata.pop(METADATA, None)
            if cell.cell_type == "code":
                cell.metadata[METADATA] = {"execute_reply": NOT_RUN}
        self._kernel_start = 0.0
        started = time.perf_counter()
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            stages.add("kernel start", self._kernel_start)
            stages.add("execute", time.perf_counter() - started - self._kernel_start)

    # nbconvert's ExecutePreprocessor calls these (nbclient binds them to its async versions at class level).
    def start_new_kernel(self, **kwargs) -> None:
        started = time.perf_counter()
        try:
            super().start_new_kernel(**kwargs)
        finally:
            self._kernel_start += time.perf_counter() - started

    def start_new_kernel_client(self):
        started = time.perf_counter()
        try:
            return super().start_new_kernel_client()
        finally:
            self._kernel_start += time.perf_counter() - started

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int):
        parts = visible_first(cell, markers=RegionMarkers(begin_hidden=self.begin_hidden_delimiter or None))
        if parts is None or self.skip_cells_with_tag in cell.metadata.get("tags", []):
            return super().preprocess_cell(cell, resources, index)
        self._check_assign_resources(resources)
        visible, rest = parts
        source = cell.source
        try:
            cell.source = visible
            self.execute_cell(cell, index, store_history=True)
            shown = copy.deepcopy(cell.outputs)
            visible_reply = self._replies.get(index, NOT_RUN)
            for appearances in self._display_id_map.values():
                appearances.pop(index, None)  # the rest of the cell cannot rewrite what the visible part showed
            if visible_reply == "ok":
                cell.source = rest
                self.execute_cell(cell, index, store_history=True)
                cell.outputs = shown + cell.outputs
            else:
                cell.outputs = shown  # as nbgrader: a cell stops at its first error
        finally:
            cell.source = source
        cell.metadata[METADATA] = {**cell.metadata[METADATA], "visible_outputs": len(shown), "visible_reply": visible_reply}
        return cell, self.resources

    def on_cell_executed(self, *, cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
        # nbgrader's: appends the reply's error when no output shows it.
        super().on_cell_executed(cell=cell, cell_index=cell_index, execute_reply=execute_reply)
        # A timeout's reply is nbclient's own (status "error"); a kernel that died never replies.
        status = str((execute_reply.get("content") or {}).get("status"))
        self._replies[cell_index] = status
        cell.metadata[METADATA] = {"execute_reply": status}


class StrictSaveAutoGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, scoring test cells with :func:`autograded_score`."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        replies = resources.get(REPLIES)
        if not isinstance(replies, Mapping):
            raise ScoringError(
                f"no execute replies recorded for {resources.get('nbgrader', {}).get('notebook', 'the notebook')}: "
                f"autograde_preprocessors must run {REPLY_RECORDING_EXECUTE} (or a subclass) before {STRICT_SAVE_AUTO_GRADES}"
            )
        self._replies = replies
        with stages.timed("scoring"):
            return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        self._cell_index = cell_index
        return super().preprocess_cell(cell, resources, cell_index)

    def _add_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        # nbgrader's own _add_score, with the score from autograded_score instead of determine_grade.
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
        grade.auto_score = autograded_score(cell, reply=self._replies.get(self._cell_index), log=self.log)
        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        self.gradebook.db.commit()


class ScoringError(PacelineError):
    """Autograde was configured so that paceline cannot score test cells from their execute replies."""


def autograded_score(cell: NotebookNode, *, reply: str | None, log: Logger | None = None) -> float | None:
    """The auto score of a graded cell, given its execute reply status (None: no reply recorded).

    Cells that are not autograder tests keep nbgrader's rule. A test cell
    earns nothing unless its reply says ``ok`` and it has no error or stderr
    output (nbgrader's rule). Partial credit comes only from a cell whose own
    code ends with an expression, and then from the lowest of its
    ``execute_result`` outputs: an extra result published by a hook can lower
    the score, never raise it. Otherwise the cell earns its full points.
    """
    if not (is_grade(cell) and cell.cell_type == "code") or is_solution(cell):
        return determine_grade(cell, log)[0]
    max_points = float(cell.metadata["nbgrader"]["points"])
    if reply != "ok":
        return 0.0
    outputs = cell.get("outputs", [])
    if any(_is_failure(output) for output in outputs):
        return 0.0
    results = [o for o in outputs if o.get("output_type") == "execute_result"]
    if not results or not ends_with_expression(cell.source):
        return max_points
    return min(get_partial_grade(result, max_points, log) for result in results)


def ran_cleanly(cell: NotebookNode) -> bool:
    """Whether an executed code cell's reply said ``ok`` with no error or stderr output.

    Reads the reply status that ReplyRecordingExecute wrote into the cell's
    metadata, so it works on an autograded notebook read back from disk (feedback).
    """
    return _recorded_reply(cell) == "ok" and not any(_is_failure(output) for output in cell.get("outputs", []))


def recorded_replies(nb: NotebookNode) -> dict[int, str]:
    """The reply statuses ReplyRecordingExecute wrote into an autograded notebook, by cell index.

    For scoring again a notebook that grading executed (the coordinator records
    a worker's result with them): nbgrader wrote that notebook after the
    executor had overwritten this metadata on every cell, so it is grading's
    record, not the submission's.
    """
    return {index: reply for index, cell in enumerate(nb.cells) if (reply := _recorded_reply(cell)) is not None}


def visible_first(cell: NotebookNode, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> tuple[str, str] | None:
    """(visible part, rest) of an autograder test cell whose hidden tests follow visible ones, else None.

    Split at the first line that begins hidden tests (nbgrader's marker, or the
    course's delimiter in ``markers``), and only where running the two
    parts one after the other does what running the cell does: each part is
    complete Python on its own (IPython's syntax included), the cell is no
    cell magic, and the visible part does not end with an expression (its
    value would be displayed, and read as partial credit).
    """
    if cell.get("cell_type") != "code" or not is_grade(cell) or is_solution(cell):
        return None
    lines = str(cell.get("source", "")).splitlines(keepends=True)
    marker = next((index for index, line in enumerate(lines) if markers.begins_hidden(line)), None)
    if marker is None:
        return None
    visible, rest = "".join(lines[:marker]), "".join(lines[marker:])
    if not visible.strip() or visible.lstrip().startswith("%%") or ends_with_expression(visible):
        return None
    # Indented hidden tests belong to a block of the visible part (IPython would also dedent them on their own).
    first = next(line for line in lines if line.strip())
    if lines[marker][:1].isspace() or first[:1].isspace():
        return None
    if not (_complete(visible) and _complete(rest)):
        return None
    return visible, rest


def _complete(source: str) -> bool:
    try:
        ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return False
    return True


def _recorded_reply(cell: NotebookNode) -> str | None:
    recorded = cell.get("metadata", {}).get(METADATA)
    reply = recorded.get("execute_reply") if isinstance(recorded, dict) else None
    return reply if isinstance(reply, str) else None


def _is_failure(output: NotebookNode) -> bool:
    return output.get("output_type") == "error" or (output.get("output_type") == "stream" and output.get("name") == "stderr")


def ends_with_expression(source: str) -> bool:
    """Whether IPython would display the value of the cell's last statement."""
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return False
    return bool(tree.body) and isinstance(tree.body[-1], ast.Expr)


def autograde_preprocessors(*, execute: str) -> list[str]:
    """nbgrader's autograde preprocessors, with ``execute`` (a ReplyRecordingExecute) and StrictSaveAutoGrades.

    Import paths, not classes: the list is pickled to grading workers.
    """
    replaced = {Execute: execute, SaveAutoGrades: STRICT_SAVE_AUTO_GRADES}
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    return [replaced.get(pp, f"{pp.__module__}.{pp.__qualname__}") for pp in default]
