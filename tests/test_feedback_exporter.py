"""Feedback pages render the same with compiled templates shared across exporters (no kernels)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import nbformat
import pytest
from nbconvert.exporters import HTMLExporter

from graders.course.nbgrader_table import NbgraderSettings
from graders.course.plan import LatePolicy
from graders.engine.wiring import grading_config
from graders.feedback.exporter import TEMPLATE_CACHE, FeedbackHTMLExporter
from graders.feedback.hidden_tests import feedback_notebook

NOTEBOOK = Path(__file__).parent / "fixtures" / "course" / "course_source" / "01-add" / "add.ipynb"


def test_a_second_exporter_renders_the_same_page_without_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    nb = feedback_notebook(nbformat.read(NOTEBOOK, as_version=4))
    resources = {"nbgrader": {"notebook": "add", "score": 0.0, "max_score": 3.0, "late_penalty": 0.0}}
    monkeypatch.setattr(TEMPLATE_CACHE, "compiled", {})
    first, _ = FeedbackHTMLExporter().from_notebook_node(nb, resources=dict(resources))
    assert "Grade cell: <code>test_add_hidden</code>" in first and TEMPLATE_CACHE.compiled

    compiled: list[str | None] = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    second, _ = FeedbackHTMLExporter().from_notebook_node(nb, resources=dict(resources))
    assert second == first
    assert compiled == []  # every template came from the cache
    HTMLExporter().from_notebook_node(nb)
    assert compiled  # while nbconvert's own exporter compiles them all again


def test_nbgraders_feedback_uses_it() -> None:
    config = grading_config(timeout=10, late_policy=LatePolicy(), nbgrader=NbgraderSettings())
    assert config.GenerateFeedback.exporter_class == "graders.feedback.exporter.FeedbackHTMLExporter"
