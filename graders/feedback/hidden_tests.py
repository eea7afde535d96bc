"""Feedback that says whether hidden tests passed, and never what they are.

nbgrader restores hidden tests into the graded notebook (that is how they
run), and its feedback renders that notebook. Once a cell with hidden tests
has run, the student's kernel holds their source (``In``, ``inspect``, the
frames that called the student's function) and may write it, in any encoding,
into anything it can influence: outputs, execution counts, output metadata,
display ids, widget state, error names. So the executed notebook is treated as
written by an attacker, and feedback renders a NEW notebook built from an
allow-list (:func:`feedback_notebook`), never the executed one with parts
removed. Per cell it keeps only:

- Markdown cells: their source and image attachments (both from the
  submission, which the kernel never writes);
- code cells: their source, with hidden tests replaced by one comment line;
- the nbgrader fields the page shows (grade id, points, score, comment), as
  values of the expected types; a fresh id; no execution count;
- outputs of cells before the first cell with hidden tests (the kernel had
  not seen them yet; the sandbox keeps later cells from rewriting those
  outputs): stream text, ``text/plain``, PNG and JPEG images, and errors
  whose class is one of Python's own, with any line quoting a hidden test
  redacted all the same; no output metadata, no other MIME type;
- for a cell with hidden tests, and every later test cell, one pass/fail line
  taken from the cell's score, naming the error only if it is a built-in
  exception (``AssertionError``);
- for a cell whose visible tests come before its hidden ones, grading ran the
  visible part first, on its own (:func:`graders.engine.scoring.visible_first`),
  so what it output was sent before the kernel had the hidden tests: in the
  first such cell, if no hidden test ran before it, those outputs are kept as
  above (a failing visible assertion shows its message). In later cells the
  kernel already ran hidden tests, so when the visible part failed the page
  names only the visible line that failed, quoted from the cell's source (the
  kernel chooses which line, among the visible ones);
- for every later cell, the same fixed line whatever it output (whether it
  output anything is itself a bit the kernel chose).

The notebook's metadata is fixed. What still reaches the student from the
kernel after hidden tests ran: the scores, one bit per test cell (passed or
not), the name of a built-in exception and which visible line failed.
"""

from __future__ import annotations

import builtins
import math
import re

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from ..authoring.lesson import NBGRADER_DEFAULT_MARKERS, RegionMarkers

REDACTED = "[hidden test redacted]"
MIN_REDACTED_LENGTH = 6  # shorter lines ("assert", "pass") reveal nothing and are everywhere
NOT_SHOWN = "(This cell ran after hidden tests, so its output is not shown.)\n"
FOREIGN_ERROR = "(An exception of a class defined in the notebook was raised here: only Python's own are named.)\n"
HIDDEN_PLACEHOLDER = "# (hidden tests run here; only whether they passed is shown)"

