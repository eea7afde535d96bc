"""Feedback that says whether hidden tests passed, and never what they are.

nbgrader restores hidden tests into the graded notebook (that is how they
run), and its feedback renders that notebook: the hidden tests' code, and
tracebacks quoting their lines, would reach the student. This preprocessor
runs inside nbgrader's ``GenerateFeedback`` (after ``GetGrades``).

Once a cell with hidden tests has run, the student's kernel holds their
source (``In``, ``inspect``, the frames that called the student's function),
and everything it outputs afterwards may carry it in any encoding: reversed,
base64, an exception's name. Redacting quoted lines cannot catch that, so
the feedback shows:

- every output of the cells before the first cell with hidden tests (the
  kernel had not seen them yet; the sandbox keeps later cells from rewriting
  those outputs), with any line quoting a hidden test redacted all the same;
- for a cell with hidden tests, its visible part and one pass/fail line;
- for each later test cell, one pass/fail line; later cells' own output is
  not shown.

An error is named in a pass/fail line only if it is a built-in exception
(``AssertionError``), never a name the student's code made up. What still
reaches the student is one bit per test cell (passed or not) and the scores.
"""

from __future__ import annotations

import builtins

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

from ..authoring.lesson import BEGIN_HIDDEN, END_HIDDEN

REDACTED = "[hidden test redacted]"
MIN_REDACTED_LENGTH = 6  # shorter lines ("assert", "pass") reveal nothing and are everywhere
NOT_SHOWN = "(This cell ran after hidden tests, so its output is not shown.)\n"


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden = sorted({line.strip() for cell in nb.cells for line in hidden_lines(cell.get("source", ""))
                         if len(line.strip()) >= MIN_REDACTED_LENGTH}, key=len, reverse=True)
        if not any(cell.cell_type == "code" and hidden_lines(cell.source) for cell in nb.cells):
            return nb, resources
        seen_hidden = False  # whether the kernel had run hidden tests when this cell ran
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if hidden_lines(cell.source):
                _summarise(cell, hidden=True)
                seen_hidden = True
            elif seen_hidden and is_grade(cell) and not is_solution(cell):
                _summarise(cell, hidden=False)
            elif seen_hidden:
                cell.outputs = [new_output("stream", name="stdout", text=NOT_SHOWN)] if cell.get("outputs") else []
            else:
                cell.outputs = [_redact(output, hidden) for output in cell.get("outputs", [])]
        # Widget state is written by the kernel at any time, and rendered into the page.
        nb.metadata.pop("widgets", None)
        return nb, resources


def hidden_lines(source: str) -> list[str]:
    """The lines between BEGIN and END HIDDEN TESTS markers (markers excluded)."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN.match(line):
            inside = True
        elif END_HIDDEN.match(line):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def visible_source(source: str) -> str:
    kept, inside = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN.match(line):
            inside = True
            kept.append("# (hidden tests run here; only whether they passed is shown)")
        elif END_HIDDEN.match(line):
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _summarise(cell: NotebookNode, *, hidden: bool) -> None:
    """Replace the outputs with one pass/fail line (as nbgrader grades it: an error or stderr fails)."""
    outputs = cell.get("outputs", [])
    errors = [output for output in outputs if output.get("output_type") == "error"]
    failed = errors or any(output.get("output_type") == "stream" and output.get("name") == "stderr" for output in outputs)
    ename = str(errors[0].get("ename", "")) if errors else ""
    why = f" ({ename})" if _is_builtin_exception(ename) else ""
    if hidden:
        cell.source = visible_source(cell.source)
        text = (f"✗ These tests did not all pass{why}. Some of them are hidden, so details are not shown: "
                "check your answer against the visible tests.\n" if failed else
                "✓ All tests in this cell passed, including the hidden ones.\n")
    else:
        text = (f"✗ These tests did not all pass{why}. They ran after hidden tests, so details are not shown: "
                "run them in your notebook to see why.\n" if failed else
                "✓ All tests in this cell passed.\n")
    cell.outputs = [new_output("stream", name="stdout", text=text)]


def _is_builtin_exception(name: str) -> bool:
    """Only Python's own exception names are shown: the student's code can raise a class named anything."""
    value = getattr(builtins, name, None) if name.isidentifier() else None
    return isinstance(value, type) and issubclass(value, BaseException)


def _redact(output: NotebookNode, hidden: list[str]) -> NotebookNode:
    def clean(text: str) -> str:
        for line in hidden:
            text = text.replace(line, REDACTED)
        return text

    if "text" in output:
        output["text"] = clean("".join(output["text"]) if isinstance(output["text"], list) else output["text"])
    if "traceback" in output:
        output["traceback"] = [clean(line) for line in output["traceback"]]
    if "evalue" in output:
        output["evalue"] = clean(output["evalue"])
    for mime, value in output.get("data", {}).items():
        if isinstance(value, str) and mime.startswith("text/"):
            output["data"][mime] = clean(value)
        elif isinstance(value, list) and mime.startswith("text/"):
            output["data"][mime] = clean("".join(value))
    return output
