"""Reading an nbgrader course's ``nbgrader_config.py`` without running it.

The file is Python and may do anything, so it is read, never executed: only
top-level ``c.Class.trait = <literal>`` assignments are understood (the form
nbgrader's documentation and ``nbgrader quickstart`` use), and each one is
either mapped onto course.toml or listed with the reason it was not. Every
other statement (imports, conditions, computed values) is listed too, with
its line. Pure: text in, :class:`NbgraderCourseSettings` out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

# nbgrader's own trait -> course.toml's [nbgrader] key (see graders.course.nbgrader_table).
NBGRADER_TABLE = {
    "IncludeHeaderFooter.header": "header",
    "IncludeHeaderFooter.footer": "footer",
    "ClearSolutions.code_stub": "code_stub",
    "ClearSolutions.text_stub": "text_stub",
    "ClearSolutions.begin_solution_delimeter": "begin_solution_delimiter",
    "ClearSolutions.end_solution_delimeter": "end_solution_delimiter",
    "ClearSolutions.enforce_metadata": "enforce_metadata",
    "ClearHiddenTests.begin_test_delimeter": "begin_hidden_tests_delimiter",
    "ClearHiddenTests.end_test_delimeter": "end_hidden_tests_delimiter",
    "Autograde.exclude_overwriting": "exclude_overwriting",
}

# Settings paceline decides itself, and why (shown to the instructor).
DECIDED_BY_PACELINE = {
    "CourseDirectory.root": "the imported course lives in the folder it is imported into",
    "CourseDirectory.release_directory": "paceline's course folder uses nbgrader's default folder names",
    "CourseDirectory.autograded_directory": "paceline's course folder uses nbgrader's default folder names",
    "CourseDirectory.feedback_directory": "paceline's course folder uses nbgrader's default folder names",
    "Exchange.root": "paceline keeps its own exchange ([course] exchange, default .paceline/exchange); "
                     "set [course] exchange to keep students on the old one",
    "Exchange.path_includes_course": "paceline's exchange always includes the course id",
    "AssignLatePenalties.plugin_class": "paceline applies course.toml's [late_policy] (method none, zero or per_day)",
    "Execute.kernel_name": "the kernel comes from the course's environment",
}


@dataclass(frozen=True)
class Unmapped:
    """Something in nbgrader_config.py the import did not carry over, and why."""

    line: int
    setting: str
    reason: str

    def __str__(self) -> str:
        return f"nbgrader_config.py line {self.line}: {self.setting}: {self.reason}"


@dataclass(frozen=True)
class NbgraderCourseSettings:
    """What an nbgrader course's config says that paceline can use."""

    course_id: str | None = None
    source_directory: str = "source"
    submitted_directory: str = "submitted"
    db_url: str | None = None
    timezone: str | None = None
    timeout: int | None = None
    nbgrader_table: dict[str, Any] = field(default_factory=dict)  # course.toml's [nbgrader], as nbgrader wrote it
    unmapped: tuple[Unmapped, ...] = ()


def read_nbgrader_config(text: str) -> NbgraderCourseSettings:
    """The settings of an ``nbgrader_config.py``, read as data (raises SyntaxError on broken Python)."""
    values: dict[str, Any] = {"nbgrader_table": {}}
    unmapped: list[Unmapped] = []
    for node in ast.parse(text).body:
        setting = _setting(node)
        if setting is None:
            if not _is_get_config(node):
                first = ast.get_source_segment(text, node) or ""
                unmapped.append(Unmapped(node.lineno, first.splitlines()[0][:60] if first else type(node).__name__,
                                         "not a plain `c.Class.trait = value` setting: paceline does not run the file"))
            continue
        name, value_node = setting
        try:
            value = ast.literal_eval(value_node)
        except (ValueError, SyntaxError, TypeError):
            unmapped.append(Unmapped(node.lineno, name, "its value is computed, not written out: set it in course.toml by hand"))
            continue
        problem = _map(name, value, values)
        if problem:
            unmapped.append(Unmapped(node.lineno, name, problem))
    return NbgraderCourseSettings(unmapped=tuple(unmapped), **values)


def _map(name: str, value: Any, values: dict[str, Any]) -> str | None:
    """Put one setting into ``values``; the reason it cannot be used, if so."""
    if name in NBGRADER_TABLE:
        values["nbgrader_table"][NBGRADER_TABLE[name]] = value
        return None
    simple = {
        "CourseDirectory.course_id": ("course_id", str),
        "CourseDirectory.source_directory": ("source_directory", str),
        "CourseDirectory.submitted_directory": ("submitted_directory", str),
        "CourseDirectory.db_url": ("db_url", str),
        "Exchange.timezone": ("timezone", str),
        "Execute.timeout": ("timeout", int),
        "ExecutePreprocessor.timeout": ("timeout", int),
    }
    if name in simple:
        key, kind = simple[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"expected {kind.__name__}, found {value!r}"
        values[key] = value
        return None
    if name in DECIDED_BY_PACELINE:
        return DECIDED_BY_PACELINE[name]
    return "paceline has no setting for it (the nbgrader settings it maps are listed under [nbgrader] in the README)"


def _setting(node: ast.stmt) -> tuple[str, ast.expr] | None:
    """``c.Class.trait = value`` as ("Class.trait", value)."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return None
    target = node.targets[0]
    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
            and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
        return f"{target.value.attr}.{target.attr}", node.value
    return None


def _is_get_config(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "get_config")
