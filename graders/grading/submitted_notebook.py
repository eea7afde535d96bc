"""Reading a notebook a student submitted: each step checked before the next one parses it.

A submission is attacker-written: a notebook nested deeply enough overflows
the JSON parser's recursion, one of 60,000 cells costs the coordinator minutes,
one too big costs memory. The checks themselves are pure
(:mod:`graders.exchange.submission_checks`); this is where grading reads the
file, before it builds a task.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ..course.plan import GradingSettings
from ..errors import CellRef, LessonError
from ..exchange.submission_checks import notebook_structure_problem, notebook_text_problem


def read_submitted_notebook(path: Path, *, lesson: str, limits: GradingSettings) -> NotebookNode:
    """Read a notebook a student wrote, checking at each step, before the next parses it, that
    it is safe to: its size (``[grading] max_notebook_mb``) before reading, its nesting before
    JSON parsing, its cell count and structure (``[grading] max_cells``) before nbformat.

    Raises :class:`LessonError` naming the file and what is wrong.
    """
    where = CellRef(lesson, path.name)
    budget = limits.max_notebook_mb * 1024 * 1024
    try:
        with path.open("rb") as fh:
            data = fh.read(budget + 1)
    except OSError as exc:
        raise LessonError(where, f"cannot be read: {exc.strerror}") from None
    if len(data) > budget:
        raise LessonError(where, f"is larger than the {limits.max_notebook_mb} MB allowed ([grading] max_notebook_mb)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LessonError(where, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    problem = notebook_text_problem(text)
    if problem is None:
        try:
            problem = notebook_structure_problem(json.loads(text), max_cells=limits.max_cells)
        except json.JSONDecodeError as exc:
            problem = f"is not valid notebook JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        except ValueError as exc:  # e.g. a number of more digits than Python converts
            problem = f"is not valid notebook JSON: {exc}"
    if problem:
        raise LessonError(where, problem)
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad structure
        raise LessonError(where, f"is not a valid notebook: {exc}") from None
