"""The tidy tables analytics reads, and the one place their schema is written down.

``paceline export`` writes ``lessons``, ``enrollments`` and ``submissions`` as
Parquet and CSV into ``<course>/exports/``, with the optional ``cell_scores``
(per graded cell) and ``timelines`` (personal dates) where it has them; an
analyst may bring the same tables from another system. Everything downstream
(the metrics, plots, the reports) relies only on what :func:`validate_tables`
guarantees, which is exactly what the ``*_COLUMNS`` tuples below say.

Times are timezone-aware UTC (``datetime64[ns, UTC]``). In CSV they are ISO 8601
with an offset (``2026-09-07T09:00:00+00:00``); a time without an offset is
rejected rather than guessed. A log that counts time in days from a course
start instead may be read with ``course_start=``: a time column whose values
are numbers then means ``course_start + value days`` (one start, or one per
cohort).

Every table may have a ``cohort`` column (:data:`COHORT_COLUMN`): one load then
holds several cohorts (presentations, terms, sections), and ids are matched
within their cohort.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import checks
from .checks import COHORT, fail_if
from .errors import TableError
from .keys import factorized, read_parquet, remember_attempt_rows

STR = "str"
INT = "int64"
FLOAT = "float64"
TIME = "datetime64[ns, UTC]"

SUBMISSION_STATUSES = ("collected", "graded", "failed")


class Column(NamedTuple):
    """One documented column: unpacks as ``name, dtype, description``."""

    name: str
    dtype: str
    description: str


LESSONS_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "Unique lesson identifier, e.g. '01-basics'."),
    Column("title", STR, "Human-readable lesson title."),
    Column("order", INT, "1-based position of the lesson in the course; unique."),
    Column("opens_at", TIME, "When the lesson is released to students (UTC)."),
    Column("target_at", TIME, "When a student on pace should have submitted (UTC); not before opens_at."),
    Column("due_at", TIME, "Hard due date after which the late penalty applies (UTC); "
           "null (NaT) = no hard due date; not before target_at."),
    Column("max_score", FLOAT, "Points available for the lesson; >= 0."),
)

ENROLLMENTS_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "Unique student identifier."),
    Column("enrolled_at", TIME, "When the student enrolled (UTC); null (unknown) is read as the earliest of their "
           "course start (first opens_at), withdrawn_at and first submission."),
    Column("withdrawn_at", TIME, "When the student withdrew (UTC); null (NaT) = still enrolled; "
           "not before enrolled_at."),
)

SUBMISSIONS_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "Who submitted; must appear in enrollments."),
    Column("lesson_id", STR, "Which lesson; must appear in lessons."),
    Column("attempt", INT, "1-based attempt number per student x lesson, numbered in order of submitted_at; "
           "(student_id, lesson_id, attempt) is unique."),
    Column("submitted_at", TIME, "Trusted receipt time of the attempt (UTC); not before the student's enrolled_at."),
    Column("score", FLOAT, "Points before the late penalty, 0 <= score <= max_score; "
           "null until graded (required when status is 'graded')."),
    Column("max_score", FLOAT, "Points available for the attempt; >= 0."),
    Column("late_penalty", FLOAT, "Points deducted for lateness, >= 0; 0 when on time; "
           "null only while score is null."),
    Column("graded_at", TIME, "When the attempt was graded (UTC); null if not graded."),
    Column("status", STR, "'collected' (not graded yet), 'graded', or 'failed' (could not be graded)."),
)

CELL_SCORES_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "Who submitted."),
    Column("lesson_id", STR, "Which lesson."),
    Column("attempt", INT, "Which attempt of that student x lesson (as in submissions)."),
    Column("notebook", STR, "Notebook name within the lesson, without .ipynb."),
    Column("grade_id", STR, "nbgrader grade_id of the graded cell (a test cell or a manually graded answer)."),
    Column("score", FLOAT, "Points earned in that cell; null while a manually graded cell awaits grading."),
    Column("max_score", FLOAT, "Points the cell is worth."),
)
"""Optional table: per-cell scores of graded attempts, where the source system has them.
(student_id, lesson_id, attempt, notebook, grade_id) is unique, the attempt is one in
submissions, and 0 <= score <= max_score."""

TIMELINES_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student; must appear in enrollments."),
    Column("lesson_id", STR, "The lesson; must appear in lessons. (student_id, lesson_id) is unique."),
    Column("opens_at", TIME, "When the lesson opens for this student (UTC), after self-pacing and extensions."),
    Column("target_at", TIME, "This student's target date for the lesson (UTC); not before opens_at."),
    Column("due_at", TIME, "This student's hard due date (UTC), after extensions and any grace days spent on the "
           "lesson; null (NaT) = none; not before target_at."),
)
"""Optional table: each student's effective dates per lesson. A student x lesson listed
here uses these dates instead of the lesson's everywhere in analytics; one not listed
uses the dates in lessons."""

COHORT_COLUMN = Column(
    "cohort", STR, "Optional, in any table: the cohort (presentation, term, section) the row belongs to. If "
    "enrollments has it, every table but lessons must (lessons without it are one plan shared by all cohorts); "
    "student, lesson and attempt ids are then unique within their cohort, and a student id may recur in "
    "another cohort.")

TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "lessons": LESSONS_COLUMNS,
    "enrollments": ENROLLMENTS_COLUMNS,
    "submissions": SUBMISSIONS_COLUMNS,
}
OPTIONAL_TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "cell_scores": CELL_SCORES_COLUMNS,
    "timelines": TIMELINES_COLUMNS,
}

_NULLABLE: dict[str, frozenset[str]] = {
    "lessons": frozenset({"due_at"}),
    "enrollments": frozenset({"enrolled_at", "withdrawn_at"}),
    "submissions": frozenset({"score", "late_penalty", "graded_at"}),
    "cell_scores": frozenset({"score"}),
    "timelines": frozenset({"due_at"}),
}

#: A course start for day offsets: one instant, or one per cohort (``{cohort: instant}``).
CourseStart = dt.datetime | pd.Timestamp | Mapping[str, dt.datetime | pd.Timestamp]

# A wall-clock time followed by a UTC offset; a bare date such as "2026-09-07"
# must not pass for one ("-07" looks like an offset).
_HAS_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d*)?)?\s*(?:[Zz]|UTC|[+-]\d{2}(?::?\d{2})?)$"


def describe_columns(columns: tuple[Column, ...]) -> str:
    """The columns as a reStructuredText/Markdown bullet list (for docstrings and the README)."""
    return "\n".join(f"- ``{column.name}`` ({column.dtype}): {column.description}" for column in columns)


@dataclass(frozen=True)
class CourseTables:
    """The tables of one course, as :func:`validate_tables` returns them.

    ``cell_scores`` and ``timelines`` are optional (``None`` when the source
    has no such table)."""

    lessons: pd.DataFrame
    enrollments: pd.DataFrame
    submissions: pd.DataFrame
    cell_scores: pd.DataFrame | None = None
    timelines: pd.DataFrame | None = None

    @property
    def cohorts(self) -> tuple[str, ...]:
        """The cohorts of ``enrollments`` in order of first appearance; ``()`` without a cohort column."""
        if COHORT not in self.enrollments.columns:
            return ()
        return tuple(pd.unique(self.enrollments[COHORT]))


CourseTables.__doc__ = (CourseTables.__doc__ or "") + "".join(
    f"\n\n    ``{name}``:\n\n" + "\n".join(f"    {line}" for line in describe_columns(columns).splitlines())
    for name, columns in {**TABLE_COLUMNS, **OPTIONAL_TABLE_COLUMNS}.items()
) + "\n"


def load_tables(directory: Path | str, *, course_start: CourseStart | None = None) -> CourseTables:
    """Read and validate ``lessons``, ``enrollments`` and ``submissions`` from ``directory``,
    and ``cell_scores`` and ``timelines`` when they are there.

    For each table ``<name>.parquet`` is read if it exists, else ``<name>.csv``.
    CSV cells are read as text (so ids such as ``007`` keep their zeros) and
    only an empty cell is null; errors in a CSV name its line as well as the
    row. ``course_start`` is passed to :func:`validate_tables`.
    """
    directory = Path(directory)
    frames: dict[str, pd.DataFrame] = {}
    sources: dict[str, Path] = {}
    for name in [*TABLE_COLUMNS, *OPTIONAL_TABLE_COLUMNS]:
        parquet, csv = directory / f"{name}.parquet", directory / f"{name}.csv"
        if parquet.is_file():
            frames[name], sources[name] = read_parquet(parquet), parquet
        elif csv.is_file():
            frames[name] = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
            sources[name] = csv
        elif name in TABLE_COLUMNS:
            raise TableError(name, None, f"neither {parquet.name} nor {csv.name} exists in {directory}")
    try:
        return validate_tables(CourseTables(**frames), course_start=course_start)
    except TableError as error:
        source = sources.get(error.table)
        located = error.in_csv() if source is not None and source.suffix == ".csv" and error.rows else error
        if source is not None:
            located.add_note(f"read from {source}")
        if located is error:
            raise
        raise located from None


def write_tables(tables: CourseTables, directory: Path | str, *, formats: tuple[str, ...] = ("parquet", "csv")) -> tuple[Path, ...]:
    """Write the tables as ``<name>.parquet`` and/or ``<name>.csv`` into ``directory``; return the paths.

    Optional tables that are ``None`` are not written. CSV times come out as
    ISO 8601 with ``+00:00``, which :func:`load_tables` reads back.
    """
    unknown = set(formats) - {"parquet", "csv"}
    if unknown:
        raise ValueError(f"unknown table format(s): {', '.join(sorted(unknown))}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in [*TABLE_COLUMNS, *OPTIONAL_TABLE_COLUMNS]:
        frame: pd.DataFrame | None = getattr(tables, name)
        if frame is None:
            continue
        if "parquet" in formats:
            written.append(directory / f"{name}.parquet")
            frame.to_parquet(written[-1], index=False)
        if "csv" in formats:
            written.append(directory / f"{name}.csv")
            frame.to_csv(written[-1], index=False)
    return tuple(written)


def validate_tables(tables: CourseTables, *, course_start: CourseStart | None = None) -> CourseTables:
    """Check the tables against the contract and return them with the documented dtypes.

    Only the documented columns are kept (and ``cohort`` where a table has
    it, first), in documented order, with a fresh ``RangeIndex``. Raises
    :class:`TableError` (naming table, column, the offending row labels of the
    input, each row's student and value) for a missing column, a value that
    cannot be read as its dtype, a time without a UTC offset, a null in a
    non-nullable column, a duplicate key, an unknown id, and impossible values
    (see the column descriptions).

    ``course_start`` (timezone-aware) makes numeric time columns day offsets
    from that instant: ``1.5`` means ``course_start + 1.5 days``. A mapping
    ``{cohort: start}`` gives each cohort its own start.
    """
    frames = {name: getattr(tables, name) for name in [*TABLE_COLUMNS, *OPTIONAL_TABLE_COLUMNS]}
    for name, frame in frames.items():
        if frame is not None and not isinstance(frame, pd.DataFrame):
            raise TableError(name, None, f"is a {type(frame).__name__}, not a DataFrame")
    checks.check_cohorts(frames)
    coerced = {name: _coerce(name, frame, course_start) for name, frame in frames.items() if frame is not None}
    lessons, enrollments, submissions = coerced["lessons"], coerced["enrollments"], coerced["submissions"]
    checks.check_lessons(lessons)
    enrollments = coerced["enrollments"] = _fill_enrolled_at(enrollments, lessons=lessons, submissions=submissions)
    checks.check_enrollments(enrollments)
    checks.check_submissions(submissions, lessons=lessons, enrollments=enrollments, statuses=SUBMISSION_STATUSES)
    rows = None
    if "cell_scores" in coerced:
        rows = checks.check_cell_scores(coerced["cell_scores"], submissions=submissions)
    if "timelines" in coerced:
        checks.check_timelines(coerced["timelines"], lessons=lessons, enrollments=enrollments)
    validated = CourseTables(**{name: frame.reset_index(drop=True) for name, frame in coerced.items()})
    if rows is not None and COHORT not in validated.submissions.columns:
        remember_attempt_rows(validated.cell_scores, validated.submissions, rows)  # cell_pass_rates needs them too
    return validated


def _fill_enrolled_at(enrollments: pd.DataFrame, *, lessons: pd.DataFrame, submissions: pd.DataFrame) -> pd.DataFrame:
    """An unknown enrolment time becomes the earliest of the course start, the withdrawal and the first
    submission: the student was there by then, and nothing earlier is known."""
    unknown = enrollments["enrolled_at"].isna()
    if not unknown.any():
        return enrollments
    key = checks.scoped(enrollments, "student_id")
    if COHORT in lessons.columns:
        start = enrollments[COHORT].map(lessons.groupby(COHORT)["opens_at"].min())
    else:
        start = pd.Series(lessons["opens_at"].min(), index=enrollments.index)
    first = submissions.groupby(checks.scoped(submissions, "student_id").to_numpy())["submitted_at"].min()
    first = pd.Series(first.reindex(key.to_numpy()).to_numpy(), index=enrollments.index)
    earliest = pd.concat([start.astype(TIME), enrollments["withdrawn_at"], first.astype(TIME)], axis=1).min(axis=1)
    filled = enrollments.assign(enrolled_at=enrollments["enrolled_at"].fillna(earliest).astype(TIME))
    fail_if(filled["enrolled_at"].isna(), "enrollments", "enrolled_at", "is empty, and no lesson, withdrawal or "
            "submission says when the student was there", frame=filled)
    return filled


def _starts(table: str, frame: pd.DataFrame, course_start: CourseStart | None) -> pd.Series | pd.Timestamp | None:
    """The course start of each row: one instant, or per row from its cohort; None without one."""
    if course_start is None:
        return None
    if not isinstance(course_start, Mapping):
        return _instant(course_start, "course_start")
    starts = {str(cohort): _instant(start, f"course_start[{cohort!r}]") for cohort, start in course_start.items()}
    if COHORT not in frame.columns:
        raise TableError(table, None, "has no cohort column, but course_start is given per cohort")
    cohort = frame[COHORT].astype(STR)
    fail_if(~cohort.isin(list(starts)), table, COHORT, "has no course_start (it is given per cohort: "
            f"{', '.join(map(repr, starts))})", cohort, frame=frame)
    return cohort.map(starts).astype(TIME)


def _instant(when: object, name: str) -> pd.Timestamp:
    start = pd.Timestamp(when)
    if start.tz is None:
        raise ValueError(f"{name} {when} has no time zone")
    return start.tz_convert("UTC").as_unit("ns")


def _coerce(table: str, frame: pd.DataFrame, course_start: CourseStart | None) -> pd.DataFrame:
    columns = {**TABLE_COLUMNS, **OPTIONAL_TABLE_COLUMNS}[table]
    if not frame.index.is_unique:
        # Error messages name rows by index label, which must then be unique.
        frame = frame.reset_index(drop=True)
    duplicated = frame.columns[frame.columns.duplicated()].unique()
    if len(duplicated):
        raise TableError(table, str(duplicated[0]), "appears more than once as a column")
    missing = [column.name for column in columns if column.name not in frame.columns]
    if missing:
        raise TableError(table, missing[0], f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if COHORT in frame.columns:
        columns = (COHORT_COLUMN, *columns)
    start = _starts(table, frame, course_start)
    coerced = {
        column.name: _coerce_column(table, column, frame[column.name], start, nullable=column.name in _NULLABLE[table],
                                    frame=frame)
        for column in columns
    }
    return pd.DataFrame(coerced, index=frame.index)


def _coerce_column(table: str, column: Column, values: pd.Series, start: pd.Series | pd.Timestamp | None, *,
                   nullable: bool, frame: pd.DataFrame) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Parquet writers may dictionary-encode text columns such as status.
        values = values.astype(values.cat.categories.dtype)
    if column.dtype == TIME:
        coerced = _to_time(table, column.name, values, start, frame=frame)
    elif column.dtype == STR:
        coerced = _to_str(table, column.name, values, frame=frame)
    else:
        coerced = _to_number(table, column.name, values, frame=frame)
    if not nullable:
        fail_if(coerced.isna(), table, column.name, "is empty", frame=frame)
    if column.dtype == INT and not pd.api.types.is_integer_dtype(values):
        non_integer = coerced.notna() & (coerced % 1 != 0)
        fail_if(non_integer, table, column.name, "is not a whole number", values, frame=frame)
    return coerced.astype(column.dtype)


def _to_str(table: str, name: str, values: pd.Series, *, frame: pd.DataFrame) -> pd.Series:
    kind = pd.api.types.infer_dtype(values, skipna=True)
    # Integer ids from another system become their decimal text; anything else
    # that is not text (floats, times, booleans) is more likely a wrong column.
    if kind not in ("string", "empty", "integer"):
        not_text = values.notna() & ~values.map(lambda value: isinstance(value, str))
        fail_if(not_text, table, name, f"is not text ({kind} values)", values, frame=frame)
    blank = _is_blank(values)
    return (values.mask(blank) if blank.any() else values).astype(STR)


def _to_number(table: str, name: str, values: pd.Series, *, frame: pd.DataFrame) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        fail_if(values.notna(), table, name, "is a boolean, not a number", values, frame=frame)
    if pd.api.types.is_integer_dtype(values) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values  # Parquet's integers: nothing to parse, nothing infinite
    if pd.api.types.is_numeric_dtype(values):  # Parquet's numbers: nothing to parse, only infinities to refuse
        numbers = values.astype(FLOAT)
        fail_if(pd.Series(np.isinf(numbers.to_numpy()), index=values.index), table, name, "is not a finite number",
                values, frame=frame)
        return numbers
    blank = _is_blank(values)
    numbers = pd.to_numeric(values.mask(blank), errors="coerce").astype(FLOAT)
    unreadable = (numbers.isna() & values.notna() & ~blank) | (numbers.notna() & ~numbers.abs().lt(float("inf")))
    fail_if(unreadable, table, name, "is not a finite number", values, frame=frame)
    return numbers


def _to_time(table: str, name: str, values: pd.Series, start: pd.Series | pd.Timestamp | None, *,
             frame: pd.DataFrame) -> pd.Series:
    if values.isna().all():
        return pd.Series(pd.NaT, index=values.index, dtype=TIME)
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.dt.tz is None:
            fail_if(values.notna(), table, name, "has no time zone (expected UTC times)", values, frame=frame,
                    per_row=False)
        return values.dt.tz_convert("UTC")
    blank = _is_blank(values)
    if pd.api.types.is_bool_dtype(values):
        fail_if(values.notna(), table, name, "is a boolean, not a time", values, frame=frame)
    present = values.notna() & ~blank
    offsets = pd.to_numeric(values.mask(blank), errors="coerce")
    # A column that is mostly numbers is a day-offset column: a cell that is not a number there is
    # reported alone, rather than every number being reported as "not an ISO 8601 time".
    numeric = offsets.notna() & present
    if numeric.any() and numeric.sum() * 2 >= present.sum():
        fail_if(present & ~numeric, table, name, "is not a number of days (the column holds day offsets)", values,
                frame=frame)
        fail_if(~offsets.abs().lt(365_000) & numeric, table, name, "is not a day offset within 1,000 years", values,
                frame=frame)
        if start is None:
            fail_if(numeric, table, name, "is a number: day offsets need course_start", values, frame=frame,
                    per_row=False)
        return (start + pd.to_timedelta(offsets, unit="D")).astype(TIME)
    # Python/pandas datetimes in an object column turn into ISO text here, so
    # every non-datetime64 input goes through the same offset check and parser.
    text = values.mask(blank).astype(STR).str.strip()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    fail_if(parsed.isna() & text.notna(), table, name, "is not an ISO 8601 time", values, frame=frame)
    naive = parsed.notna() & ~text.str.contains(_HAS_OFFSET, regex=True, na=False)
    fail_if(naive, table, name, "has no UTC offset (write e.g. 2026-09-07T09:00:00+00:00)", values, frame=frame)
    return parsed


def _is_blank(values: pd.Series) -> pd.Series:
    """Empty or all-space text: null, like an empty CSV cell."""
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        text = values.astype(STR)
        if getattr(text.array, "_pa_array", None) is not None:
            # Each distinct id checked once: the column's codes are remembered (factorized), and the checks
            # that follow match ids through the same codes, so millions of ids are not scanned again here.
            codes, distinct = factorized(text)
            blank = np.append(_blank_text(pd.Series(distinct, dtype=STR)), False)  # the last entry: code -1, null
            return pd.Series(blank[codes], index=values.index)
        return pd.Series(_blank_text(text), index=values.index)
    return pd.Series(False, index=values.index)


def _blank_text(text: pd.Series) -> np.ndarray:
    arrow = getattr(text.array, "_pa_array", None)
    if arrow is not None:
        import pyarrow.compute as pc

        # Two Arrow kernels: empty, or only whitespace (no stripped copy).
        blank = pc.or_(pc.equal(pc.binary_length(arrow), 0), pc.utf8_is_space(arrow))
        return np.asarray(pc.fill_null(blank, False).to_numpy(zero_copy_only=False), dtype=bool)
    return text.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
