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
are all numbers then means ``course_start + value days``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from .errors import TableError
from .keys import attempt_rows

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
    Column("enrolled_at", TIME, "When the student enrolled (UTC)."),
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
    "enrollments": frozenset({"withdrawn_at"}),
    "submissions": frozenset({"score", "late_penalty", "graded_at"}),
    "cell_scores": frozenset({"score"}),
    "timelines": frozenset({"due_at"}),
}

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


CourseTables.__doc__ = (CourseTables.__doc__ or "") + "".join(
    f"\n\n    ``{name}``:\n\n" + "\n".join(f"    {line}" for line in describe_columns(columns).splitlines())
    for name, columns in {**TABLE_COLUMNS, **OPTIONAL_TABLE_COLUMNS}.items()
) + "\n"


def load_tables(directory: Path | str, *, course_start: dt.datetime | None = None) -> CourseTables:
    """Read and validate ``lessons``, ``enrollments`` and ``submissions`` from ``directory``,
    and ``cell_scores`` and ``timelines`` when they are there.

    For each table ``<name>.parquet`` is read if it exists, else ``<name>.csv``.
    CSV cells are read as text (so ids such as ``007`` keep their zeros) and
    only an empty cell is null. ``course_start`` is passed to :func:`validate_tables`.
    """
    directory = Path(directory)
    frames: dict[str, pd.DataFrame] = {}
    sources: dict[str, Path] = {}
    for name in [*TABLE_COLUMNS, *OPTIONAL_TABLE_COLUMNS]:
        parquet, csv = directory / f"{name}.parquet", directory / f"{name}.csv"
        if parquet.is_file():
            frames[name], sources[name] = pd.read_parquet(parquet), parquet
        elif csv.is_file():
            frames[name] = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
            sources[name] = csv
        elif name in TABLE_COLUMNS:
            raise TableError(name, None, f"neither {parquet.name} nor {csv.name} exists in {directory}")
    try:
        return validate_tables(CourseTables(**frames), course_start=course_start)
    except TableError as error:
        error.add_note(f"read from {sources[error.table]}")
        raise


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


def validate_tables(tables: CourseTables, *, course_start: dt.datetime | None = None) -> CourseTables:
    """Check the tables against the contract and return them with the documented dtypes.

    Only the documented columns are kept, in documented order, with a fresh
    ``RangeIndex``. Raises :class:`TableError` (naming table, column and the
    offending row labels of the input) for a missing column, a value that
    cannot be read as its dtype, a time without a UTC offset, a null in a
    non-nullable column, a duplicate key, an unknown id, and impossible values
    (see the column descriptions).

    ``course_start`` (timezone-aware) makes numeric time columns day offsets
    from that instant: ``1.5`` means ``course_start + 1.5 days``.
    """
    start = _course_start(course_start)
    lessons = _coerce("lessons", tables.lessons, start)
    enrollments = _coerce("enrollments", tables.enrollments, start)
    submissions = _coerce("submissions", tables.submissions, start)
    _check_lessons(lessons)
    _check_enrollments(enrollments)
    _check_submissions(submissions, lessons=lessons, enrollments=enrollments)
    cell_scores = timelines = None
    if tables.cell_scores is not None:
        cell_scores = _coerce("cell_scores", tables.cell_scores, start)
        _check_cell_scores(cell_scores, submissions=submissions)
    if tables.timelines is not None:
        timelines = _coerce("timelines", tables.timelines, start)
        _check_timelines(timelines, lessons=lessons, enrollments=enrollments)
    return CourseTables(
        lessons=lessons.reset_index(drop=True),
        enrollments=enrollments.reset_index(drop=True),
        submissions=submissions.reset_index(drop=True),
        cell_scores=None if cell_scores is None else cell_scores.reset_index(drop=True),
        timelines=None if timelines is None else timelines.reset_index(drop=True),
    )


def _course_start(course_start: dt.datetime | None) -> pd.Timestamp | None:
    if course_start is None:
        return None
    start = pd.Timestamp(course_start)
    if start.tz is None:
        raise ValueError(f"course_start {course_start} has no time zone")
    return start.tz_convert("UTC")


def _coerce(table: str, frame: pd.DataFrame, start: pd.Timestamp | None) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TableError(table, None, f"is a {type(frame).__name__}, not a DataFrame")
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
    coerced = {
        column.name: _coerce_column(table, column, frame[column.name], start, nullable=column.name in _NULLABLE[table])
        for column in columns
    }
    return pd.DataFrame(coerced, index=frame.index)


