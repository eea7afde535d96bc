"""Reading lesson notebooks: nbgrader cell roles, points and solution regions.

Pure functions over ``nbformat`` notebooks; only :func:`read_notebook` touches
the disk. Authoring checks, export (max scores) and the simulated cohort all
read lessons through here, so they agree on what a graded cell is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nbformat
from nbformat import NotebookNode

from ..course.plan import CourseConfig, LessonPlan
from ..errors import CellRef, LessonError

CellRole = Literal["autograded answer", "autograder tests", "manually graded answer", "manually graded task", "read-only", "solution"]

BEGIN_SOLUTION = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
BEGIN_HIDDEN = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\s*$")
END_HIDDEN = re.compile(r"^\s*#+\s*END HIDDEN TESTS\s*$")


@dataclass(frozen=True)
class GradedCell:
    """A cell nbgrader tracks: where it is, what it is for, and its points."""

    index: int
    grade_id: str
    role: CellRole
    points: float
    cell_type: str
    source: str

    @property
    def is_test(self) -> bool:
        return self.role == "autograder tests"


def read_notebook(path: Path, *, lesson: str) -> NotebookNode:
    """Read a notebook, turning unreadable JSON into a LessonError naming the file and line."""
    where = CellRef(lesson, path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LessonError(where, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise LessonError(where, f"cannot be read: {exc.strerror}") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise LessonError(where, f"is not valid notebook JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad structure
        raise LessonError(where, f"is not a valid notebook: {exc}") from None


def cell_role(cell: NotebookNode) -> CellRole | None:
    """nbgrader's role for a cell (the names of its Create Assignment toolbar), or None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not meta:
        return None
    grade, solution, task = meta.get("grade", False), meta.get("solution", False), meta.get("task", False)
    if task:
        return "manually graded task"
    if grade and solution:
        return "manually graded answer"
    if grade:
        return "autograder tests"
    if solution:
        return "autograded answer"
    if meta.get("locked", False):
        return "read-only"
    return None


def graded_cells(nb: NotebookNode) -> list[GradedCell]:
    """Every cell with an nbgrader role and a grade_id, in notebook order."""
    cells = []
    for index, cell in enumerate(nb.cells):
        role = cell_role(cell)
        if role is None:
            continue
        meta = cell.metadata.nbgrader
        points = meta.get("points", 0) if role in ("autograder tests", "manually graded answer", "manually graded task") else 0
        cells.append(GradedCell(
            index=index,
            grade_id=str(meta.get("grade_id", "")),
            role=role,
            points=float(points or 0),
            cell_type=cell.cell_type,
            source=cell.source,
        ))
    return cells


def notebook_points(nb: NotebookNode) -> float:
    return sum(cell.points for cell in graded_cells(nb))


def lesson_notebook_paths(course: CourseConfig, lesson: LessonPlan) -> list[Path]:
    return [course.layout.lesson_source(lesson.id) / name for name in lesson.notebooks]


def lesson_max_score(course: CourseConfig, lesson: LessonPlan) -> float:
    """Points available in a lesson: the sum over its source notebooks."""
    return sum(notebook_points(read_notebook(p, lesson=lesson.id)) for p in lesson_notebook_paths(course, lesson))


def strip_solution_markers(source: str) -> str:
    """The instructor's answer: the source with the BEGIN/END SOLUTION lines removed."""
    return "\n".join(line for line in source.splitlines() if not (BEGIN_SOLUTION.match(line) or END_SOLUTION.match(line)))


def unclosed_regions(source: str) -> list[str]:
    """Problems with BEGIN/END SOLUTION and HIDDEN TESTS markers, as readable strings."""
    problems = []
    for name, begin, end in (("SOLUTION", BEGIN_SOLUTION, END_SOLUTION), ("HIDDEN TESTS", BEGIN_HIDDEN, END_HIDDEN)):
        depth = 0
        for number, line in enumerate(source.splitlines(), start=1):
            if begin.match(line):
                if depth:
                    problems.append(f"line {number}: BEGIN {name} inside an open {name} region")
                depth += 1
            elif end.match(line):
                if not depth:
                    problems.append(f"line {number}: END {name} without a BEGIN {name}")
                else:
                    depth -= 1
        if depth:
            problems.append(f"BEGIN {name} is never closed by END {name}")
    return problems
