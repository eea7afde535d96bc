"""What a rendered notebook page may contain: HTML with no way to run script.

A student writes the Markdown cells and the code behind every output, so any
page that renders their notebook (the feedback page they fetch, formgrader on
the instructor's own Jupyter server) renders attacker-written HTML. Two layers:

- :func:`safe_html` keeps an allow-list of tags and attributes (no script, no
  event handlers, no ``style``, links only to ``http(s):``/``mailto:``/``#``,
  images only as ``data:`` PNG/JPEG/GIF), and :func:`markdown_to_safe_html`
  replaces nbconvert's ``markdown2html`` filter with it. nbgrader's feedback
  and formgrade templates pipe Markdown cells through ``markdown2html`` alone,
  so ``HTMLExporter.sanitize_html`` (which only governs outputs) misses them.
  Formulas in Markdown become MathML from an allow-list of its own
  (:mod:`graders.feedback.math`), put in after the sanitizer ran.
- The feedback page starts with a Content-Security-Policy that forbids every
  script, plugin, frame, form and connection: whatever a sanitizer misses
  still cannot run. (Formgrader's page runs nbgrader's own scripts, so it gets
  the sanitizer only.)
"""

from __future__ import annotations

import functools
import json
import re
import secrets

import bleach
from jinja2 import pass_context
from jinja2.runtime import Context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from .math import tex_to_mathml

# What Markdown renders to (mistune with nbconvert's renderer, and pygments for fenced code).
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "samp", "small",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
COMMON_ATTRIBUTES = frozenset({"class", "id", "title"})  # ids: heading anchors; classes: pygments' colours
LINK = re.compile(r"^(?:https?://|mailto:|#)", re.IGNORECASE)
DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$")


def safe_html(html: str) -> str:
    """``html`` with every tag and attribute outside the allow-list escaped or dropped."""
    return bleach.clean(
        html, tags=ALLOWED_TAGS, attributes=_allowed_attribute, protocols={"http", "https", "mailto", "data"},
        strip=False, strip_comments=True,
    )


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in COMMON_ATTRIBUTES:
        return True
    if tag == "a" and name == "href":
        return bool(LINK.match(value))
    if tag == "img" and name == "src":
        return bool(DATA_IMAGE.match(value))  # attachments are embedded as data: images; nothing is fetched
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    return tag in ("td", "th") and name in ("align", "colspan", "rowspan")


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with each formula replaced by a placeholder for its MathML.

    The placeholders carry a random nonce the student cannot know, and are
    swapped for the formulas only after the sanitizer ran (it would escape
    MathML): :func:`graders.feedback.math.tex_to_mathml` builds them from an
    allow-list of its own.
    """

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.formulas: list[str] = []
        self.nonce = secrets.token_hex(8)

    def block_math(self, body: str) -> str:
        return self._formula(body, display=True) or super().block_math(body)

    def inline_math(self, body: str) -> str:
        return self._formula(body, display=False) or super().inline_math(body)

    def latex_environment(self, name: str, body: str) -> str:
        return self._formula(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True) or super().latex_environment(name, body)

    def _formula(self, tex: str, *, display: bool) -> str | None:
        mathml = tex_to_mathml(tex, display=display)
        if mathml is None:
            return None
        self.formulas.append(mathml)
        return f"plmath{self.nonce}n{len(self.formulas) - 1}z"

    def put_formulas(self, sanitized: str) -> str:
        return re.sub(rf"plmath{self.nonce}n(\d+)z", lambda found: self.formulas[int(found.group(1))], sanitized)


@pass_context
def markdown_to_safe_html(context: Context, source: str) -> str:
    """nbconvert's ``markdown2html`` (attachments embedded, nothing read from disk), then :func:`safe_html`.

    Formulas become MathML (:class:`MathMLRenderer`), so they render with no script.
    """
    cell = context.get("cell") or {}
    attachments = cell.get("attachments") if isinstance(cell, dict) else None
    key = (str(source), json.dumps(attachments or {}, sort_keys=True))
    if sum(map(len, key)) > CACHED_CELL_CHARS:
        return _render(*key)
    return _cached_render(*key)


# Most Markdown cells of a lesson reach every student's page unchanged, and rendering them (mistune, then
# bleach's HTML parser) cost a grading worker about a second per page: a worker renders each text once.
# The result depends on nothing but the cell's source and attachments, the key; big cells (embedded
# images) are rendered every time rather than kept.
CACHED_CELL_CHARS = 20_000


def _render(source: str, attachments: str) -> str:
    renderer = MathMLRenderer(escape=False, attachments=json.loads(attachments), embed_images=False)
    return renderer.put_formulas(safe_html(MarkdownWithMath(renderer=renderer).render(source)))


_cached_render = functools.lru_cache(maxsize=1024)(_render)
