"""The student version of a lesson notebook, as nbgrader's ``generate_assignment`` builds it, and whether it compiles."""

from __future__ import annotations

import ast
import copy
import logging

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearSolutions

from ..course.nbgrader_table import NbgraderSettings
from .trial_run import expects_error

_log = logging.getLogger(__name__)


def student_version(nb: NotebookNode, *, nbgrader: NbgraderSettings = NbgraderSettings()) -> NotebookNode:
    """The notebook with solutions replaced by nbgrader's stubs, as ``generate_assignment`` does
    (with the course's ``[nbgrader]`` delimiters and stubs).

    Hidden tests stay in: the autograder restores and runs them, so they must fail too.
    Raises ``RuntimeError`` or ``ValueError`` (nbgrader's) when nbgrader cannot do it.
    """
    from ..engine.wiring import nbgrader_settings_config

    student = copy.deepcopy(nb)
    ClearSolutions(config=nbgrader_settings_config(nbgrader), log=_log).preprocess(student, {})
    return student


def uncompilable_starter_cells(nb: NotebookNode, *, nbgrader: NbgraderSettings = NbgraderSettings()) -> list[tuple[int, str]]:
    """(index, why) of code cells whose student version cannot even compile although the source does.

    nbgrader's stub takes the indentation of the BEGIN SOLUTION line, so markers placed at another
    indentation than the code they replace leave starter code that no student can run.
    Notebooks in other languages than Python, and cells tagged to raise, are not judged.
    """
    language = nb.metadata.get("kernelspec", {}).get("language") or nb.metadata.get("language_info", {}).get("name")
    if language not in (None, "python"):
        return []
    try:
        student = student_version(nb, nbgrader=nbgrader)
    except (RuntimeError, ValueError):
        return []  # check reports it where the student version is run
    found = []
    for index, (cell, starter) in enumerate(zip(nb.cells, student.cells)):
        if cell.cell_type != "code" or expects_error(cell) or starter.source == cell.source:
            continue
        error = compile_error(starter.source)
        if error is not None and compile_error(cell.source) is None:
            found.append((index, error))
    return found


def compile_error(source: str) -> str | None:
    """Why IPython could not run the cell's code at all (a SyntaxError and its line), or None."""
    try:
        compile(TransformerManager().transform_cell(source), "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as exc:
        return f"{type(exc).__name__}: {exc.msg}, line {exc.lineno}"
    except ValueError as exc:  # a NUL character
        return f"ValueError: {exc}"
    return None
