"""Formulas on feedback pages as MathML: typeset by the browser itself, with no script and no network.

nbconvert leaves ``$...$`` in the page for MathJax, a script from a CDN: on a
hub without internet, and under the feedback page's policy that runs no
script at all, formulas stayed raw TeX. Instead each formula of a Markdown cell
is converted to MathML when the page is rendered (``latex2mathml``, pure
Python), which Chromium, Firefox and Safari typeset natively, also in
JupyterLab's HTML viewer, which runs no script either.

The TeX comes from the student, and latex2mathml passes some of it through
unescaped (``\\text{<b>}`` becomes an element), so its output is parsed and
rebuilt from an allow-list of MathML presentation elements and attributes with
plain values; anything else, or a formula latex2mathml cannot convert, shows
as its TeX source, escaped, as before.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
ELEMENTS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt", "mroot", "msub", "msup",
    "msubsup", "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "merror",
})
ATTRIBUTES = frozenset({
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "minsize", "maxsize",
    "movablelimits", "accent", "accentunder", "columnalign", "rowalign", "rowspacing", "columnspacing",
    "columnlines", "rowlines", "frame", "displaystyle", "scriptlevel", "linethickness", "notation", "width",
    "height", "depth", "voffset", "symmetric", "largeop", "form", "mathsize",
})
PLAIN_VALUE = re.compile(r"[A-Za-z0-9 .%+-]{0,64}")  # lengths, keywords, booleans: never a URL or markup
MAX_TEX = 4000  # longer formulas stay TeX: conversion cost grows with them, and nobody writes such in a lesson


def tex_to_mathml(tex: str, *, display: bool) -> str | None:
    """``tex`` as a ``<math>`` element built from the allow-list, or None to show the TeX source instead."""
    if len(tex) > MAX_TEX or not tex.strip():
        return None
    from latex2mathml.converter import convert  # loaded by the first page with a formula

    try:
        tree = ET.fromstring(convert(tex, display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 (latex2mathml raises many kinds on TeX it cannot read; the source is shown)
        return None
    return _rebuild(tree)


def _rebuild(element: ET.Element) -> str | None:
    name = element.tag.removeprefix(MATHML_NS)
    if name not in ELEMENTS:
        return None
    attributes = "".join(f' {key}="{html.escape(value)}"' for key, value in sorted(element.attrib.items())
                         if key in ATTRIBUTES and PLAIN_VALUE.fullmatch(value))
    text = element.text or ""
    if "\\" in text:  # a command latex2mathml does not know, left as its name: show the TeX instead
        return None
    children = []
    for child in element:
        rebuilt = _rebuild(child)
        if rebuilt is None:
            return None
        children.append(rebuilt + html.escape(child.tail or "", quote=False))
    return f"<{name}{attributes}>{html.escape(text, quote=False)}{''.join(children)}</{name}>"
