"""Feedback is built from an allow-list: nothing the kernel wrote after hidden tests ran reaches the page (no kernels).

Each test crafts the graded notebook a hostile kernel could leave behind: the
fixture lesson 01-add as nbgrader grades it (its hidden test restored),
followed by cells that ran after the hidden test, with the hidden line
written, in many encodings, into one channel of the executed notebook
(outputs, execution counts, output and cell metadata, display ids, notebook
metadata, attachments, error names, MIME bundles). The page is rendered as
nbgrader's ``GenerateFeedback`` renders it: :class:`HideHiddenTests`, then
paceline's exporter. Two proofs per channel: the page is byte-identical to
the page of the same notebook without the attack, and no encoding of the
hidden line is found in it (while the detector does find it in the crafted
notebook, so the search can fail).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import copy
import html
import json
import re
import urllib.parse
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from graders.feedback.exporter import FeedbackHTMLExporter
from graders.feedback.hidden_tests import NOT_SHOWN, REDACTED, HideHiddenTests, feedback_notebook, hidden_lines
from graders.page_policy import CONTENT_SECURITY_POLICY

SOURCE = Path(__file__).parent / "fixtures" / "course" / "course_source" / "01-add" / "add.ipynb"
SECRET = "assert add(2.5, 2.5) == 5.0"  # the hidden test of lesson 01-add
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
RESOURCES = {"nbgrader": {"notebook": "add", "score": 1.0, "max_score": 3.0, "late_penalty": 0.0}}


# --------------------------------------------------------------------------
# the hidden line in every encoding, and a detector for each
# --------------------------------------------------------------------------

def encodings(secret: str) -> dict[str, str]:
    return {
        "plain": secret,
        "reversed": secret[::-1],
        "spaced": " ".join(secret),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64 in a longer text": base64.b64encode(("In[3]: " + secret).encode()).decode(),
        "hex": secret.encode().hex(),
        "ord codes": ", ".join(str(ord(ch)) for ch in secret),
        "url-encoded": urllib.parse.quote(secret),
        "underscored": "".join(ch if ch.isalnum() else "_" for ch in secret),
        "rot13": codecs.encode(secret, "rot13"),
        "html entities": "".join(f"&#{ord(ch)};" for ch in secret),
    }


PAYLOAD = "\n".join(encodings(SECRET).values())


def found_encodings(text: str, secret: str = SECRET) -> list[str]:
    """Which encodings of ``secret`` occur in ``text`` (a page, or a notebook's JSON)."""
    views = [text, html.unescape(text), urllib.parse.unquote(text)]
    skeleton = "".join(ch for ch in secret if ch.isalnum())
    found = []
    for view in views:
        if secret in view:
            found.append("plain")
        if secret[::-1] in view:
            found.append("reversed")
        if codecs.encode(secret, "rot13") in view:
            found.append("rot13")
        if skeleton in "".join(ch for ch in view if ch.isalnum()):
            found.append("letters and digits (spaced, underscored, ...)")
        if _spelled_by_numbers(re.sub(r"<style.*?</style>", "", view, flags=re.DOTALL), secret):
            found.append("ord codes")
        for run in re.findall(r"[A-Za-z0-9+/=_-]{12,}", view):
            for start in range(4):
                try:
                    decoded = base64.b64decode(run[start:] + "===", altchars=b"-_" if "-" in run or "_" in run else None)
                except (binascii.Error, ValueError):
                    continue
                if secret.encode() in decoded:
                    found.append("base64")
        for run in re.findall(r"[0-9a-fA-F]{12,}", view):
            for start in range(2):
                chunk = run[start:]
                if secret.encode() in bytes.fromhex(chunk[: len(chunk) // 2 * 2]):
                    found.append("hex")
    return sorted(set(found))


def _spelled_by_numbers(text: str, secret: str) -> bool:
    """Whether the code points of ``secret`` occur in a row among the numbers of ``text``, or among its
    "In [n]" prompts (which cell ids and "Out[n]" prompts interleave)."""
    codes = [ord(ch) for ch in secret]
    numbers = [int(n) for n in re.findall(r"\d+", text) if len(n) < 7]
    prompts = [int(n) for n in re.findall(r"In(?:\s|&nbsp;|\xa0)*\[(\d{1,6})\]", text)]
    return any(sequence[i:i + len(codes)] == codes
               for sequence in (numbers, prompts) for i in range(len(sequence) - len(codes) + 1))


def test_the_detector_finds_every_encoding() -> None:
    for name, encoded in encodings(SECRET).items():
        assert found_encodings(f"<pre>output: {encoded}\n</pre>"), name
    assert found_encodings("In&nbsp;[" + "]:\nIn&nbsp;[".join(str(ord(ch)) for ch in SECRET) + "]:")
    assert found_encodings("".join(f"In [{ord(ch)}]: x = 1\nOut[{ord(ch)}]: 1\n" for ch in SECRET))
    assert found_encodings(json.dumps({"x": PAYLOAD}))
    assert found_encodings(Path(SOURCE).read_text())  # the hidden test itself, as nbgrader restores it
    assert not found_encodings(render(executed()))


# --------------------------------------------------------------------------
# the graded notebook, and its page
# --------------------------------------------------------------------------

def executed() -> NotebookNode:
    """01-add as nbgrader's autograde leaves it: a wrong answer, its outputs, and two cells after the tests."""
    nb = nbformat.read(SOURCE, as_version=4)
    answer, visible, hidden = nb.cells[1], nb.cells[2], nb.cells[3]
    answer.source = "def add(a, b):\n    print('adding', a, b)\n    return int(a) + int(b)\nadd(1, 2)"
    answer.execution_count = 1
    answer.outputs = [
        new_output("stream", name="stdout", text="adding 1 2\n"),
        new_output("display_data", data={"text/plain": "<Figure size 1x1>", "image/png": PNG}),
        new_output("execute_result", data={"text/plain": "3"}, execution_count=1),
    ]
    visible.execution_count, visible.outputs = 2, []
    hidden.execution_count = 3
    hidden.outputs = [new_output("error", ename="AssertionError", evalue="",
                                 traceback=["Traceback", f"----> 3 {SECRET}", "AssertionError: "])]
    for cell in (visible, hidden):
        cell.metadata.nbgrader["score"] = 1.0 if cell is visible else 0.0
    after = [new_code_cell("print(In)", execution_count=4,
                           outputs=[new_output("stream", name="stdout", text="['', 'def add(a, b): ...']\n")]),
             new_code_cell("done = True", execution_count=5)]
    nb.cells.extend(after)
    assert [c.source for c in nb.cells if c.cell_type == "code" and hidden_lines(c.source)] == [hidden.source]
    return nb


def render(nb: NotebookNode) -> str:
    """The page nbgrader's GenerateFeedback would write: HideHiddenTests, then paceline's exporter."""
    shown, resources = HideHiddenTests().preprocess(copy.deepcopy(nb), copy.deepcopy(RESOURCES))
    nbformat.validate(shown)
    page, _ = FeedbackHTMLExporter().from_notebook_node(shown, resources=resources)
    return page


AFTER_HIDDEN = slice(4, None)  # the cells that ran after the hidden test


def cells_after_hidden(nb: NotebookNode) -> list[NotebookNode]:
    return nb.cells[AFTER_HIDDEN]


def more_cells_after_hidden(nb: NotebookNode, count: int) -> None:
    nb.cells.extend(new_code_cell("step()") for _ in range(count))


# --------------------------------------------------------------------------
# the attacks: each writes the hidden line into one channel
# --------------------------------------------------------------------------

def via_execution_counts(nb: NotebookNode) -> None:
    """get_ipython().execution_count = ord(c) before each cell: the page's "In [n]" prompts spell it."""
    more_cells_after_hidden(nb, len(SECRET))
    for cell, ch in zip(cells_after_hidden(nb), SECRET, strict=False):
        cell.execution_count = ord(ch)
        cell.outputs.append(new_output("execute_result", data={"text/plain": "x"}, execution_count=ord(ch)))


def via_output_metadata(nb: NotebookNode) -> None:
    """Display metadata: an image's alt text, width and height, nbconvert's filenames, iframe isolation."""
    leaky = {"image/png": {"alt": PAYLOAD, "width": PAYLOAD, "height": PAYLOAD, "unconfined": True},
             "filenames": {"image/png": PAYLOAD}, "text/html": {"isolated": True}, "leak": PAYLOAD}
    for cell in cells_after_hidden(nb):
        cell.outputs.append(new_output("display_data", data={"text/plain": "fig", "image/png": PNG}, metadata=leaky))
    for early in nb.cells[1].outputs[1:]:  # the answer cell's figure and value: their metadata too
        early["metadata"] = leaky


def via_display_ids(nb: NotebookNode) -> None:
    """display(..., display_id=...) and update_display_data: ids, transient data, an update's payload."""
    nb.cells[1].outputs[1]["transient"] = {"display_id": PAYLOAD}  # the answer cell's figure
    for cell in [nb.cells[1], *cells_after_hidden(nb)]:
        cell.outputs.append(NotebookNode(output_type="update_display_data", data={"text/plain": PAYLOAD},
                                         metadata={}, transient={"display_id": "early"}))
    for cell in cells_after_hidden(nb):
        cell.outputs.append(NotebookNode(output_type="display_data", data={"text/plain": "x"}, metadata={},
                                         transient={"display_id": PAYLOAD}))


def via_cell_metadata(nb: NotebookNode) -> None:
    """nbclient's execution timings, tags, ids, and extra keys in nbgrader's own metadata."""
    for index, cell in enumerate(nb.cells):
        cell.metadata["execution"] = {"iopub.status.busy": PAYLOAD, "shell.execute_reply": PAYLOAD}
        cell.metadata["tags"] = [PAYLOAD, f"t{index}"]
        cell.metadata["leak"] = PAYLOAD
        cell.metadata["jupyter"] = {"outputs_hidden": False, "leak": PAYLOAD}
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["leak"] = PAYLOAD
        cell["id"] = "".join(ch if ch.isalnum() else "-" for ch in SECRET)[:64]
    cells_after_hidden(nb)[0].metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": PAYLOAD,
                                                      "points": PAYLOAD, "score": PAYLOAD}


def via_notebook_metadata(nb: NotebookNode) -> None:
    """Widget state (written by the kernel at any time), language_info, title, authors, kernelspec."""
    state = {"state": {"model-1": {"model_name": "TextModel", "state": {"value": PAYLOAD}}}}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    nb.metadata["language_info"] = {"name": PAYLOAD, "pygments_lexer": "ipython3", "version": PAYLOAD}
    nb.metadata["title"] = PAYLOAD
    nb.metadata["authors"] = [{"name": PAYLOAD}]
    nb.metadata["kernelspec"]["display_name"] = PAYLOAD
    nb.metadata["leak"] = PAYLOAD


def via_attachments(nb: NotebookNode) -> None:
    """Markdown attachments of any MIME type, referenced or not, and attachments on code cells."""
    nb.cells[0]["attachments"] = {"leak.txt": {"text/plain": PAYLOAD},
                                  "leak.svg": {"image/svg+xml": f"<svg><text>{PAYLOAD}</text></svg>"},
                                  PAYLOAD: {"image/png": PNG}}
    cells_after_hidden(nb)[0]["attachments"] = {"x.png": {"image/png": base64.b64encode(PAYLOAD.encode()).decode()}}


def via_error_names(nb: NotebookNode) -> None:
    """Exceptions whose class name, value and traceback carry it: in the hidden test's cell and after."""
    named = "".join(ch if ch.isalnum() else "_" for ch in SECRET)
    # After the hidden test's own AssertionError (the first error names the failure: see the next test).
    nb.cells[3].outputs.append(new_output("error", ename=named, evalue=PAYLOAD, traceback=PAYLOAD.splitlines()))
    for cell in cells_after_hidden(nb):
        cell.outputs.append(new_output("error", ename=named, evalue=PAYLOAD, traceback=[PAYLOAD]))
        cell.outputs.append(new_output("error", ename="ValueError", evalue=PAYLOAD, traceback=[PAYLOAD]))


def via_mime_bundles(nb: NotebookNode) -> None:
    """Every MIME type but plain text and PNG/JPEG, before the hidden tests (whose rewrites the sandbox stops)
    and after them, where even plain text is not shown."""
    encoded = base64.b64encode(PAYLOAD.encode()).decode()
    bundle = {
        "text/html": f"<b>{PAYLOAD}</b>", "text/markdown": f"**{PAYLOAD}**", "text/latex": f"${PAYLOAD}$",
        "image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg"><text>{PAYLOAD}</text></svg>',
        "application/json": {"leak": PAYLOAD}, "application/javascript": f"console.log({json.dumps(PAYLOAD)})",
        "application/vnd.jupyter.widget-view+json": {"model_id": PAYLOAD, "version_major": 2, "version_minor": 0},
        "application/pdf": encoded, "image/gif": encoded, "text/csv": PAYLOAD, "application/x-leak": PAYLOAD,
    }
    nb.cells[1].outputs.append(new_output("display_data", data=bundle))
    for cell in cells_after_hidden(nb):
        cell.outputs.append(new_output("display_data", data={**bundle, "text/plain": PAYLOAD, "image/png": encoded}))
        cell.outputs.append(new_output("execute_result", data={"text/plain": PAYLOAD}, execution_count=9))


def via_streams_after_hidden(nb: NotebookNode) -> None:
    """print() and sys.stderr after the hidden tests ran: In holds them."""
    for cell in cells_after_hidden(nb):
        cell.outputs += [new_output("stream", name="stdout", text=PAYLOAD), new_output("stream", name="stderr", text=PAYLOAD)]


def via_which_cells_print(nb: NotebookNode) -> None:
    """One bit per cell: whether it printed anything at all (here: the bits of the hidden line)."""
    bits = "".join(f"{ord(ch):08b}" for ch in SECRET)
    more_cells_after_hidden(nb, len(bits))
    for cell, bit in zip(cells_after_hidden(nb), bits, strict=False):
        cell.outputs = [new_output("stream", name="stdout", text=".")] if bit == "1" else []


def via_malformed_fields(nb: NotebookNode) -> None:
    """Fields of the wrong type or unknown kind, where a renderer might print them as they are."""
    for cell in cells_after_hidden(nb):
        cell.outputs.append(NotebookNode(output_type=PAYLOAD, text=PAYLOAD, data={"text/plain": PAYLOAD}))
        cell.outputs.append(NotebookNode(output_type="stream", name=PAYLOAD, text=PAYLOAD))
    nb.cells.append(NotebookNode(cell_type="raw", source=PAYLOAD, metadata={"format": "text/html"}, id="raw"))
    nb.cells.append(NotebookNode(cell_type=PAYLOAD, source=PAYLOAD, metadata={}, id="odd"))


ATTACKS: dict[str, Callable[[NotebookNode], None]] = {
    attack.__name__: attack for attack in (
        via_execution_counts, via_output_metadata, via_display_ids, via_cell_metadata, via_notebook_metadata,
        via_attachments, via_error_names, via_mime_bundles, via_streams_after_hidden, via_which_cells_print,
        via_malformed_fields,
    )
}


def test_a_hidden_test_failing_with_a_made_up_exception_is_not_named() -> None:
    nb = executed()
    named = "".join(ch if ch.isalnum() else "_" for ch in SECRET)
    nb.cells[3].outputs = [new_output("error", ename=named, evalue=PAYLOAD, traceback=[PAYLOAD])]
    page = render(nb)
    assert found_encodings(page) == []
    assert "These tests did not all pass. Some of them are hidden" in _visible_text(page)


# Attacks whose channel is not text (which cells print), or numbers among other numbers in the JSON.
NOT_TEXT = {"via_which_cells_print", "via_execution_counts"}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_no_channel_of_the_executed_notebook_reaches_the_page(attack: str) -> None:
    nb = executed()
    ATTACKS[attack](nb)
    # The attack did put the hidden line into the graded notebook (beyond the hidden test's own source).
    assert attack in NOT_TEXT or set(found_encodings(json.dumps(nb))) > set(found_encodings(json.dumps(executed())))
    page = render(nb)
    assert found_encodings(page) == []
    # Stronger: the page is exactly the page of the same notebook without the attack, given the same
    # number of cells after the hidden tests (each shown with the same fixed line, whatever it printed).
    baseline = executed()
    added = [c for c in nb.cells[len(baseline.cells):] if c.get("cell_type") == "code"]
    more_cells_after_hidden(baseline, len(added))
    assert _cell_texts(page) == _cell_texts(render(baseline))


def _cell_texts(page: str) -> str:
    """The page without the per-cell ids (the cells' positions), for comparing two pages."""
    return re.sub(r'id="cell-id=cell-\d+"', "", page)


def test_attacks_together_leave_the_page_as_without_them() -> None:
    nb = executed()
    for attack in ATTACKS.values():
        attack(nb)
    page = render(nb)
    assert found_encodings(page) == []
    assert REDACTED not in page  # nothing before the hidden tests quoted them


# --------------------------------------------------------------------------
# what the page still shows an honest student
# --------------------------------------------------------------------------

def test_a_page_without_images_is_not_parsed_again_and_one_with_an_image_gets_its_alt_text(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bs4

    parsed = []
    original = bs4.BeautifulSoup.__init__

    def counting(self, *args, **kwargs) -> None:
        parsed.append(True)
        original(self, *args, **kwargs)

    monkeypatch.setattr(bs4.BeautifulSoup, "__init__", counting)
    nb = executed()
    for cell in nb.cells:
        cell.outputs = [o for o in cell.get("outputs", []) if "image/png" not in o.get("data", {})]
    page = render(nb)
    assert "<img" not in page and "adding 1 2" in _visible_text(page) and parsed == []
    assert 'alt="No description has been provided for this image"' in render(executed()) and parsed == [True]


def test_the_page_keeps_what_helps_before_the_hidden_tests_and_verdicts_after() -> None:
    page = render(executed())
    text = _visible_text(page)
    assert "adding 1 2" in text  # print() in the answer cell
    assert f"data:image/png;base64,{PNG}" in page  # a figure
    assert re.findall(r"<img [^>]*>", page) == [
        f'<img alt="No description has been provided for this image" src="data:image/png;base64,{PNG}"/>']  # nbconvert's alt
    assert "Out[ ]:" in text and "3" in text  # a value, without the kernel's execution count
    assert "assert add(1, 2) == 3" in text and "assert add(-1, 1) == 0" in text  # visible tests
    assert "# (hidden tests run here; only whether they passed is shown)" in text
    assert "These tests did not all pass (AssertionError). Some of them are hidden" in text  # score 0 of 2
    assert text.count(NOT_SHOWN.strip()) == 2  # both later cells, whatever they printed
    assert "add (Score: 1.0 / 3.0)" in text and "Score: 0.0 / 2.0" in text  # GetGrades' scores
    assert "In [1]" not in text and "In [4]" not in text  # no execution counts


def test_an_error_before_the_hidden_tests_is_shown_if_python_named_it() -> None:
    nb = executed()
    nb.cells[2].outputs = [new_output("error", ename="AssertionError", evalue="add(1, 2) should be 3",
                                      traceback=["\x1b[31mAssertionError\x1b[0m: add(1, 2) should be 3"])]
    nb.cells[1].outputs.append(new_output("error", ename="StudentError", evalue="mine", traceback=["StudentError: mine"]))
    text = _visible_text(render(nb))
    assert "AssertionError: add(1, 2) should be 3" in text
    assert "StudentError" not in text and "only Python's own are named" in text


def _ran_visible_first(cell: NotebookNode, *, visible_outputs: object, visible_reply: str) -> None:
    """What grading's executor records for a test cell whose visible part it ran on its own."""
    cell.metadata["paceline"] = {"execute_reply": visible_reply, "visible_outputs": visible_outputs,
                                 "visible_reply": visible_reply}


def test_a_failing_visible_test_before_any_hidden_one_shows_its_message() -> None:
    nb = executed()
    hidden = nb.cells[3]
    hidden.outputs = [new_output("error", ename="AssertionError", evalue="add(-1, 1) should be 0",
                                 traceback=["Cell In[3], line 1\n----> 1 assert add(-1, 1) == 0",
                                            "AssertionError: add(-1, 1) should be 0"])]
    _ran_visible_first(hidden, visible_outputs=1, visible_reply="error")
    text = _visible_text(render(nb))
    assert "AssertionError: add(-1, 1) should be 0" in text and "----> 1 assert add(-1, 1) == 0" in text
    assert "These tests did not all pass: a visible test failed, so the hidden tests of this cell did not run." in text
    assert "Score: 0.0 / 2.0" in text
    # Without the executor's record (a notebook graded in one piece), only the verdict, as before.
    del hidden.metadata["paceline"]
    text = _visible_text(render(nb))
    assert "should be 0" not in text and "These tests did not all pass (AssertionError). Some of them are hidden" in text


def test_what_the_hidden_part_output_is_never_shown_next_to_the_visible_part() -> None:
    nb = executed()
    hidden = nb.cells[3]
    hidden.outputs = [new_output("stream", name="stdout", text="visible part ran\n"),
                      new_output("stream", name="stdout", text=PAYLOAD),
                      new_output("error", ename="AssertionError", evalue=PAYLOAD, traceback=[PAYLOAD])]
    _ran_visible_first(hidden, visible_outputs=1, visible_reply="ok")
    page = render(nb)
    assert "visible part ran" in _visible_text(page) and found_encodings(page) == []
    assert "These tests did not all pass (AssertionError). Some of them are hidden" in _visible_text(page)
    for forged in (4, -1, True, "1", None):  # a count the executor cannot have written shows nothing
        _ran_visible_first(hidden, visible_outputs=forged, visible_reply="ok")
        page = render(nb)
        assert "visible part ran" not in _visible_text(page) and found_encodings(page) == []


def test_a_failing_visible_test_after_hidden_ones_ran_is_named_by_its_line_only() -> None:
    nb = executed()
    later = new_code_cell("assert add(3, 4) == 7\nassert add(0, 0) == 0, 'zero'\n### BEGIN HIDDEN TESTS\n"
                          "assert add(2, 2) == 4\n### END HIDDEN TESTS",
                          metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                 "grade_id": "later", "points": 1, "score": 0.0}},
                          outputs=[new_output("error", ename="AssertionError", evalue=PAYLOAD,
                                              traceback=[PAYLOAD, "\x1b[0;32mCell In[7], line 2\x1b[0m\n" + PAYLOAD])])
    _ran_visible_first(later, visible_outputs=1, visible_reply="error")
    nb.cells.append(later)
    page = render(nb)
    text = _visible_text(page)
    assert "✗ A visible test failed (AssertionError): assert add(0, 0) == 0, 'zero'" in text
    assert found_encodings(page) == [] and "assert add(2, 2) == 4" not in text
    # A line number outside the visible part names no line (the hidden part is never quoted).
    later.outputs[0]["traceback"] = ["Cell In[7], line 4"]
    text = _visible_text(render(nb))
    assert "✗ A visible test failed (AssertionError)\n" in text or text.count("A visible test failed (AssertionError)") == 1
    assert "assert add(2, 2) == 4" not in text


def test_a_line_quoting_a_hidden_test_is_redacted_even_before_they_ran() -> None:
    nb = executed()
    nb.cells[1].outputs.append(new_output("stream", name="stdout", text=f"I guess: {SECRET}\n"))
    text = _visible_text(render(nb))
    assert f"I guess: {REDACTED}" in text and SECRET not in text


def test_a_passing_test_cell_says_so_from_its_score_not_from_what_it_printed() -> None:
    nb = executed()
    nb.cells[3].metadata.nbgrader["score"] = 2.0  # graded as passed: an error output does not contradict it
    later = new_code_cell("assert True", metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                          "grade_id": "later", "points": 1, "score": 0.0}},
                          outputs=[new_output("stream", name="stdout", text="all fine, honest\n")])
    nb.cells.append(later)
    text = _visible_text(render(nb))
    assert "All tests in this cell passed, including the hidden ones." in text
    assert "These tests did not all pass. They ran after hidden tests" in text and "honest" not in text


