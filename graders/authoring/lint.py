"""Authoring lint: the checks that read a notebook without running it.

Per-cell nbgrader metadata (grade ids, points, solution and hidden-test regions, what nbgrader's
schema accepts), student versions that would not compile, test cells a student can game, and lesson
files that leak instructor markers. They need no kernel, so they live apart from :mod:`.check`,
which runs notebooks: ``release`` uses them alone to refuse what nbgrader would refuse, and
``paceline check`` runs them before its kernel runs. The problem codes are listed in :mod:`.check`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooNewError, SchemaTooOldError, ValidationError

from ..course.nbgrader_table import NbgraderSettings
from ..errors import CellRef
from .lesson import NBGRADER_DEFAULT_MARKERS, RegionMarkers, cell_role, unclosed_regions
from .lesson_files import leak_advice, lesson_files, marker_hits, source_notebooks
from .student_version import uncompilable_starter_cells

POINTS_ROLES = frozenset({"autograder tests", "manually graded answer", "manually graded task"})
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # nbgrader's metadata schema; stricter than SAFE_ID

# nbgrader refuses to build a student version from these, so running one would only repeat them.
BLOCKS_STUDENT_VERSION = frozenset({"unclosed-region", "solution-outside-solution-cell", "hidden-tests-outside-test-cell"})
# Metadata problems nbgrader's generate_assignment fails on (each tried on this machine): release
# refuses them first, in check's words that name the cell, instead of nbgrader's traceback.
NBGRADER_REFUSES = BLOCKS_STUDENT_VERSION | {"invalid-metadata", "missing-grade-id", "invalid-grade-id",
                                              "duplicate-grade-id", "no-points"}


@dataclass(frozen=True)
class Problem:
    """One thing to fix before release, and where it is."""

    where: CellRef
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def metadata_problems(nb: NotebookNode, *, lesson_id: str, notebook: str,
                      markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> list[Problem]:
    """What nbgrader would reject or mis-grade, found without running anything (regions marked by ``markers``:
    the course's ``[nbgrader]`` delimiters, or nbgrader's own)."""
    problems: list[Problem] = []
    first_use: dict[str, int | None] = {}
    validator = MetadataValidator()
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader_meta(cell)
        if meta is not None and not isinstance(meta, dict):
            problems.append(Problem(CellRef(lesson_id, notebook, index), "invalid-metadata", "nbgrader metadata is not a "
                                    "mapping: set the cell's role again in the Create Assignment toolbar"))
            continue
        grade_id = _grade_id(cell)
        where = CellRef(lesson_id, notebook, index, grade_id or None)
        role = checked_role(cell)
        found: list[Problem] = []
        if role is not None:
            found += _grade_id_problems(where, role=role, grade_id=grade_id, first_use=first_use)
        if role in POINTS_ROLES:
            found += _points_problems(where, role=role, points=meta.get("points"))
        found += _marker_problems(where, cell=cell, meta=meta or {}, markers=markers)
        if meta is not None and not found:
            found += _validation_problems(where, cell=cell, validator=validator)
        problems += found
    if not any(checked_role(cell) in POINTS_ROLES for cell in nb.cells):
        problems.append(Problem(
            CellRef(lesson_id, notebook), "no-graded-cells",
            "has no graded cells (autograder tests, manually graded answers or tasks): students cannot earn points in it",
        ))
    return problems


def notebook_warnings(nb: NotebookNode, *, lesson_id: str, notebook: str) -> list[Problem]:
    """Test cells a student can pass without a right answer, found without running anything.

    Tests run in the student's interpreter, so ``assert add(1, 2) == 3`` calls the
    ``__eq__`` of whatever ``add`` returned: an object equal to everything passes.
    A cell is flagged when every assertion in it compares with ``==`` alone and
    nothing in it checks a type.
    """
    warnings = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or checked_role(cell) != "autograder tests":
            continue
        example = equality_only_assertion(cell.get("source", ""))
        if example is not None:
            warnings.append(Problem(
                CellRef(lesson_id, notebook, index, _grade_id(cell) or None), "equality-only-test",
                f"every assertion here compares with == alone (`{example}`): an answer that returns an object "
                "equal to everything passes it. Check the exact type first (`assert type(result) is int`; "
                "isinstance accepts subclasses), then compare",
            ))
    return warnings


def equality_only_assertion(source: str) -> str | None:
    """The first assertion of a test whose assertions all compare a computed value with ``==`` alone, else None."""
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None  # the kernel runs will report it
    asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    checks_a_type = any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in {"type", "isinstance", "issubclass"} for node in ast.walk(tree))
    if not asserts or checks_a_type or not all(_equality_only(node.test) for node in asserts):
        return None
    return ast.unparse(asserts[0].test)


def student_compile_problems(nb: NotebookNode, *, lesson_id: str, notebook: str,
                             nbgrader: NbgraderSettings = NbgraderSettings()) -> list[Problem]:
    """Code cells whose student version does not compile although the source does, found without a kernel."""
    return [
        Problem(CellRef(lesson_id, notebook, index, _grade_id(nb.cells[index]) or None), "student-version-does-not-compile",
                f"the student version of this cell does not compile ({error}): nbgrader's stub takes the indentation "
                "of the BEGIN SOLUTION line, so indent the markers like the code they replace")
        for index, error in uncompilable_starter_cells(nb, nbgrader=nbgrader)
    ]


def _equality_only(test: ast.expr) -> bool:
    """``a == b`` (or several, joined with ``and``) where something compared is not a literal."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return all(_equality_only(value) for value in test.values)
    return (isinstance(test, ast.Compare) and all(isinstance(op, ast.Eq) for op in test.ops)
            and not all(_is_literal(operand) for operand in [test.left, *test.comparators]))


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def leaking_files(lesson_dir: Path, *, lesson_id: str, markers: Sequence[str]) -> list[Problem]:
    """Files of the lesson folder, other than the notebooks nbgrader converts, that hold a solution or hidden-test marker.

    Hidden files and checkpoints count: release never publishes them, but whoever copies
    or zips the lesson folder does.
    """
    files = lesson_files(lesson_dir)
    converted = set(source_notebooks(files))
    return [
        Problem(CellRef(lesson_id, hit.path, line=hit.line), "instructor-only-file", leak_advice(hit))
        for hit in marker_hits(lesson_dir, [path for path in files if path not in converted], markers=markers)
    ]


