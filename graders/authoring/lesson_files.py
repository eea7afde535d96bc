"""What of a lesson folder reaches students, and which files hold instructor-only text.

nbgrader's ``generate_assignment`` turns each notebook into its student version
but copies every other file of the lesson folder unchanged: a jupytext ``.md`` or
``.py`` copy of a notebook, or a helper module holding a solution, would reach
every student. So a release publishes only what :func:`select_files` lets
through, and refuses a lesson whose published files hold a marker that only an
instructor's copy has (:func:`find_markers`), and ``paceline check`` refuses
any such file in a lesson folder at all.

What goes out: the lesson's notebooks (their student versions), files matching
the data and asset defaults (:data:`DEFAULT_INCLUDE`) or the lesson's ``include``
patterns in course.toml, minus its ``exclude`` patterns. Never: hidden files and
folders (``.ipynb_checkpoints``, ``.env``), ``__pycache__`` and ``*.pyc``, and
notebooks the lesson does not declare (nested ones are never converted by nbgrader).

Patterns: one without ``/`` matches a file or folder name at any depth
(``helpers.py``, ``*.csv``, ``data``); one with ``/`` matches the path from the
lesson folder, where ``*`` also crosses folders (``data/*`` is everything under
``data/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from traitlets.config import Config

    from ..course.plan import CourseConfig, LessonPlan

# Data and assets a notebook reads or shows. Code and text that may be a copy of the notebook
# (.py, .md, .R, .jl, .Rmd, .qmd, .html, .tex) stay behind unless the lesson includes them, and so
# do archives and PDFs: their compressed content cannot be searched for markers (a zipped lesson
# folder, the solved notebook as a PDF), so only an instructor's include sends them.
DEFAULT_INCLUDE = (
    "*.csv", "*.tsv", "*.txt", "*.dat", "*.json", "*.geojson", "*.xml", "*.yaml", "*.yml",
    "*.xlsx", "*.xls", "*.ods", "*.parquet", "*.feather", "*.arrow", "*.h5", "*.hdf5", "*.nc",
    "*.npy", "*.npz", "*.sqlite", "*.db",
    "*.png", "*.jpg", "*.jpeg", "*.gif", "*.svg", "*.webp", "*.bmp", "*.tif", "*.tiff", "*.ico",
    "*.wav", "*.mp3", "*.ogg", "*.mp4", "*.webm",
)
# Never published, whatever the patterns say: hidden files and folders (checkpoints, editor and
# tool state), compiled Python (the bytecode of a helper holds its solution all the same), and
# what nbgrader's own CourseDirectory.ignore never copies (a feedback folder).
NEVER = (".*", "__pycache__", "*.pyc", "feedback")
NOTEBOOK_SUFFIX = ".ipynb"
CHECKPOINTS = ".ipynb_checkpoints"
_BINARY_SNIFF = 8000  # bytes read to tell a binary file (git's heuristic: a NUL byte)


@dataclass(frozen=True)
class FileSelection:
    """A lesson folder's files (paths relative to it, with ``/``), sorted by what release does with them."""

    notebooks: tuple[str, ...]  # published as nbgrader's student versions
    files: tuple[str, ...]  # published unchanged
    kept_home: tuple[str, ...]  # never published: they stay in course_source/

    @property
    def published(self) -> tuple[str, ...]:
        return tuple(sorted(self.notebooks + self.files))


@dataclass(frozen=True)
class MarkerHit:
    """The first line of a file that holds an instructor-only marker."""

    path: str  # relative to the lesson folder, with /
    line: int  # 1-based
    marker: str
    more_lines: int  # further lines of the file holding a marker


def instructor_markers(config: Config | None = None) -> tuple[str, ...]:
    """The delimiters of solutions, hidden tests and mark schemes, as nbgrader is configured to strip them.

    nbgrader finds a delimiter anywhere in a line, so a file holding one is an instructor's copy
    whatever its comment syntax (``### BEGIN SOLUTION`` in a jupytext ``.py`` or ``.md``, or quoted in JSON).
    """
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    solutions, hidden, scheme = (cls(config=config) if config is not None else cls()
                                 for cls in (ClearSolutions, ClearHiddenTests, ClearMarkScheme))
    return tuple(dict.fromkeys((
        solutions.begin_solution_delimeter, solutions.end_solution_delimeter,
        hidden.begin_test_delimeter, hidden.end_test_delimeter,
        scheme.begin_mark_scheme_delimeter, scheme.end_mark_scheme_delimeter,
    )))


