"""No script from a student's notebook runs where it is rendered: checked in a real browser (chromium).

A hostile notebook (the fixture lesson 01-add, graded) carries script in every
place a student controls: Markdown cells (``<script>``, ``onerror=``, SVG
``onload``, ``javascript:`` links, iframes, objects, meta refresh, forms, CSS
imports) and outputs before and after the hidden tests (``text/html``,
``image/svg+xml``, ``text/markdown``, ``application/javascript``, LaTeX, widget
views). Each piece, if it ran, would set ``window.pwned_<name>``, add a
``#pwned-<name>`` element, retitle the page, open an ``alert`` and request
``/beacon/<name>`` from the loopback server that serves the page. The pages
are opened in Debian's chromium driven by Playwright; nothing outside that
server can be reached. A control page (plain nbconvert, unsanitized) shows
the attacks do run in this browser, so the checks can fail.

Needs ``/usr/bin/chromium`` and the ``playwright`` package (``make test``
installs both); without them the browser tests are skipped with the reason,
except under CI, where a missing install step must fail.
"""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from jinja2 import pass_context
from jinja2.runtime import Context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from traitlets.config import Config

from graders.course.plan import load_course
from graders.engine.wiring import write_nbgrader_config
from graders.feedback.exporter import FeedbackHTMLExporter
from graders.feedback.hidden_tests import HideHiddenTests

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = FIXTURES / "course" / "course_source" / "01-add" / "add.ipynb"
RESOURCES = {"nbgrader": {"notebook": "add", "score": 1.0, "max_score": 3.0, "late_penalty": 0.0}}


# --------------------------------------------------------------------------
# the attacks
# --------------------------------------------------------------------------

def js(name: str) -> str:
    """Script that leaves every trace a test looks for (single quotes only: it goes into attributes)."""
    return (f"window.pwned_{name}=1;document.title='pwned {name}';"
            f"var d=document.createElement('div');d.id='pwned-{name}';(document.body||document.documentElement).appendChild(d);"
            f"fetch('/beacon/{name}').catch(function(){{}});new Image().src='/beacon/{name}-img';alert('{name}')")


def html_attacks(prefix: str, base: str) -> str:
    """HTML that runs script in an unprotected page, each piece named ``<prefix>_<how>``."""
    p = prefix
    frame = f"<script>top.pwned_{p}_iframe=1;fetch('{base}/beacon/{p}_iframe')</script>"
    return f"""
<script>{js(p + '_script')}</script>
<img src="x" onerror="{js(p + '_onerror')}">
<svg onload="{js(p + '_svg_onload')}"><script>{js(p + '_svg_script')}</script></svg>
<a id="{p}-js-link" href="javascript:{js(p + '_a_href')}">an html link</a>
<details open ontoggle="{js(p + '_ontoggle')}"><summary>details</summary></details>
<iframe srcdoc="{frame.replace('"', '&quot;')}"></iframe>
<object data="{base}/beacon/{p}_object"></object>
<form action="{base}/beacon/{p}_form"><button id="{p}-form-button">send</button></form>
<link rel="stylesheet" href="{base}/beacon/{p}_stylesheet">
<style>@import url('{base}/beacon/{p}_css_import');</style>
<body onload="{js(p + '_body_onload')}">
"""


def markdown_attacks(prefix: str, base: str) -> str:
    return (f"# Hostile {prefix}\n\n[a markdown link](javascript:window.pwned_{prefix}_md_link=1)\n\n"
            f"![an image](x \"title\")\n\n" + html_attacks(prefix, base))


def svg_attack(name: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js(name + "_onload")}">'
            f'<script>{js(name + "_script")}</script><text y="10">svg</text></svg>')


def output_attacks(prefix: str, base: str) -> list[NotebookNode]:
    return [
        new_output("display_data", data={"text/html": html_attacks(prefix + "_html", base), "text/plain": "html"}),
        new_output("display_data", data={"image/svg+xml": svg_attack(prefix + "_svg")}),
        new_output("display_data", data={"text/markdown": markdown_attacks(prefix + "_markdown", base)}),
        new_output("display_data", data={"application/javascript": js(prefix + "_javascript")}),
        new_output("display_data", data={"text/latex": f"$x$ <script>{js(prefix + '_latex')}</script>"}),
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json":
                                         {"model_id": "m", "version_major": 2, "version_minor": 0}}),
        new_output("execute_result", execution_count=1,
                   data={"text/html": f"<img src=x onerror=\"{js(prefix + '_result')}\">", "text/plain": "result"}),
    ]


def hostile_notebook(base: str) -> NotebookNode:
    """01-add as graded: script in a Markdown cell, in outputs before the hidden test and after it."""
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells.insert(1, new_markdown_cell(markdown_attacks("markdown_cell", base)))
    answer = nb.cells[2]
    answer.source = "def add(a, b):\n    return a + b"
    answer.outputs = output_attacks("before", base)
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade"):
            grading["score"] = float(grading["points"]) if grading["grade_id"] == "test_add_visible" else 0.0
    nb.cells.append(new_code_cell("show()", outputs=output_attacks("after", base)))
    return nb


