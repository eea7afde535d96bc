"""``[nbgrader]`` in course.toml: the nbgrader settings real courses set in their ``nbgrader_config.py``.

Paceline writes the course's ``nbgrader_config.py`` itself (from course.toml),
so whatever a course needs of nbgrader's own settings is said here and
applied wherever paceline runs nbgrader (:func:`graders.engine.wiring.nbgrader_settings_config`):
release, grading workers, feedback, ``paceline check``'s student versions,
formgrader and the ``nbgrader`` command. Keys and what they set::

    header, footer                    IncludeHeaderFooter.header / .footer (notebooks, relative to the course folder)
    code_stub                         ClearSolutions.code_stub (a string: Python's; or a table by language)
    text_stub                         ClearSolutions.text_stub
    begin_solution_delimiter          ClearSolutions.begin_solution_delimeter (sic)
    end_solution_delimiter            ClearSolutions.end_solution_delimeter
    enforce_metadata                  ClearSolutions.enforce_metadata
    begin_hidden_tests_delimiter      ClearHiddenTests.begin_test_delimeter
    end_hidden_tests_delimiter        ClearHiddenTests.end_test_delimeter
    exclude_overwriting               Autograde.exclude_overwriting (a table: lesson id = [files the student's copy of which is kept])

A cell's timeout is ``[grading] timeout`` (nbgrader's ``Execute.timeout``).
Pure: reading course.toml imports nothing of nbgrader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ConfigError
from .toml_reader import Reader

NBGRADER_KEYS = (
    "header", "footer", "code_stub", "text_stub", "begin_solution_delimiter", "end_solution_delimiter",
    "enforce_metadata", "begin_hidden_tests_delimiter", "end_hidden_tests_delimiter", "exclude_overwriting",
)


@dataclass(frozen=True)
class NbgraderSettings:
    """``[nbgrader]`` as validated; ``None`` (or empty) leaves nbgrader's own default."""

    header: Path | None = None  # absolute: nbgrader opens it relative to its working folder
    footer: Path | None = None
    code_stub: tuple[tuple[str, str], ...] = ()  # (kernel language, stub), over nbgrader's stubs
    text_stub: str | None = None
    begin_solution_delimiter: str | None = None
    end_solution_delimiter: str | None = None
    enforce_metadata: bool | None = None
    begin_hidden_tests_delimiter: str | None = None
    end_hidden_tests_delimiter: str | None = None
    exclude_overwriting: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (lesson id, file names in its folder)

    def kept_files(self, lesson_id: str) -> tuple[str, ...]:
        """Files of ``lesson_id`` whose submitted copy grading keeps (not overwritten by the lesson's)."""
        return dict(self.exclude_overwriting).get(lesson_id, ())


def parse_nbgrader_table(reader: Reader, raw: Any, *, root: Path) -> NbgraderSettings:
    """Validate course.toml's ``[nbgrader]`` (lesson ids in ``exclude_overwriting`` are checked by the caller)."""
    table = reader.table({"nbgrader": raw}, "nbgrader")
    reader.keys(table, "nbgrader", required=set(), optional=set(NBGRADER_KEYS))
    texts = {}
    for key in ("text_stub", "begin_solution_delimiter", "end_solution_delimiter",
                "begin_hidden_tests_delimiter", "end_hidden_tests_delimiter"):
        texts[key] = reader.string(table, f"nbgrader.{key}") if key in table else None
    for begin, end in (("begin_solution_delimiter", "end_solution_delimiter"),
                       ("begin_hidden_tests_delimiter", "end_hidden_tests_delimiter")):
        for key in (begin, end):
            if texts[key] is not None and "\n" in texts[key]:
                raise ConfigError(reader.path, f"nbgrader.{key}", "must be one line (nbgrader looks for it in each line)")
        if texts[begin] is not None and texts[begin] == texts[end]:
            raise ConfigError(reader.path, f"nbgrader.{end}", f"must differ from {begin}")
    enforce = table.get("enforce_metadata")
    if enforce is not None and not isinstance(enforce, bool):
        raise ConfigError(reader.path, "nbgrader.enforce_metadata", f"must be true or false, not {enforce!r}")
    return NbgraderSettings(
        header=_notebook(reader, table, "header", root=root),
        footer=_notebook(reader, table, "footer", root=root),
        code_stub=_code_stub(reader, table.get("code_stub")),
        enforce_metadata=enforce,
        exclude_overwriting=_exclude_overwriting(reader, table.get("exclude_overwriting")),
        **texts,
    )


def _notebook(reader: Reader, table: dict[str, Any], key: str, *, root: Path) -> Path | None:
    if key not in table:
        return None
    name = reader.string(table, f"nbgrader.{key}")
    path = (root / name).resolve()
    if not name.endswith(".ipynb"):
        raise ConfigError(reader.path, f"nbgrader.{key}", f"{name!r} is not a notebook (.ipynb)")
    if not path.is_file():
        raise ConfigError(reader.path, f"nbgrader.{key}", f"{path} does not exist (paths are relative to the course folder)")
    return path


def _code_stub(reader: Reader, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = {"python": value}
    if not isinstance(value, dict) or not value:
        raise ConfigError(reader.path, "nbgrader.code_stub",
                          "must be a string (the Python stub) or a table of stubs by kernel language")
    for language, stub in value.items():
        if not isinstance(stub, str) or not stub.strip():
            raise ConfigError(reader.path, f"nbgrader.code_stub.{language}", f"must be a non-empty string, not {stub!r}")
    return tuple(sorted(value.items()))


def _exclude_overwriting(reader: Reader, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(reader.path, "nbgrader.exclude_overwriting", "must be a table: lesson id = [file names]")
    found = []
    for lesson_id, names in value.items():
        where = f"nbgrader.exclude_overwriting.{lesson_id}"
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(reader.path, where, "must be a list of file names in the lesson folder")
        for name in names:
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or "\\" in name:
                raise ConfigError(reader.path, where, f"{name!r} is not a path inside the lesson folder")
        found.append((lesson_id, tuple(names)))
    return tuple(sorted(found))