# The notebook metadata of every feedback page: paceline grades Python notebooks only.
FEEDBACK_METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}
SHOWN_IMAGES = ("image/png", "image/jpeg")
ATTACHMENT_IMAGES = ("image/png", "image/jpeg", "image/gif")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
GRADE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # what paceline check allows (it is put into the page unescaped)
ATTACHMENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class HideHiddenTests(NbGraderPreprocessor):
    """In nbgrader's ``GenerateFeedback`` (after ``GetGrades``): the page renders :func:`feedback_notebook`."""

    begin_delimiter = Unicode("", help="The course's begin-hidden-tests delimiter (empty: nbgrader's)").tag(config=True)
    end_delimiter = Unicode("", help="The course's end-hidden-tests delimiter (empty: nbgrader's)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        markers = RegionMarkers(begin_hidden=self.begin_delimiter or None, end_hidden=self.end_delimiter or None)
        return feedback_notebook(nb, markers=markers), resources


def feedback_notebook(executed: NotebookNode, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> NotebookNode:
    """A new notebook holding only what feedback may show of the graded notebook ``executed``."""
    cells = executed.get("cells")
    cells = cells if isinstance(cells, list) else []
    hidden = _redaction_lines(cells, markers=markers)
    shown, seen_hidden = [], False  # seen_hidden: whether the kernel had run hidden tests when this cell ran
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        metadata = _nbgrader_metadata(cell)
        grading = metadata.get("nbgrader", {})
        if cell.get("cell_type") == "markdown":
            shown.append(new_markdown_cell(_text(cell.get("source")), id=f"cell-{index}", metadata=metadata,
                                           attachments=_attachments(cell.get("attachments"))))
            continue
        if cell.get("cell_type") != "code":
            continue  # raw cells: nothing a student needs to see
        source = _text(cell.get("source"))
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        if hidden_lines(source, markers=markers):
            visible = _visible_part(cell, outputs, source, hidden, trusted=not seen_hidden, markers=markers)
            seen_hidden = True
            source = visible_source(source, markers=markers)
            shown_outputs = [*visible, _verdict(outputs, grading, hidden=True, visible_failed=_visible_failed(cell))]
        elif seen_hidden and grading.get("grade") and not grading.get("solution"):
            shown_outputs = [_verdict(outputs, grading, hidden=False)]
        elif seen_hidden:
            shown_outputs = [new_output("stream", name="stdout", text=NOT_SHOWN)]
        else:
            shown_outputs = [kept for output in outputs if (kept := _allowed_output(output, hidden)) is not None]
        shown.append(new_code_cell(source, id=f"cell-{index}", metadata=metadata, outputs=shown_outputs,
                                   execution_count=None))
    return new_notebook(cells=shown, metadata=FEEDBACK_METADATA)


def hidden_lines(source: str, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> list[str]:
    """The lines between BEGIN and END HIDDEN TESTS markers (markers excluded)."""
    lines, inside = [], False
    for line in source.splitlines():
        if markers.begins_hidden(line):
            inside = True
        elif markers.ends_hidden(line):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def visible_source(source: str, *, markers: RegionMarkers = NBGRADER_DEFAULT_MARKERS) -> str:
    kept, inside = [], False
    for line in source.splitlines():
        if markers.begins_hidden(line):
            inside = True
            kept.append(HIDDEN_PLACEHOLDER)
        elif markers.ends_hidden(line):
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _redaction_lines(cells: list, *, markers: RegionMarkers) -> list[str]:
    lines = {line.strip() for cell in cells if isinstance(cell, dict)
             for line in hidden_lines(_text(cell.get("source")), markers=markers) if len(line.strip()) >= MIN_REDACTED_LENGTH}
    return sorted(lines, key=len, reverse=True)


def _nbgrader_metadata(cell: dict) -> dict:
    """The cell metadata the page shows: nbgrader's flags, grade id, points, score and comment, type-checked."""
    found = (cell.get("metadata") or {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    if not isinstance(found, dict) or not GRADE_ID.fullmatch(str(found.get("grade_id", ""))):
        return {}
    fields = {flag: found.get(flag) is True for flag in ("grade", "solution", "task", "locked")}
    fields["grade_id"] = found["grade_id"]
    if fields["grade"] or fields["task"]:
        fields["points"] = _number(found.get("points")) or 0.0
        fields["score"] = _number(found.get("score"))
    if isinstance(found.get("comment"), str):
        fields["comment"] = found["comment"]
    return {"nbgrader": fields}


def _allowed_output(output: object, hidden: list[str]) -> NotebookNode | None:
    """An output of a cell that ran before any hidden test, reduced to what feedback shows (None: nothing)."""
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream" and output.get("name") in ("stdout", "stderr"):
        return new_output("stream", name=output["name"], text=_redact(_text(output.get("text")), hidden))
    if kind in ("display_data", "execute_result") and isinstance(output.get("data"), dict):
        data = {}
        if "text/plain" in output["data"]:
            data["text/plain"] = _redact(_text(output["data"]["text/plain"]), hidden)
        for mime in SHOWN_IMAGES:
            image = output["data"].get(mime)
            if isinstance(image, str) and BASE64.fullmatch(image):
                data[mime] = image
        if not data:
            return None
        if kind == "execute_result":
            return new_output("execute_result", data=data, execution_count=None)
        return new_output("display_data", data=data)
    if kind == "error":
        ename = output.get("ename")
        if not _is_builtin_exception(ename):
            return new_output("stream", name="stderr", text=FOREIGN_ERROR)
        traceback = output.get("traceback") if isinstance(output.get("traceback"), list) else []
        return new_output("error", ename=ename, evalue=_redact(_text(output.get("evalue")), hidden),
                          traceback=[_redact(line, hidden) for line in traceback if isinstance(line, str)])
    return None


def _visible_part(
    cell: dict, outputs: list, source: str, hidden: list[str], *, trusted: bool, markers: RegionMarkers,
) -> list[NotebookNode]:
    """What feedback shows of the visible part of a cell that grading ran on its own (else nothing).

    ``trusted``: no hidden test had run before it, so its outputs are shown as
    any output before the hidden tests. Else only the failing visible line.
    """
    count = _recorded(cell).get("visible_outputs")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= len(outputs):
        return []
    if trusted:
        return [kept for output in outputs[:count] if (kept := _allowed_output(output, hidden)) is not None]
    if not _visible_failed(cell):
        return []
    errors = [output for output in outputs[:count] if isinstance(output, dict) and output.get("output_type") == "error"]
    ename = errors[0].get("ename") if errors else None
    why = f" ({ename})" if _is_builtin_exception(ename) else ""
    line = _failing_line(errors[0], source, markers=markers) if errors else None
    where = f": {line.strip()}" if line else ""
    return [new_output("stream", name="stdout", text=f"✗ A visible test failed{why}{where}\n")]


def _visible_failed(cell: dict) -> bool:
    reply = _recorded(cell).get("visible_reply")
    return isinstance(reply, str) and reply != "ok"


def _recorded(cell: dict) -> dict:
    """The ``paceline`` cell metadata grading's executor wrote (it replaces whatever the submission had)."""
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    recorded = metadata.get("paceline")
    return recorded if isinstance(recorded, dict) else {}


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_FRAME = re.compile(r"^Cell In\[\d+\], line (\d+)")  # IPython's first frame: the cell itself


def _failing_line(error: dict, source: str, *, markers: RegionMarkers) -> str | None:
    """The line of the visible part (quoted from ``source``, never from the kernel) that the error's traceback names."""
    traceback = error.get("traceback") if isinstance(error.get("traceback"), list) else []
    visible = []
    for line in source.splitlines():
        if markers.begins_hidden(line):
            break
        visible.append(line)
    for entry in traceback:
        found = CELL_FRAME.match(ANSI.sub("", entry)) if isinstance(entry, str) else None
        if found:
            number = int(found.group(1))
            return visible[number - 1] if 1 <= number <= len(visible) else None
    return None


def _verdict(outputs: list, grading: dict, *, hidden: bool, visible_failed: bool = False) -> NotebookNode:
    """One pass/fail line for a test cell: from its score where graded, else as nbgrader grades (error or stderr fails)."""
    errors = [output for output in outputs if isinstance(output, dict) and output.get("output_type") == "error"]
    score = grading.get("score")
    if score is not None:
        failed = score < grading.get("points", 0.0)
    else:
        failed = bool(errors) or any(isinstance(output, dict) and output.get("output_type") == "stream"
                                     and output.get("name") == "stderr" for output in outputs)
    ename = errors[0].get("ename") if errors else None
    why = f" ({ename})" if failed and _is_builtin_exception(ename) else ""
    if hidden and failed and visible_failed:
        text = "✗ These tests did not all pass: a visible test failed, so the hidden tests of this cell did not run.\n"
    elif hidden:
        text = (f"✗ These tests did not all pass{why}. Some of them are hidden, so details are not shown: "
                "check your answer against the visible tests.\n" if failed else
                "✓ All tests in this cell passed, including the hidden ones.\n")
    else:
        text = (f"✗ These tests did not all pass{why}. They ran after hidden tests, so details are not shown: "
                "run them in your notebook to see why.\n" if failed else
                "✓ All tests in this cell passed.\n")
    return new_output("stream", name="stdout", text=text)


def _attachments(found: object) -> dict:
    """Image attachments of a Markdown cell, as base64 (they come from the submission, not the kernel)."""
    if not isinstance(found, dict):
        return {}
    kept = {}
    for name, bundle in found.items():
        if not (isinstance(name, str) and ATTACHMENT_NAME.fullmatch(name) and isinstance(bundle, dict)):
            continue
        images = {mime: data for mime, data in bundle.items()
                  if mime in ATTACHMENT_IMAGES and isinstance(data, str) and BASE64.fullmatch(data)}
        if images:
            kept[name] = images
    return kept


def _is_builtin_exception(name: object) -> bool:
    """Only Python's own exception names are shown: the student's code can raise a class named anything."""
    value = getattr(builtins, name, None) if isinstance(name, str) and name.isidentifier() else None
    return isinstance(value, type) and issubclass(value, BaseException)


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _text(value: object) -> str:
    """A notebook's multiline string (a string, or a list of strings); anything else is no text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return ""


def _redact(text: str, hidden: list[str]) -> str:
    for line in hidden:
        text = text.replace(line, REDACTED)
    return text
