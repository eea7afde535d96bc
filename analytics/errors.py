"""The analytics package's exceptions.

Analytics deliberately does not import ``graders``: an analyst can use it on
tables exported by another system, so its errors stand alone. Each names
where the problem is, the way :class:`graders.errors.PacelineError` does.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

#: How many offending rows a message lists before it says "and N more".
_ROWS_SHOWN = 5


class AnalyticsError(Exception):
    """Base class of every error the analytics package raises on purpose."""


class TableError(AnalyticsError, ValueError):
    """A table does not meet the contract in :mod:`analytics.tables`.

    ``table`` and ``column`` say where, ``rows`` holds the offending row labels
    of the table as it was given (0-based data rows for a file read from disk;
    a CSV's line number is the row + 2), ``problem`` says what is wrong.
    """

    def __init__(
        self,
        table: str,
        column: str | None,
        problem: str,
        *,
        rows: Sequence[Hashable] = (),
        values: Sequence[object] = (),
    ) -> None:
        self.table = table
        self.column = column
        self.problem = problem
        self.rows = tuple(rows)
        where = f"{table}.{column}" if column else table
        message = f"{where}: {problem}"
        if self.rows:
            labels = [str(row) for row in self.rows[:_ROWS_SHOWN]]
            if values:
                labels = [f"{label} ({_show(value)})" for label, value in zip(labels, values)]
            message += f" in row{'s' if len(self.rows) > 1 else ''} " + ", ".join(labels)
            if len(self.rows) > _ROWS_SHOWN:
                message += f" and {len(self.rows) - _ROWS_SHOWN} more"
        super().__init__(message)


class RulesError(AnalyticsError, ValueError):
    """The at-risk thresholds (the ``[at_risk]`` table of ``course.toml``) are not valid.

    ``key`` is the offending key within the table (``None`` when the problem
    is the table or the file itself), ``problem`` says what is wrong, and
    ``source`` is the file, when the rules were read from one.
    """

    def __init__(self, key: str | None, problem: str, *, source: Path | None = None) -> None:
        self.key = key
        self.problem = problem
        self.source = source
        where = f"at_risk.{key}" if key else "at_risk"
        super().__init__(f"{source}: {where}: {problem}" if source is not None else f"{where}: {problem}")


class UnknownIdError(AnalyticsError, LookupError):
    """A student or lesson asked for is not in the tables (or not enrolled at the instant asked about).

    ``kind`` is ``"student"`` or ``"lesson"``, ``identifier`` the id asked for.
    """

    def __init__(self, kind: str, identifier: str, *, detail: str = "") -> None:
        self.kind = kind
        self.identifier = identifier
        super().__init__(f"unknown {kind} {identifier!r}{detail}")


class ReportError(AnalyticsError, RuntimeError):
    """The cohort report notebook could not be run or rendered.

    ``cell_index`` is the 0-based index of the failing cell in the executed
    notebook (papermill's numbering, including its injected-parameters cell),
    or ``None`` when the failure was not inside a cell.
    """

    def __init__(self, problem: str, *, cell_index: int | None = None) -> None:
        self.problem = problem
        self.cell_index = cell_index
        super().__init__(problem)


class ReportBatchError(ReportError):
    """Some reports of a batch failed; the others were written.

    ``failures`` pairs each failed id with its :class:`ReportError`;
    ``results`` holds the reports that were written.
    """

    def __init__(self, what: str, *, total: int, failures: Sequence[tuple[str, ReportError]],
                 results: Sequence[object]) -> None:
        self.failures = tuple(failures)
        self.results = tuple(results)
        lines = "\n".join(f"  - {identifier}: {error}" for identifier, error in self.failures)
        super().__init__(f"{len(self.failures)} of {total} {what} failed ({len(self.results)} written):\n{lines}")


def _show(value: object) -> str:
    # Quote text so blanks and look-alike ids are visible; times and numbers read better bare.
    return repr(value) if isinstance(value, str) else str(value)
