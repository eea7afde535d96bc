"""When a kept feedback page is out of date: the gradebook's facts it shows, and the renderer that drew it.

A page shows what the gradebook holds for a submission (the digest of
:mod:`graders.engine.gradebook_reader`), drawn by nbgrader's feedback template
and nbconvert, through paceline's exporter, templates, allow-list and
hidden-test redaction.
The basis kept for a page digests both: a page drawn by another renderer (an
upgrade that changed the template, the allow-list or the redaction) is out of
date like one that shows other scores, and ``paceline feedback`` draws it again.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import version
from pathlib import Path

_HERE = Path(__file__).parent
# What draws a page: everything else in paceline only decides which pages to draw.
_RENDERER = ("exporter.py", "page.py", "hidden_tests.py", "math.py", "templates", "../page_policy.py")


@functools.cache
def renderer() -> str:
    """A digest of nbgrader's and nbconvert's versions and the source of paceline's page renderer."""
    digest = hashlib.sha256(f"nbgrader {version('nbgrader')} nbconvert {version('nbconvert')}".encode())
    for part in _RENDERER:
        path = (_HERE / part).resolve()
        for source in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if source.is_file():
                digest.update(b"\0" + source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def page_basis(gradebook_basis: str) -> str:
    """The basis of a page drawn now from a submission whose gradebook facts digest to ``gradebook_basis``."""
    return hashlib.sha256(f"{renderer()}\0{gradebook_basis}".encode()).hexdigest()[:32]
