"""Feedback that says whether hidden tests passed, and never what they are.

nbgrader restores hidden tests into the graded notebook (that is how they
run), and its feedback renders that notebook: the hidden tests' code, and
tracebacks quoting their lines, would reach the student. This preprocessor
runs inside nbgrader's ``GenerateFeedback`` (after ``GetGrades``): a test cell
with hidden tests shows only its visible part and a pass/fail line, and any
output anywhere that quotes a hidden line (a student's cell can print the
kernel's input history) is redacted.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from .lesson import BEGIN_HIDDEN, END_HIDDEN

REDACTED = "[hidden test redacted]"
MIN_REDACTED_LENGTH = 6  # shorter lines ("assert", "pass") reveal nothing and are everywhere


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden = sorted({line.strip() for cell in nb.cells for line in hidden_lines(cell.get("source", ""))
                         if len(line.strip()) >= MIN_REDACTED_LENGTH}, key=len, reverse=True)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if hidden_lines(cell.source):
                _summarise(cell)
            elif hidden:
                cell.outputs = [_redact(output, hidden) for output in cell.get("outputs", [])]
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


def _summarise(cell: NotebookNode) -> None:
    errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    cell.source = visible_source(cell.source)
    if errors:
        text = (f"✗ These tests did not all pass ({errors[0].get('ename', 'error')}). "
                "Some of them are hidden, so details are not shown: check your answer against the visible tests.\n")
    else:
        text = "✓ All tests in this cell passed, including the hidden ones.\n"
    cell.outputs = [new_output("stream", name="stdout", text=text)]


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