# --------------------------------------------------------------------------
# a loopback site, and a real browser visiting it
# --------------------------------------------------------------------------

@dataclass
class Site:
    url: str
    pages: dict[str, str] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)

    def beacons(self) -> list[str]:
        return [path for path in self.requested if path.startswith("/beacon/")]


@dataclass
class Visit:
    ran: list[str]  # window.pwned_* names and #pwned-* elements found
    title: str
    dialogs: list[str]
    beacons: list[str]
    text: str


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            served.requested.append(self.path)
            page = served.pages.get(self.path)
            if page is None:
                self.send_response(404 if not self.path.startswith("/beacon/") else 204)
                self.end_headers()
                return
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def visit(browser, site: Site, path: str, page_html: str) -> Visit:
    """Open ``page_html`` served at ``path``, click its links and buttons, and report every trace of script."""
    site.pages[path] = page_html
    site.requested.clear()
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # Only the loopback site: a CDN script (MathJax in formgrader's page) is never fetched.
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site.url) else route.abort())
    try:
        page.goto(site.url + path, wait_until="load")
        for link in page.query_selector_all("a[href^='javascript:' i], button"):
            try:
                link.click(timeout=2000, no_wait_after=True)
            except Exception:  # noqa: BLE001 (a hidden or detached element: nothing to click)
                pass
            if page.url != site.url + path:  # a form was sent: its beacon is recorded; back to the page
                page.goto(site.url + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        ran = page.evaluate("() => Object.keys(window).filter(k => k.startsWith('pwned'))")
        ran += [element.get_attribute("id") for element in page.query_selector_all("[id^='pwned']")]
        return Visit(ran=ran, title=page.title(), dialogs=dialogs, beacons=site.beacons(), text=page.inner_text("body"))
    finally:
        context.close()


# --------------------------------------------------------------------------
# the pages
# --------------------------------------------------------------------------

def feedback_page(nb: NotebookNode) -> str:
    """As nbgrader's GenerateFeedback renders it with paceline's configuration."""
    shown, resources = HideHiddenTests().preprocess(copy.deepcopy(nb), copy.deepcopy(RESOURCES))
    return FeedbackHTMLExporter().from_notebook_node(shown, resources=resources)[0]


def formgrader_exporter(course_root: Path, monkeypatch: pytest.MonkeyPatch) -> HTMLExporter:
    """The exporter formgrader builds on the instructor's server, from the course's generated nbgrader config."""
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    write_nbgrader_config(load_course(course_root))
    monkeypatch.chdir(course_root)  # where Jupyter (and so formgrader) finds nbgrader_config.py
    formgrader = FormgradeExtension()
    formgrader.initialize([])
    assert Path(formgrader.coursedir.root) == course_root
    return HTMLExporter(config=formgrader.config)  # as FormgradeExtension.init_tornado_settings does


FORMGRADER_RESOURCES = {"assignment_id": "01-add", "notebook_id": "add", "submission_id": "s1", "index": 0, "total": 1,
                        "base_url": "", "student": "mallory", "last_name": "M", "first_name": "Mallory",
                        "notebook_path": "autograded/mallory/01-add/add.ipynb"}  # as formgrader's SubmissionHandler


def formgrader_page(exporter: HTMLExporter, nb: NotebookNode) -> str:
    return exporter.from_notebook_node(copy.deepcopy(nb), resources=copy.deepcopy(FORMGRADER_RESOURCES))[0]


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", root)
    return root


def test_the_courses_nbgrader_config_sanitizes_formgrader(course_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No browser needed: formgrader's own exporter, configured from the course, escapes the student's script."""
    exporter = formgrader_exporter(course_root, monkeypatch)
    assert exporter.template_name == "formgrade" and exporter.sanitize_html
    page = formgrader_page(exporter, hostile_notebook("http://127.0.0.1:9"))
    # Markdown cells too: nbgrader's template renders them without clean_html, which sanitize_html alone misses.
    assert "&lt;script&gt;window.pwned_markdown_cell_script" in page
    assert live_attacks(page) == []
    assert live_attacks(HTMLExporter(template_name="formgrade", extra_template_basedirs=exporter.extra_template_basedirs)
                        .from_notebook_node(hostile_notebook("http://127.0.0.1:9"), resources=FORMGRADER_RESOURCES)[0])


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.in_script = tag == "script"
        for name, value in attrs:
            if "pwned" in (value or "") and (name.startswith("on") or name in ("href", "src", "srcdoc", "data")):
                self.found.append(f"<{tag} {name}=...>")
        if tag in ("iframe", "object", "embed", "form", "base") or (tag == "link" and "beacon" in str(attrs)):
            self.found.append(f"<{tag}>")

    def handle_data(self, data: str) -> None:
        if self.in_script and "pwned" in data:
            self.found.append("<script>")

    def handle_endtag(self, tag: str) -> None:
        self.in_script = False


def live_attacks(page: str) -> list[str]:
    """Elements of ``page`` (not escaped text) that would run or load a student's attack."""
    parser = _Elements()
    parser.feed(page)
    return parser.found


# --------------------------------------------------------------------------
# in the browser
# --------------------------------------------------------------------------

def test_the_attacks_run_in_an_unprotected_page(browser, site: Site) -> None:
    """The control: nbconvert's plain page runs them, so the checks below can see script that runs."""
    nb = hostile_notebook(site.url)
    config = Config()
    config.HTMLExporter.template_name = "classic"
    plain = HTMLExporter(config=config).from_notebook_node(nb)[0]
    seen = visit(browser, site, "/unprotected.html", plain)
    assert {"pwned_markdown_cell_script", "pwned_markdown_cell_onerror", "pwned_before_html_script",
            "pwned_after_html_onerror", "pwned_before_result"} <= set(seen.ran), seen.ran
    assert seen.title.startswith("pwned") and seen.dialogs
    assert "/beacon/markdown_cell_script" in seen.beacons and "/beacon/before_html_object" in seen.beacons


def test_no_script_runs_in_the_feedback_page(browser, site: Site) -> None:
    seen = visit(browser, site, "/feedback.html", feedback_page(hostile_notebook(site.url)))
    assert (seen.ran, seen.dialogs, seen.beacons) == ([], [], [])
    assert seen.title == "add"
    assert "add (Score: 1.0 / 3.0)" in seen.text and "Score: 0.0 / 2.0" in seen.text  # the page still works
    assert "These tests did not all pass" in seen.text and "Hostile markdown_cell" in seen.text


@pass_context  # like the filter it replaces: the shared compiled templates pass the context to it
def unsanitized_markdown(context: Context, source: str) -> str:
    return markdown2html_mistune(source)


def test_the_policy_alone_stops_script_that_the_sanitizer_would_let_through(browser, site: Site) -> None:
    """Defence in depth: the feedback page with sanitizing switched off, and the raw graded notebook."""
    config = Config()
    config.FeedbackHTMLExporter.sanitize_html = False
    config.FeedbackHTMLExporter.filters = {"markdown2html": unsanitized_markdown}
    raw = FeedbackHTMLExporter(config=config).from_notebook_node(hostile_notebook(site.url),
                                                                 resources=copy.deepcopy(RESOURCES))[0]
    assert "<script>window.pwned_markdown_cell_script" in raw  # the script is in the page...
    seen = visit(browser, site, "/unsanitized-feedback.html", raw)
    assert (seen.ran, seen.dialogs, seen.beacons) == ([], [], [])  # ...and does not run


def test_no_script_from_the_notebook_runs_in_formgraders_view(
    browser, site: Site, course_root: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = formgrader_page(formgrader_exporter(course_root, monkeypatch), hostile_notebook(site.url))
    seen = visit(browser, site, "/formgrader/submissions/s1", page)
    assert (seen.ran, seen.dialogs, seen.beacons) == ([], [], [])
    assert "Hostile markdown_cell" in seen.text


FORMULAS = ("Its area is $\\pi r^2$, and\n\n$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$\n\n"
            "A formula with markup in it stays text: $\\text{<img src=x onerror=alert(1)>}$")


def test_formulas_are_typeset_offline_with_no_script(browser, site: Site) -> None:
    """Formulas become MathML when the page is made: the browser typesets them, nothing is fetched or run."""
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells.insert(1, new_markdown_cell(FORMULAS))
    page_html = feedback_page(nb)
    assert "<script" not in page_html.lower()  # no MathJax, nor any other script
    site.pages["/formulas.html"] = page_html
    site.requested.clear()
    context = browser.new_context()
    page = context.new_page()
    left: list[str] = []  # requests for anything but the loopback site: none may be made (and none would be answered)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site.url)
               else (left.append(route.request.url), route.abort()))
    try:
        page.goto(site.url + "/formulas.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        typeset = page.evaluate("""() => {
            const fraction = document.querySelector('math[display="block"] mfrac');
            const [top, bottom] = Array.from(fraction.children).map(part => part.getBoundingClientRect());
            const letter = document.querySelector('math[display="inline"] mi').getBoundingClientRect();
            return {display: getComputedStyle(fraction.closest('math')).display,
                    stacked: top.bottom <= bottom.top + 1, fraction: fraction.getBoundingClientRect().height,
                    letter: letter.height};
        }""")
        text = page.inner_text("body")
    finally:
        context.close()
    assert left == [] and site.beacons() == []
    # Typeset by the browser's MathML layout: a display formula, its fraction's numerator above its denominator.
    assert typeset["display"] == "block math", typeset
    assert typeset["stacked"] and typeset["fraction"] > 1.5 * typeset["letter"], typeset
    assert "\\frac" not in text and "$$" not in text and "\\pi" not in text
    assert "$\\text{<img src=x onerror=alert(1)>}$" in text  # shown as its TeX, never as an element