def test_a_notebook_without_hidden_tests_is_rebuilt_from_the_allow_list_too() -> None:
    nb = executed()
    nb.cells[3].source = "assert add(-1, 1) == 0"
    via_mime_bundles(nb)
    shown = feedback_notebook(nb)
    assert [o for c in shown.cells if c.cell_type == "code" for o in c.outputs
            if set(o.get("data", {})) - {"text/plain", "image/png", "image/jpeg"}] == []
    assert shown.metadata == {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                              "language_info": {"name": "python"}}


# --------------------------------------------------------------------------
# the page runs no script (the browser test shows it in chromium)
# --------------------------------------------------------------------------

XSS_MARKDOWN = """# Hello
<script>window.pwned = 1</script>
<img src="x" onerror="window.pwned = 2">
<svg onload="window.pwned = 3"><script>window.pwned = 4</script></svg>
[click](javascript:window.pwned=5) <a href="javascript:window.pwned=6">me</a>
<iframe src="data:text/html,<script>parent.pwned=7</script>"></iframe>
<style>body { display: none }</style>
"""


def test_the_page_starts_with_a_policy_that_forbids_script_and_contains_none() -> None:
    nb = executed()
    nb.cells[0].source += "\n" + XSS_MARKDOWN
    page = render(nb)
    head = _HeadReader()
    head.feed(page)
    assert head.first_element == ("meta", {"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY})
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    elements = head.elements
    assert {tag for tag, _ in elements} & {"script", "iframe", "svg", "object", "embed", "frame", "link", "base", "form"} == set()
    assert "style" not in [tag for tag, _ in elements[[tag for tag, _ in elements].index("body"):]]  # CSS: <head>'s own
    assert [(tag, name) for tag, attrs in elements for name in attrs if name.startswith("on")] == []
    assert [value for _, attrs in elements for name, value in attrs.items()
            if name in ("href", "src") and not (value or "").startswith(("#", "data:image/png;base64,"))] == []
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page  # shown as text, not run
    assert '<h1 id="Hello">' in page  # Markdown still renders


class _HeadReader(HTMLParser):
    """The first element in <head>, and every element of the page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.in_head = False
        self.first_element: tuple[str, dict] | None = None
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "head":
            self.in_head = True
        elif self.in_head and self.first_element is None:
            self.first_element = (tag, dict(attrs))


def _visible_text(page: str) -> str:
    without_style = re.sub(r"<style.*?</style>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", without_style)).replace("\xa0", " ")
