"""Formulas on feedback pages: MathML from an allow-list, or the TeX source; never the student's markup.

That the browser typesets them offline is tests/test_feedback_browser.py.
"""

from __future__ import annotations

from nbconvert.filters.markdown_mistune import MarkdownWithMath

from graders.feedback.math import tex_to_mathml
from graders.feedback.page import MathMLRenderer, safe_html


def render(markdown: str) -> str:
    renderer = MathMLRenderer(escape=False, attachments={}, embed_images=False)
    return renderer.put_formulas(safe_html(MarkdownWithMath(renderer=renderer).render(markdown)))


def test_formulas_become_mathml() -> None:
    assert tex_to_mathml(r"\frac{a}{b}", display=False) == (
        '<math display="inline"><mrow><mfrac><mrow><mi>a</mi></mrow><mrow><mi>b</mi></mrow></mfrac></mrow></math>')
    page = render("Area $\\pi r^2$ and $$x_1 < 2$$ and \\begin{align}a &= b\\end{align}")
    assert '<math display="inline"><mrow><mi>π</mi><msup><mi>r</mi><mn>2</mn></msup></mrow></math>' in page
    assert '<math display="block"><mrow><msub><mi>x</mi><mn>1</mn></msub><mo>&lt;</mo><mn>2</mn></mrow></math>' in page
    assert page.count("<math") == 3 and "$" not in page


def test_markup_and_links_in_tex_never_become_elements() -> None:
    # latex2mathml copies \text{...} into the element unescaped: that formula stays TeX, escaped.
    page = render("$\\text{<script>alert(1)</script>}$ and $\\href{javascript:alert(1)}{x}$ and $\\mathrm{<b>}$")
    assert "<script" not in page and "<b>" not in page and "javascript:" not in page
    assert "$\\text{&lt;script&gt;alert(1)&lt;/script&gt;}$" in page
    assert '<math display="inline"><mrow><mrow><mrow><mi>x</mi></mrow></mrow></mrow></math>' in page  # href dropped


def test_tex_latex2mathml_cannot_read_stays_tex() -> None:
    assert tex_to_mathml(r"\unknowncommand{x}", display=False) is None
    assert tex_to_mathml("", display=True) is None and tex_to_mathml("x" * 5000, display=True) is None
    assert render("$\\unknowncommand{x}$") == "<p>$\\unknowncommand{x}$</p>\n"


def test_a_guessed_placeholder_is_just_text() -> None:
    page = render("plmath0000000000000000n0z and $x$")
    assert "plmath0000000000000000n0z" in page and page.count("<math") == 1
