"""The analytics package's exceptions.

Analytics deliberately does not import ``graders``: an analyst can use it on
tables exported by another system, so its errors stand alone. Each names
where the problem is, the way :class:`graders.errors.PacelineError` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
import operator
from pathlib import Path

#: How many offending rows a message lists before it says "and N more".
_ROWS_SHOWN = 5


class AnalyticsError(Exception):
    """Base class of every error the analytics package raises on purpose."""


class TableError(AnalyticsError, ValueError):
    """A table does not meet the contract in :mod:`analytics.tables`.

    ``table`` and ``column`` say where, ``rows`` holds the offending row labels
    of the table as it was given (0-based data rows for a file read from disk),
    ``problem`` says what is wrong. Each listed row shows, where known, its
    CSV line (``csv_lines``: the table came from a CSV file with a header, so
    line = row + 2), the student of the row, the offending value and the other
    value it was checked against::

        submissions.submitted_at: row 7 (CSV line 9), student 4821: 2014-08-06 is before their enrolled_at 2014-09-30
    """

    def __init__(
        self,
        table: str,
        column: str | None,
        problem: str,
        *,
        rows: Sequence[Hashable] = (),
        values: Sequence[object] = (),
        students: Sequence[object] = (),
        others: Sequence[object] = (),
        csv_lines: bool = False,
        per_row: bool = True,
    ) -> None:
        self.table = table
        self.column = column
        self.problem = problem
        self.rows = tuple(rows)
        self.values = tuple(values)
        self.students = tuple(students)
        self.others = tuple(others)
        self.csv_lines = csv_lines
        self.per_row = per_row
        super().__init__(self._message())

    def in_csv(self) -> TableError:
        """The same error, its rows also named by CSV line (for a table read from a CSV file)."""
        return TableError(self.table, self.column, self.problem, rows=self.rows, values=self.values,
                          students=self.students, others=self.others, csv_lines=True, per_row=self.per_row)

    def _message(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if not self.rows:
            return f"{where}: {self.problem}"
        if not self.per_row:  # one problem of the whole column: said once, the rows listed after it
            labels = ", ".join(f"{row}" + (f" (CSV line {_line(row)})" if self.csv_lines and _line(row) else "")
                               for row in self.rows[:_ROWS_SHOWN])
            more = f" and {len(self.rows) - _ROWS_SHOWN} more" if len(self.rows) > _ROWS_SHOWN else ""
            return f"{where}: {self.problem} (row{'s' if len(self.rows) > 1 else ''} {labels}{more})"
        parts = []
        for index, row in enumerate(self.rows[:_ROWS_SHOWN]):
            label = f"row {row}"
            if self.csv_lines and _line(row) is not None:
                label += f" (CSV line {_line(row)})"
            if index < len(self.students) and _known(self.students[index]):
                label += f", student {self.students[index]}"
            statement = self.problem
            if index < len(self.values):
                statement = f"{_show(self.values[index])} {statement}"
            if index < len(self.others) and _known(self.others[index]):
                statement += f" {_show(self.others[index])}"
            parts.append(f"{label}: {statement}")
        message = f"{where}: " + "; ".join(parts)
        if len(self.rows) > _ROWS_SHOWN:
            message += f"; and {len(self.rows) - _ROWS_SHOWN} more rows"
        return message

    def __reduce__(self):  # pickling (papermill, multiprocessing) must rebuild it from the keywords
        return (_rebuild_table_error, (self.table, self.column, self.problem, self.rows, self.values, self.students,
                                       self.others, self.csv_lines, self.per_row))


def _rebuild_table_error(table, column, problem, rows, values, students, others, csv_lines, per_row) -> TableError:
    return TableError(table, column, problem, rows=rows, values=values, students=students, others=others,
                      csv_lines=csv_lines, per_row=per_row)


class SettingsError(AnalyticsError, ValueError):
    """The report settings (options, or an analytics settings file) are not valid.

    ``key`` is the offending setting (``None`` when the problem is the file
    itself), ``problem`` says what is wrong, ``source`` is the file, if any.
    """

    def __init__(self, key: str | None, problem: str, *, source: Path | None = None) -> None:
        self.key = key
        self.problem = problem
        self.source = source
        where = key or "settings"
        super().__init__(f"{source}: {where}: {problem}" if source is not None else f"{where}: {problem}")


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


def _known(value: object) -> bool:
    """Not None, NaN or NaT (the missing values compare unequal to themselves)."""
    return value is not None and value == value


def _line(row: Hashable) -> int | None:
    """The CSV line of a 0-based data row label (numpy integers too), or None for other labels."""
    try:
        return operator.index(row) + 2  # type: ignore[arg-type]
    except TypeError:
        return None


def _show(value: object) -> str:
    """Text quoted (blanks and look-alike ids show), times as a date (or date and time), numbers bare."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return f"{value:%Y-%m-%d}"
        return f"{value:%Y-%m-%d %H:%M:%S}".removesuffix(":00") + (" UTC" if value.tzinfo is not None else "")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
