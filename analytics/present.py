"""Presenting results in reports anyone can open: short lists with the rest folded away, formulas
rendered without a network, and an HTML page that loads nothing from anywhere.

nbconvert's HTML template loads require.js and MathJax from a CDN (and mermaid
when a notebook has diagrams): a report opened offline, or where scripts from
CDNs are blocked, shows raw ``$...$``. :func:`offline_html` renders with a
template that drops those scripts and turns each ``$...$`` formula into an SVG
image drawn by matplotlib's mathtext, embedded in the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- The lab template, minus every script it would fetch: require.js, MathJax, mermaid, widgets. -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""
# $...$ on one line, not $$, not an escaped \$, not a price like "$5 and $6" (a formula does not end in a space).
_MATH = re.compile(r"(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?![\w$])")


class Html(str):
    """Text that Jupyter displays as HTML (``_repr_html_``), so library code needs no IPython import."""

    def _repr_html_(self) -> str:
        return str(self)


def summarised(items: Sequence[str], *, noun: str, shown: int = 10) -> Html:
    """A count, the first ``shown`` items, and the full list folded in a ``<details>`` element:
    hundreds of withdrawn students stay one line long until the reader opens them."""
    count = len(items)
    plural = noun if count == 1 else f"{noun}s"
    if count <= shown:
        return Html(f"<p><strong>{count:,} {html.escape(plural)}</strong>"
                    + (": " + html.escape(", ".join(items)) if count else "") + "</p>")
    first = html.escape(", ".join(items[:shown]))
    every = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return Html(f"<p><strong>{count:,} {html.escape(plural)}</strong>: {first}, ...</p>"
                f"<details><summary>All {count:,} {html.escape(plural)}</summary><ul>{every}</ul></details>")


def math_svg(latex: str) -> str:
    """``latex`` (matplotlib's mathtext subset of TeX) as an inline SVG ``<img>``, drawn here, not in the browser.

    Drawings are kept in the user's cache folder (:func:`cache_dir`), by formula and matplotlib version: a
    report's formulas are the same every time, and drawing them meant importing matplotlib first.
    """
    from importlib.metadata import version

    key = hashlib.sha256(f"{version('matplotlib')}\0{latex}".encode()).hexdigest()
    cached = cache_dir() / "math" / f"{key}.svg"
    try:
        svg = cached.read_bytes()
    except OSError:
        from matplotlib.mathtext import math_to_image

        buffer = io.BytesIO()
        math_to_image(f"${latex}$", buffer, format="svg", dpi=100)
        svg = buffer.getvalue()
        _keep(cached, svg)
    data = base64.b64encode(svg).decode("ascii")
    return (f'<img class="paceline-math" alt="{html.escape(latex, quote=True)}" '
            f'style="vertical-align: middle; height: 1.3em" src="data:image/svg+xml;base64,{data}">')


def cache_dir() -> Path:
    """Where analytics keeps what it can make again (drawn formulas, compiled page templates):
    ``$PACELINE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/paceline``, by default ``~/.cache/paceline``."""
    if os.environ.get("PACELINE_CACHE_DIR"):
        return Path(os.environ["PACELINE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paceline"


def _keep(path: Path, content: bytes) -> None:
    """Write ``path`` whole or not at all (a reader never sees half a file); a cache that cannot be written
    is only slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as scratch:
            scratch.write(content)
        os.replace(scratch.name, path)
    except OSError:
        pass


def render_math(text: str) -> str:
    """Every ``$...$`` formula in Markdown ``text`` replaced by :func:`math_svg`."""
    return _MATH.sub(lambda match: math_svg(match.group(1)), text)


def offline_html(nb: NotebookNode, *, title: str) -> str:
    """The executed notebook as a self-contained HTML page: no code cells, no prompts, no scripts to fetch,
    formulas rendered; figures are embedded as they are in any nbconvert page. ``nb`` is changed (its
    formulas are rendered in place)."""
    from jinja2 import DictLoader, FileSystemBytecodeCache

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = render_math(cell.source)
        for output in cell.get("outputs", []):
            if "text/markdown" in output.get("data", {}):
                output["data"]["text/markdown"] = render_math(output["data"]["text/markdown"])
    exporter = _exporter_class()(template_name="lab", template_file="paceline_offline.html.j2",
                                 extra_loaders=[DictLoader({"paceline_offline.html.j2": _TEMPLATE})],
                                 exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    # nbconvert compiles its page templates anew in every process; Jinja keeps the compiled code, keyed by each
    # template's source, so a changed template is compiled again.
    templates = cache_dir() / "templates"
    try:
        templates.mkdir(parents=True, exist_ok=True)
        exporter.environment.bytecode_cache = FileSystemBytecodeCache(str(templates))
    except OSError:
        pass
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


# What nbconvert's HTMLExporter does to the page after rendering it, without parsing the page: it parses the
# whole page with BeautifulSoup's pure-Python parser to add these two attributes, which took longer than the
# rest of the rendering (a cohort report lists thousands of students, one element each, and embeds megabytes
# of figures). The page is the template's output, so its tags are regular enough for an expression.
_IMG_WITHOUT_ALT = re.compile(r"<img(?=[\s/>])(?![^>]*\salt=)")
_FOCUSABLE_DIV = re.compile(
    r"<div(?=\s[^>]*\bclass=\"[^\"]*\b(?:jp-Cell-inputWrapper|jp-OutputArea-output)[\s\"])(?![^>]*\stabindex=)")
NO_ALT = "No description has been provided for this image"


def _exporter_class() -> type:
    """nbconvert's HTMLExporter with its BeautifulSoup pass replaced by :data:`_IMG_WITHOUT_ALT` and
    :data:`_FOCUSABLE_DIV` (same attributes: alt text on images, cells' inputs and outputs focusable)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class OfflineHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):  # noqa: ANN001, ANN003 (nbconvert's signature)
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            page = _IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', page)
            return _FOCUSABLE_DIV.sub('<div tabindex="0"', page), resources

    return OfflineHTMLExporter