def _coerce_column(table: str, column: Column, values: pd.Series, start: pd.Timestamp | None, *, nullable: bool) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Parquet writers may dictionary-encode text columns such as status.
        values = values.astype(values.cat.categories.dtype)
    if column.dtype == TIME:
        coerced = _to_time(table, column.name, values, start)
    elif column.dtype == STR:
        coerced = _to_str(table, column.name, values)
    else:
        coerced = _to_number(table, column.name, values)
    if not nullable:
        _fail_if(coerced.isna(), table, column.name, "is empty", values)
    if column.dtype == INT:
        non_integer = coerced.notna() & (coerced % 1 != 0)
        _fail_if(non_integer, table, column.name, "is not a whole number", values)
    return coerced.astype(column.dtype)


def _to_str(table: str, name: str, values: pd.Series) -> pd.Series:
    kind = pd.api.types.infer_dtype(values, skipna=True)
    # Integer ids from another system become their decimal text; anything else
    # that is not text (floats, times, booleans) is more likely a wrong column.
    if kind not in ("string", "empty", "integer"):
        not_text = values.notna() & ~values.map(lambda value: isinstance(value, str))
        _fail_if(not_text, table, name, f"expected text, got {kind} values", values)
    return values.mask(_is_blank(values)).astype(STR)


