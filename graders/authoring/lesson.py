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
from typing import Callable, Literal, NamedTuple

import nbformat
from nbformat import NotebookNode

from ..course.nbgrader_table import NbgraderSettings
from ..course.plan import CourseConfig, LessonPlan
from ..errors import CellRef, LessonError

CellRole = Literal["autograded answer", "autograder tests", "manually graded answer", "manually graded task", "read-only", "solution"]

BEGIN_SOLUTION = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
BEGIN_HIDDEN = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\s*$")
END_HIDDEN = re.compile(r"^\s*#+\s*END HIDDEN TESTS\s*$")


@dataclass(frozen=True)
class RegionMarkers:
    """The lines that open and close solution and hidden-test regions.

    ``None`` is nbgrader's default, matched as a marker line of its own
    (``### BEGIN SOLUTION``); a course's own delimiter (``[nbgrader]`` in
    course.toml) is found anywhere in a line, as nbgrader's ``ClearSolutions``
    and ``ClearHiddenTests`` find it, and is named by what it is in messages.
    """

    begin_solution: str | None = None
    end_solution: str | None = None
    begin_hidden: str | None = None
    end_hidden: str | None = None

    @classmethod
    def of(cls, settings: NbgraderSettings) -> RegionMarkers:
        return cls(settings.begin_solution_delimiter, settings.end_solution_delimiter,
                   settings.begin_hidden_tests_delimiter, settings.end_hidden_tests_delimiter)

    def begins_solution(self, line: str) -> bool:
        return _marks(line, self.begin_solution, BEGIN_SOLUTION)

    def ends_solution(self, line: str) -> bool:
        return _marks(line, self.end_solution, END_SOLUTION)

    def begins_hidden(self, line: str) -> bool:
        return _marks(line, self.begin_hidden, BEGIN_HIDDEN)

    def ends_hidden(self, line: str) -> bool:
        return _marks(line, self.end_hidden, END_HIDDEN)

    @property
    def solution(self) -> Region:
        return Region(*_names("SOLUTION", "solution", self.begin_solution, self.end_solution),
                      begins=self.begins_solution, ends=self.ends_solution)

    @property
    def hidden_tests(self) -> Region:
        return Region(*_names("HIDDEN TESTS", "hidden tests", self.begin_hidden, self.end_hidden),
                      begins=self.begins_hidden, ends=self.ends_hidden)


class Region(NamedTuple):
    """A kind of region as messages name it (nbgrader's words, or the course's delimiters quoted), and its marker tests."""

    name: str
    begin: str
    end: str
    begins: Callable[[str], bool]
    ends: Callable[[str], bool]


def _names(default: str, custom: str, begin: str | None, end: str | None) -> tuple[str, str, str]:
    if begin is None and end is None:
        return default, f"BEGIN {default}", f"END {default}"
    return (custom, repr(begin) if begin is not None else f"BEGIN {default}",
            repr(end) if end is not None else f"END {default}")


NBGRADER_DEFAULT_MARKERS = RegionMarkers()


def _marks(line: str, delimiter: str | None, default: re.Pattern[str]) -> bool:
    return delimiter in line if delimiter is not None else bool(default.match(line))


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


def strip_solution_markers(source: str, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> str:
    """The instructor's answer: the source with the lines that open and close solution regions removed."""
    return "\n".join(line for line in source.splitlines()
                     if not (markers.begins_solution(line) or markers.ends_solution(line)))


def unclosed_regions(source: str, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> list[str]:
    """Problems with the markers of solution and hidden-test regions, as readable strings."""
    problems = []
    for region in (markers.solution, markers.hidden_tests):
        depth = 0
        for number, line in enumerate(source.splitlines(), start=1):
            # nbgrader tries the begin delimiter first: a line holding both opens a region
            if region.begins(line):
                if depth:
                    problems.append(f"line {number}: {region.begin} inside an open {region.name} region")
                depth += 1
            elif region.ends(line):
                if not depth:
                    problems.append(f"line {number}: {region.end} without a {region.begin}")
                else:
                    depth -= 1
        if depth:
            problems.append(f"{region.begin} is never closed by {region.end}")
    return problems
