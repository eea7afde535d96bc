"""Paceline's instructor pipeline: plan, author, release, collect, grade, feed back, export."""

import sys

# jsonschema (which nbformat, and so nbgrader, imports) checks the "iri" string format with rfc3987_syntax
# when it is installed (jupyter_events pulls it in), and that package compiles 39 Lark grammars the moment it
# is imported: 2-7 s in every process that grades, renders feedback or reads a notebook on these machines,
# paid again by every grading worker. Notebook schemas have no "iri" format, so paceline never uses it;
# without the package jsonschema simply skips that one format check. A process that imported it already keeps it.
sys.modules.setdefault("rfc3987_syntax", None)

from .course.plan import CourseConfig, LessonPlan, LatePolicy, load_course  # noqa: E402
from .errors import PacelineError  # noqa: E402

__all__ = ["CourseConfig", "LessonPlan", "LatePolicy", "PacelineError", "load_course"]
__version__ = "0.1.0"