def lesson_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (hidden ones too, symbolic links not followed into folders), relative, sorted."""
    found = []
    for dirpath, _, filenames in os.walk(folder):
        base = Path(dirpath)
        found += [(base / name).relative_to(folder).as_posix() for name in filenames]
    return sorted(found)


def matches(path: str, pattern: str) -> bool:
    """Whether a lesson-relative path matches a pattern (see the module docstring)."""
    if "/" in pattern.rstrip("/"):
        pattern = pattern.rstrip("/")
        return fnmatchcase(path, pattern) or fnmatchcase(path, pattern + "/*")
    name = pattern.rstrip("/")
    return any(fnmatchcase(part, name) for part in PurePosixPath(path).parts)


def select_files(
    paths: Iterable[str], *, notebooks: Sequence[str], include: Sequence[str] = (), exclude: Sequence[str] = (),
) -> FileSelection:
    """Which of a lesson folder's files are published: pure, over lesson-relative paths."""
    declared = set(notebooks)
    chosen_notebooks, files, kept_home = [], [], []
    for path in sorted(set(paths)):
        if any(matches(path, pattern) for pattern in NEVER):
            kept_home.append(path)
        elif path.endswith(NOTEBOOK_SUFFIX):
            (chosen_notebooks if path in declared else kept_home).append(path)
        elif any(matches(path, pattern) for pattern in (*DEFAULT_INCLUDE, *include)) and \
                not any(matches(path, pattern) for pattern in exclude):
            files.append(path)
        else:
            kept_home.append(path)
    return FileSelection(tuple(chosen_notebooks), tuple(files), tuple(kept_home))


def published_files(course: CourseConfig, lesson: LessonPlan) -> FileSelection:
    """What a release of the lesson publishes: what students get, and all a grading kernel gets beside their notebooks."""
    return select_files(lesson_files(course.layout.lesson_source(lesson.id)), notebooks=lesson.notebooks,
                        include=(*lesson.include, *(data.name for data in lesson.data)), exclude=lesson.exclude)


def find_markers(path: Path, *, markers: Sequence[str], shown_as: str) -> MarkerHit | None:
    """The first line of ``path`` holding a marker, or None; binary files (a NUL byte near the start) are skipped."""
    needles = [marker.encode("utf-8") for marker in markers if marker]
    first: MarkerHit | None = None
    more = 0
    try:
        with open(path, "rb") as stream:
            if b"\0" in stream.read(_BINARY_SNIFF):
                return None
            stream.seek(0)
            for number, line in enumerate(stream, start=1):
                found = next((needle for needle in needles if needle in line), None)
                if found is None:
                    continue
                if first is None:
                    first = MarkerHit(shown_as, number, found.decode("utf-8"), 0)
                else:
                    more += 1
    except OSError:
        return None  # a dangling link or unreadable file: nothing of it can be copied either
    return None if first is None else MarkerHit(first.path, first.line, first.marker, more)


def marker_hits(folder: Path, paths: Iterable[str], *, markers: Sequence[str]) -> list[MarkerHit]:
    """Every file among ``paths`` (relative to ``folder``) that holds a marker, in path order."""
    hits = (find_markers(folder / path, markers=markers, shown_as=path) for path in sorted(paths))
    return [hit for hit in hits if hit is not None]


def source_notebooks(paths: Iterable[str]) -> list[str]:
    """The notebooks nbgrader converts (top level of the lesson folder): their markers are stripped, not copied."""
    return [path for path in paths if "/" not in path and path.endswith(NOTEBOOK_SUFFIX)]


def leak_advice(hit: MarkerHit) -> str:
    """Why a file holding a marker is a problem, and what to do about it."""
    parts = PurePosixPath(hit.path).parts
    more = f" (and {hit.more_lines} more line(s) with markers)" if hit.more_lines else ""
    said = f"holds nbgrader's {hit.marker!r} marker{more}"
    if CHECKPOINTS in parts:
        return (f"{said}: it is Jupyter's autosave copy of a source notebook, with every solution; "
                f"delete the {CHECKPOINTS} folder (release never publishes it, but any copy of the lesson folder does)")
    if any(part.startswith(".") for part in parts):
        return (f"{said}: a hidden file with solutions or hidden tests; move it out of the course's source folder "
                "(release never publishes hidden files, but any copy of the lesson folder does)")
    return (f"{said}: a copy of solutions or hidden tests beside the notebooks (a jupytext pairing, a helper "
            "holding an answer); move it out of the course's source folder, or remove the solution")
