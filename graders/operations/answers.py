"""Simulated students' answers, made from the instructor's own solutions.

A correct answer is the solution with its BEGIN/END SOLUTION lines removed;
a broken one is the same solution with a call to an undefined helper as its
first line, so it still parses (defs stay valid) and fails the way a real
mistake does: with a NameError when the tests call it. A blank answer is the
released stub, untouched. Only :func:`load_answer_keys`, :func:`read_answers`
and :func:`write_answers` touch the disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nbformat
import numpy as np

from ..authoring.lesson import (
    NBGRADER_DEFAULT_MARKERS,
    RegionMarkers,
    graded_cells,
    lesson_notebook_paths,
    read_notebook,
    strip_solution_markers,
)
from ..course.plan import CourseConfig, LessonPlan

AnswerQuality = Literal["correct", "partial", "error", "blank"]
CellQuality = Literal["correct", "error", "blank"]
AnswerRef = tuple[str, str]  # (notebook file name, grade_id)

BUG_LINE = "_ = undefined_helper()  # bug"
# What a student writes in a free-text answer they have not worked out; only a
# human grader reads it, so it need not be wrong in any particular way.
UNSURE_TEXT = "I'm not sure yet; I will come back to this one."
_INDENT = re.compile(r"^\s*")


@dataclass(frozen=True)
class AnswerKey:
    """One cell a student answers, with the instructor's solution (markers included)."""

    notebook: str
    grade_id: str
    cell_type: str  # "code" (autograded) or "markdown" (manually graded)
    solution: str
    markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS  # how the solution's regions are marked (course.toml's [nbgrader])

    @property
    def ref(self) -> AnswerRef:
        return (self.notebook, self.grade_id)


def load_answer_keys(course: CourseConfig, lesson: LessonPlan) -> tuple[AnswerKey, ...]:
    """Every answer cell of a lesson's source notebooks, in notebook order."""
    keys: list[AnswerKey] = []
    markers = RegionMarkers.of(course.nbgrader)
    for path in lesson_notebook_paths(course, lesson):
        nb = read_notebook(path, lesson=lesson.id)
        for cell in graded_cells(nb):
            if cell.role in ("autograded answer", "manually graded answer"):
                keys.append(AnswerKey(path.name, cell.grade_id, cell.cell_type, cell.source, markers))
    return tuple(keys)


def correct_answer(solution: str, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> str:
    return strip_solution_markers(solution, markers=markers)


def broken_answer(solution: str, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> str:
    """The solution with a NameError planted at the start of every solution region.

    The bug line takes the indentation of its BEGIN SOLUTION line, so a region
    inside a function body raises only when the function is called, which is
    when the tests notice. A cell without markers gets the bug at the top.
    """
    lines = solution.splitlines()
    out: list[str] = []
    planted = False
    for line in lines:
        out.append(line)
        if markers.begins_solution(line):
            out.append(_INDENT.match(line).group(0) + BUG_LINE)
            planted = True
    if not planted:
        out.insert(0, BUG_LINE)
    return strip_solution_markers("\n".join(out), markers=markers)


def cell_answer(key: AnswerKey, quality: CellQuality) -> str | None:
    """The text a student writes into one cell; None leaves the released stub."""
    if quality == "blank":
        return None
    if quality == "correct":
        return correct_answer(key.solution, markers=key.markers)
    if key.cell_type == "markdown":
        return UNSURE_TEXT
    return broken_answer(key.solution, markers=key.markers)


def cell_qualities(keys: tuple[AnswerKey, ...], quality: AnswerQuality, *, rng: np.random.Generator) -> dict[AnswerRef, CellQuality]:
    """Per-cell quality for one attempt.

    ``partial`` picks each cell independently (half correct, the rest mostly
    broken, some blank); with two or more cells it always mixes right and
    wrong, so a partial attempt never scores like a correct or a failed one.
    """
    if quality != "partial":
        return {key.ref: quality for key in keys}
    picks: list[CellQuality] = [
        "correct" if rng.random() < 0.5 else ("error" if rng.random() < 0.7 else "blank") for _ in keys
    ]
    if len(picks) >= 2 and len({p == "correct" for p in picks}) == 1:
        flip = int(rng.integers(len(picks)))
        picks[flip] = "error" if picks[flip] == "correct" else "correct"
    return {key.ref: pick for key, pick in zip(keys, picks)}


def read_answers(lesson_dir: Path, keys: tuple[AnswerKey, ...]) -> dict[AnswerRef, str]:
    """The current text of each answer cell in a student's copy (the stubs, right after fetching)."""
    wanted = {key.ref for key in keys}
    found: dict[AnswerRef, str] = {}
    for notebook in sorted({key.notebook for key in keys}):
        nb = nbformat.read(lesson_dir / notebook, as_version=4)
        for cell in nb.cells:
            ref = (notebook, cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
            if ref in wanted:
                found[ref] = cell.source
    return found


def write_answers(lesson_dir: Path, answers: Mapping[AnswerRef, str]) -> None:
    """Replace answer cells, found by grade_id, in a student's fetched notebooks."""
    for notebook in sorted({ref[0] for ref in answers}):
        path = lesson_dir / notebook
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            ref = (notebook, cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
            if ref in answers:
                cell.source = answers[ref]
        nbformat.write(nb, path)


def answer_attempt(
    lesson_dir: Path,
    keys: tuple[AnswerKey, ...],
    quality: AnswerQuality,
    *,
    stubs: Mapping[AnswerRef, str],
    rng: np.random.Generator,
) -> dict[AnswerRef, CellQuality]:
    """Write one attempt's answers into a student's copy; returns what each cell got.

    ``stubs`` are the cells as released: a blank answer puts the stub back, so
    a student can get worse between attempts as well as better.
    """
    qualities = cell_qualities(keys, quality, rng=rng)
    texts: dict[AnswerRef, str] = {}
    for key in keys:
        text = cell_answer(key, qualities[key.ref])
        if text is None:
            text = stubs.get(key.ref)
        if text is not None:
            texts[key.ref] = text
    write_answers(lesson_dir, texts)
    return qualities