def _to_number(table: str, name: str, values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        _fail_if(values.notna(), table, name, "expected a number, got booleans", values)
    blank = _is_blank(values)
    numbers = pd.to_numeric(values.mask(blank), errors="coerce").astype(FLOAT)
    unreadable = (numbers.isna() & values.notna() & ~blank) | (numbers.notna() & ~numbers.abs().lt(float("inf")))
    _fail_if(unreadable, table, name, "is not a finite number", values)
    return numbers


def _to_time(table: str, name: str, values: pd.Series, start: pd.Timestamp | None) -> pd.Series:
    if values.isna().all():
        return pd.Series(pd.NaT, index=values.index, dtype=TIME)
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.dt.tz is None:
            _fail_if(values.notna(), table, name, "has no time zone (expected UTC times)", values)
        return values.dt.tz_convert("UTC")
    blank = _is_blank(values)
    if pd.api.types.is_bool_dtype(values):
        _fail_if(values.notna(), table, name, "expected a time, got booleans", values)
    offsets = pd.to_numeric(values.mask(blank), errors="coerce")
    if offsets.notna().any() and bool((offsets.notna() | values.isna() | blank).all()):
        if start is None:
            _fail_if(values.notna() & ~blank, table, name, "is a number: day offsets need course_start", values)
        return start + pd.to_timedelta(offsets, unit="D")
    # Python/pandas datetimes in an object column turn into ISO text here, so
    # every non-datetime64 input goes through the same offset check and parser.
    text = values.mask(blank).astype(STR).str.strip()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    _fail_if(parsed.isna() & text.notna(), table, name, "is not an ISO 8601 time", values)
    naive = parsed.notna() & ~text.str.contains(_HAS_OFFSET, regex=True, na=False)
    _fail_if(naive, table, name, "has no UTC offset (write e.g. 2026-09-07T09:00:00+00:00)", values)
    return parsed


def _is_blank(values: pd.Series) -> pd.Series:
    """Empty or all-space text: null, like an empty CSV cell."""
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        return values.astype(STR).str.strip().eq("").fillna(False).astype(bool)
    return pd.Series(False, index=values.index)


def _check_lessons(lessons: pd.DataFrame) -> None:
    _fail_if(lessons["lesson_id"].duplicated(keep=False), "lessons", "lesson_id", "is duplicated", lessons["lesson_id"])
    _fail_if(lessons["order"] < 1, "lessons", "order", "must be 1 or more", lessons["order"])
    _fail_if(lessons["order"].duplicated(keep=False), "lessons", "order", "is duplicated", lessons["order"])
    _fail_if(lessons["max_score"] < 0, "lessons", "max_score", "is negative", lessons["max_score"])
    _fail_if(lessons["target_at"] < lessons["opens_at"], "lessons", "target_at", "is before opens_at", lessons["target_at"])
    _fail_if(lessons["due_at"] < lessons["target_at"], "lessons", "due_at", "is before target_at", lessons["due_at"])


def _check_enrollments(enrollments: pd.DataFrame) -> None:
    ids = enrollments["student_id"]
    _fail_if(ids.duplicated(keep=False), "enrollments", "student_id", "is duplicated", ids)
    withdrawn = enrollments["withdrawn_at"]
    _fail_if(withdrawn < enrollments["enrolled_at"], "enrollments", "withdrawn_at", "is before enrolled_at", withdrawn)


def _check_submissions(submissions: pd.DataFrame, *, lessons: pd.DataFrame, enrollments: pd.DataFrame) -> None:
    table = "submissions"
    subs = submissions
    status = subs["status"]
    _fail_if(~status.isin(SUBMISSION_STATUSES), table, "status",
             f"must be one of {', '.join(SUBMISSION_STATUSES)}", status)
    _fail_if(~subs["lesson_id"].isin(lessons["lesson_id"]), table, "lesson_id",
             "is not a lesson_id in lessons", subs["lesson_id"])
    _fail_if(~subs["student_id"].isin(enrollments["student_id"]), table, "student_id",
             "is not a student_id in enrollments", subs["student_id"])
    _fail_if(subs["attempt"] < 1, table, "attempt", "must be 1 or more", subs["attempt"])
    key = ["student_id", "lesson_id", "attempt"]
    _fail_if(subs.duplicated(key, keep=False), table, "attempt",
             "is duplicated for the same student_id and lesson_id", subs["attempt"])
    _fail_if(subs["max_score"] < 0, table, "max_score", "is negative", subs["max_score"])
    _fail_if(subs["score"] < 0, table, "score", "is negative", subs["score"])
    _fail_if(subs["score"] > subs["max_score"], table, "score", "is greater than max_score", subs["score"])
    _fail_if(subs["score"].isna() & status.eq("graded"), table, "score",
             "is empty for a graded attempt", subs["score"])
    _fail_if(subs["late_penalty"] < 0, table, "late_penalty", "is negative", subs["late_penalty"])
    _fail_if(subs["late_penalty"].isna() & subs["score"].notna(), table, "late_penalty",
             "is empty although score is set", subs["late_penalty"])
    enrolled_at = subs["student_id"].map(enrollments.set_index("student_id")["enrolled_at"])
    _fail_if(subs["submitted_at"] < enrolled_at, table, "submitted_at",
             "is before the student's enrolled_at", subs["submitted_at"])
    ordered = subs.sort_values(key)
    previous = ordered.groupby(["student_id", "lesson_id"], sort=False)["submitted_at"].shift()
    _fail_if((ordered["submitted_at"] < previous).reindex(subs.index), table, "attempt",
             "is not numbered in order of submitted_at", subs["attempt"])


def _check_cell_scores(cells: pd.DataFrame, *, submissions: pd.DataFrame) -> None:
    table = "cell_scores"
    row = attempt_rows(cells, submissions)
    _fail_if(pd.Series(row < 0, index=cells.index), table, "attempt",
             "is not an attempt in submissions (by student_id, lesson_id, attempt)", cells["attempt"])
    notebook, notebooks = pd.factorize(cells["notebook"])
    grade, grades = pd.factorize(cells["grade_id"])
    cell = (row * max(len(notebooks), 1) + notebook) * max(len(grades), 1) + grade
    _fail_if(pd.Series(cell, index=cells.index).duplicated(keep=False), table, "grade_id",
             "is duplicated for the same attempt and notebook", cells["grade_id"])
    _fail_if(cells["max_score"] < 0, table, "max_score", "is negative", cells["max_score"])
    _fail_if(cells["score"] < 0, table, "score", "is negative", cells["score"])
    _fail_if(cells["score"] > cells["max_score"], table, "score", "is greater than max_score", cells["score"])


def _check_timelines(timelines: pd.DataFrame, *, lessons: pd.DataFrame, enrollments: pd.DataFrame) -> None:
    table = "timelines"
    _fail_if(~timelines["student_id"].isin(enrollments["student_id"]), table, "student_id",
             "is not a student_id in enrollments", timelines["student_id"])
    _fail_if(~timelines["lesson_id"].isin(lessons["lesson_id"]), table, "lesson_id",
             "is not a lesson_id in lessons", timelines["lesson_id"])
    _fail_if(timelines.duplicated(["student_id", "lesson_id"], keep=False), table, "lesson_id",
             "is duplicated for the same student_id", timelines["lesson_id"])
    _fail_if(timelines["target_at"] < timelines["opens_at"], table, "target_at", "is before opens_at",
             timelines["target_at"])
    _fail_if(timelines["due_at"] < timelines["target_at"], table, "due_at", "is before target_at", timelines["due_at"])


def _fail_if(mask: pd.Series, table: str, column: str, problem: str, values: pd.Series) -> None:
    """Raise a :class:`TableError` listing the rows where ``mask`` is true (NA counts as false)."""
    mask = mask.fillna(False).astype(bool)
    if mask.any():
        raise TableError(table, column, problem, rows=mask.index[mask].tolist(), values=values[mask].tolist()[:10])