def _grade_id_problems(where: CellRef, *, role: str, grade_id: str, first_use: dict[str, int | None]) -> list[Problem]:
    if not grade_id:
        return [Problem(where, "missing-grade-id",
                        f"{role} cell has no grade_id: give it a unique id (letters, digits, _ and -) in the "
                        "Create Assignment toolbar, or nbgrader cannot track it")]
    if not GRADE_ID.match(grade_id):
        return [Problem(where, "invalid-grade-id",
                        f"grade_id {grade_id!r} may use only letters, digits, _ and - (nbgrader rejects anything else)")]
    if grade_id in first_use:
        return [Problem(where, "duplicate-grade-id",
                        f"grade_id {grade_id!r} is already used by cell {first_use[grade_id]}: "
                        "grade ids must be unique within a notebook, so rename one of them")]
    first_use[grade_id] = where.cell_index
    return []


def _points_problems(where: CellRef, *, role: str, points: Any) -> list[Problem]:
    if points is None:
        return [Problem(where, "no-points",
                        f"{role} cell has no points: give it points above 0, or make it read-only if it should not count")]
    if isinstance(points, bool) or not isinstance(points, (int, float)):
        return [Problem(where, "no-points", f"points must be a number above 0, not {points!r}")]
    if points <= 0:
        return [Problem(where, "no-points",
                        f"{role} cell is worth {points:g} points: give it points above 0, or make it read-only if it should not count")]
    return []


def _marker_problems(where: CellRef, *, cell: NotebookNode, meta: dict[str, Any], markers: RegionMarkers) -> list[Problem]:
    source = cell.get("source", "")
    problems = [
        Problem(where, "unclosed-region",
                f"{detail}: every BEGIN marker needs its END marker on a line of its own, "
                "or nbgrader cannot build the student version")
        for detail in unclosed_regions(source, markers=markers)
    ]
    lines = source.splitlines()
    if not meta.get("solution", False) and any(markers.begins_solution(line) for line in lines):
        problems.append(Problem(where, "solution-outside-solution-cell",
                                f"has a {markers.solution.begin} region but is not a solution cell: make it an "
                                "'Autograded answer' (or 'Manually graded answer'), or nbgrader refuses to build the student version"))
    if not meta.get("grade", False) and any(markers.begins_hidden(line) for line in lines):
        problems.append(Problem(where, "hidden-tests-outside-test-cell",
                                f"has a {markers.hidden_tests.begin} region but is not an 'Autograder tests' cell: "
                                "move the hidden tests into a test cell, or nbgrader refuses to build the student version"))
    return problems


def _validation_problems(where: CellRef, *, cell: NotebookNode, validator: MetadataValidator) -> list[Problem]:
    try:
        validator.validate_cell(cell)
    except (ValidationError, SchemaTooOldError, SchemaTooNewError) as exc:
        detail = getattr(exc, "message", None) or str(exc)
        return [Problem(where, "invalid-metadata",
                        f"nbgrader rejects the cell's metadata ({detail}): run `nbgrader update` on the notebook, "
                        "or set the cell's role again in the Create Assignment toolbar")]
    return []


def cell_ref(lesson_id: str, notebook: str, nb: NotebookNode, index: int | None) -> CellRef:
    if index is None:
        return CellRef(lesson_id, notebook)
    return CellRef(lesson_id, notebook, index, _grade_id(nb.cells[index]) or None)


def valid_points(cell: NotebookNode) -> float | None:
    """The cell's points if it is a graded cell with usable points, else None."""
    if checked_role(cell) not in POINTS_ROLES:
        return None
    points = cell.metadata.nbgrader.get("points")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
        return None
    return float(points)


def is_scored_test(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and checked_role(cell) == "autograder tests" and valid_points(cell) is not None


def checked_role(cell: NotebookNode) -> str | None:
    """``cell_role``, but None for garbled nbgrader metadata (reported as invalid-metadata)."""
    return cell_role(cell) if isinstance(_nbgrader_meta(cell), dict) else None


def _nbgrader_meta(cell: NotebookNode) -> Any:
    return cell.get("metadata", {}).get("nbgrader")


def _grade_id(cell: NotebookNode) -> str:
    meta = _nbgrader_meta(cell)
    return str(meta.get("grade_id") or "").strip() if isinstance(meta, dict) else ""
