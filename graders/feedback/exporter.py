"""The HTML exporter of nbgrader's ``GenerateFeedback``: a page that runs no script, from templates compiled once per process.

The page is nbgrader's feedback page with three changes (see
:mod:`graders.feedback.page`): every rendered output and Markdown cell is
sanitized, ``<head>`` starts with a Content-Security-Policy that forbids all
script, and MathJax (a script, from a CDN) is not loaded: formulas are MathML,
which the browser typesets offline (:mod:`graders.feedback.math`).

nbconvert builds a fresh jinja environment for every exporter, and nbgrader a
fresh exporter for every feedback page, so each graded attempt compiled the
feedback templates again (0.15 s in a profile; measured end to end, grading an
attempt of demo lesson 01-basics went from 1.25 s to 1.18 s). A grading worker
renders hundreds of pages from the same templates. Jinja's
bytecode cache keys a template by its name and checks its source's checksum,
so a template that changes on disk is compiled afresh. Jinja compiles into a
template whether each filter it calls takes the context, so every exporter of
this class in a process must register the same kinds of filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbgrader
from jinja2 import BytecodeCache, ChoiceLoader, Environment, FileSystemLoader
from jinja2.bccache import Bucket
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbformat import NotebookNode
from traitlets import default

from ..page_policy import CONTENT_SECURITY_POLICY
from .page import markdown_to_safe_html

PAGE_TEMPLATES = Path(__file__).parent / "templates" / "feedback_page"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
BOOTSTRAP_CSS = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "static" / "node_modules" / "bootstrap" / "dist" / "css"


class ProcessBytecodeCache(BytecodeCache):
    """Compiled templates in this process's memory (each Dask worker has its own)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = ProcessBytecodeCache()
IMAGE_TAG = re.compile(r"<img\b", re.IGNORECASE)
NO_ALT_TEXT = "No description has been provided for this image"  # nbconvert's words


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter (configured as ``HTMLExporter``, as nbgrader does), sharing compiled templates.

    It renders ``page.html.j2``, which extends nbgrader's ``feedback`` template
    (the defaults below are what ``GenerateFeedback`` configures, so the exporter
    renders the same page on its own, as the tests use it).
    """

    @default("template_name")
    def _template_name_default(self) -> str:
        return "feedback"

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        return [str(NBGRADER_TEMPLATES)]

    @default("extra_template_paths")
    def _extra_template_paths_default(self) -> list[str]:
        return [str(BOOTSTRAP_CSS)]

    @default("template_file")
    def _template_file_default(self) -> str:
        return "page.html.j2"

    @default("sanitize_html")
    def _sanitize_html_default(self) -> bool:
        return True

    def default_filters(self) -> Iterator[tuple[str, object]]:
        yield from super().default_filters()
        # nbgrader's templates render Markdown cells with markdown2html alone, never clean_html.
        yield ("markdown2html", markdown_to_safe_html)

    def _create_environment(self) -> Environment:
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATE_CACHE
        # The page's own templates come first: page.html.j2, and mathjax.html.j2 in place of nbconvert's.
        environment.loader = ChoiceLoader([FileSystemLoader(str(PAGE_TEMPLATES)), environment.loader])
        environment.globals["content_security_policy"] = CONTENT_SECURITY_POLICY
        return environment

    def from_notebook_node(self, nb: NotebookNode, resources: dict[str, Any] | None = None,
                           **kw: Any) -> tuple[str, dict[str, Any]]:
        """HTMLExporter's page, parsed again only when it has images.

        After rendering, nbconvert parses every page with BeautifulSoup's
        pure-Python parser to give images without alt text its "No description"
        alt, and lab-template cells a tabindex (nbgrader's feedback template is
        the classic one, which has no such cells). On a feedback page that parse
        took twice as long as rendering it, on every graded attempt, and most
        pages have no image. A page with one gets the same alt text as before.
        """
        # As HTMLExporter.from_notebook_node, up to its BeautifulSoup pass.
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        highlight_code = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        if not IMAGE_TAG.search(html):
            return html, resources
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, features="html.parser")
        for image in soup.select("img:not([alt])"):
            image.attrs["alt"] = NO_ALT_TEXT
        return str(soup), resources
