"""Paceline's one exception family.

Every error a user can act on is a :class:`PacelineError`; the CLI prints its
message and exits non-zero. Subclasses carry the location of the problem (the
config key, the roster line, the lesson/notebook/cell) so that the message can
name it, the way papermill's ``PapermillExecutionError`` carries a cell index.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path


class PacelineError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(PacelineError):
    """``course.toml`` is missing, malformed, or says something impossible."""

    def __init__(self, path: Path | str, key: str | None, problem: str) -> None:
        self.path = Path(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}" if key else str(self.path)
        super().__init__(f"{where}: {problem}")


class RosterError(PacelineError):
    """The student roster (``students.csv``) has a bad row or column."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line else str(self.path)
        super().__init__(f"{where}: {problem}")


class StudentIdError(PacelineError):
    """A student id that is unsafe to use as a path component."""


@dataclass(frozen=True)
class CellRef:
    """Where in a course a problem is: lesson, notebook (or any file of the lesson), and (0-based) cell index or line."""

    lesson: str
    notebook: str | None = None
    cell_index: int | None = None
    grade_id: str | None = None
    line: int | None = None  # 1-based, in a file that is not a notebook

    def __str__(self) -> str:
        parts = [self.lesson]
        if self.notebook:
            parts.append(self.notebook)
        if self.cell_index is not None:
            cell = f"cell {self.cell_index}"
            if self.grade_id:
                cell += f" ({self.grade_id})"
            parts.append(cell)
        elif self.grade_id:
            parts.append(self.grade_id)
        if self.line is not None:
            parts.append(f"line {self.line}")
        return " / ".join(parts)


class LessonError(PacelineError):
    """A lesson (or one of its notebooks or cells) cannot be used as it is."""

    def __init__(self, where: CellRef, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class ExchangeError(PacelineError):
    """Releasing, fetching, submitting or collecting through the exchange failed."""


class SubmissionError(PacelineError):
    """One submitted attempt could not be collected or graded."""

    def __init__(self, student_id: str, lesson_id: str, attempt: int | None, problem: str) -> None:
        self.student_id = student_id
        self.lesson_id = lesson_id
        self.attempt = attempt
        self.problem = problem
        which = f"{student_id} / {lesson_id}"
        if attempt is not None:
            which += f" / attempt {attempt}"
        super().__init__(f"{which}: {problem}")


class NbgraderError(PacelineError):
    """An nbgrader app reported failure; carries the tail of its log."""

    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        self.detail = detail
        super().__init__(f"nbgrader {step} failed:\n{detail}")


class BatchError(PacelineError):
    """A batch finished, but some items failed; each failure is listed."""

    def __init__(self, what: str, failures: list[PacelineError]) -> None:
        self.what = what
        self.failures = failures
        lines = "\n".join(f"  - {failure}" for failure in failures)
        super().__init__(f"{len(failures)} {what} failed:\n{lines}")


class HubError(PacelineError):
    """The course's JupyterHub cannot be set up, started or reached."""


def describe(exc: BaseException, *, limit: int = 400) -> str:
    """The reason to record for an exception caught at one submission.

    A PacelineError says what is wrong itself. Anything else was not foreseen:
    its type, message and the line that raised it are kept, so a bug in
    paceline reads as one (``unexpected KeyError (at grade.py:120)``) rather than as the
    student's fault. Student-made messages can be huge: the reason is cut short.
    """
    if isinstance(exc, PacelineError):
        text = str(exc)
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        text = f"unexpected {type(exc).__name__}{where}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def at_submission(exc: BaseException, *, student_id: str, lesson_id: str, attempt: int | None) -> PacelineError:
    """Any exception raised while handling one submission, as the PacelineError reported for it."""
    if isinstance(exc, PacelineError):
        return exc
    return SubmissionError(student_id, lesson_id, attempt, describe(exc))
