"""The table contract: loading, coercion, and every rejection naming table, column and rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from analytics import (
    CELL_SCORES_COLUMNS,
    ENROLLMENTS_COLUMNS,
    PERSONAS,
    TIMELINES_COLUMNS,
    LESSONS_COLUMNS,
    SUBMISSIONS_COLUMNS,
    CourseTables,
    TableError,
    load_tables,
    synthetic_course,
    synthetic_tables,
    validate_tables,
    write_tables,
)

UTC = dt.timezone.utc
START = dt.datetime(2026, 9, 7, tzinfo=UTC)
SCHEMAS = {"lessons": LESSONS_COLUMNS, "enrollments": ENROLLMENTS_COLUMNS, "submissions": SUBMISSIONS_COLUMNS}


def raw_tables() -> CourseTables:
    """Tables as text, the way a CSV export reads: ids with leading zeros, ISO times, empty = null."""
    return CourseTables(
        lessons=pd.DataFrame({
            "lesson_id": ["01-basics", "02-control"],
            "title": ["Basics", "Control flow"],
            "order": ["1", "2"],
            "opens_at": ["2026-09-07T00:00:00+00:00", "2026-09-14T00:00:00+00:00"],
            "target_at": ["2026-09-14T00:00:00+00:00", "2026-09-21T02:00:00+02:00"],
            "due_at": ["2026-09-21T00:00:00+00:00", None],
            "max_score": ["10", "20.0"],
        }),
        enrollments=pd.DataFrame({
            "student_id": ["007", "ada"],
            "enrolled_at": ["2026-09-01T00:00:00+00:00", "2026-09-01T00:00:00Z"],
            "withdrawn_at": [None, "2026-09-20T00:00:00+00:00"],
        }),
        submissions=pd.DataFrame({
            "student_id": ["007", "007", "ada"],
            "lesson_id": ["01-basics", "01-basics", "02-control"],
            "attempt": ["1", "2", "1"],
            "submitted_at": ["2026-09-10T12:00:00+00:00", "2026-09-11T12:00:00+00:00", "2026-09-15T00:00:00+00:00"],
            "score": ["6.5", None, "20"],
            "max_score": ["10", "10", "20"],
            "late_penalty": ["0", None, "0"],
            "graded_at": ["2026-09-11T00:00:00+00:00", None, "2026-09-16T00:00:00+00:00"],
            "status": ["graded", "collected", "graded"],
        }),
    )


def utc(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True)).astype("datetime64[ns, UTC]")


def expected_tables() -> CourseTables:
    return CourseTables(
        lessons=pd.DataFrame({
            "lesson_id": pd.Series(["01-basics", "02-control"], dtype="str"),
            "title": pd.Series(["Basics", "Control flow"], dtype="str"),
            "order": np.array([1, 2], dtype="int64"),
            "opens_at": utc("2026-09-07T00:00Z", "2026-09-14T00:00Z"),
            "target_at": utc("2026-09-14T00:00Z", "2026-09-21T00:00Z"),
            "due_at": utc("2026-09-21T00:00Z", None),
            "max_score": [10.0, 20.0],
        }),
        enrollments=pd.DataFrame({
            "student_id": pd.Series(["007", "ada"], dtype="str"),
            "enrolled_at": utc("2026-09-01T00:00Z", "2026-09-01T00:00Z"),
            "withdrawn_at": utc(None, "2026-09-20T00:00Z"),
        }),
        submissions=pd.DataFrame({
            "student_id": pd.Series(["007", "007", "ada"], dtype="str"),
            "lesson_id": pd.Series(["01-basics", "01-basics", "02-control"], dtype="str"),
            "attempt": np.array([1, 2, 1], dtype="int64"),
            "submitted_at": utc("2026-09-10T12:00Z", "2026-09-11T12:00Z", "2026-09-15T00:00Z"),
            "score": [6.5, np.nan, 20.0],
            "max_score": [10.0, 10.0, 20.0],
            "late_penalty": [0.0, np.nan, 0.0],
            "graded_at": utc("2026-09-11T00:00Z", None, "2026-09-16T00:00Z"),
            "status": pd.Series(["graded", "collected", "graded"], dtype="str"),
        }),
    )


def assert_tables_equal(actual: CourseTables, expected: CourseTables) -> None:
    for name in SCHEMAS:
        assert_frame_equal(getattr(actual, name), getattr(expected, name), obj=name)


def test_validate_coerces_text_to_documented_dtypes() -> None:
    assert_tables_equal(validate_tables(raw_tables()), expected_tables())


def test_validated_dtypes_are_the_documented_schema() -> None:
    tables = validate_tables(raw_tables())
    for name, columns in SCHEMAS.items():
        frame = getattr(tables, name)
        assert list(frame.columns) == [column.name for column in columns]
        assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == {c.name: c.dtype for c in columns}


def test_schema_entries_unpack_as_name_dtype_description() -> None:
    for columns in SCHEMAS.values():
        for name, dtype, description in columns:
            assert name and dtype and description.endswith(".")


def test_validate_keeps_documented_columns_only_and_resets_index() -> None:
    raw = raw_tables()
    lessons = raw.lessons.assign(extra="ignored").set_axis([10, 20])
    tables = validate_tables(CourseTables(lessons, raw.enrollments, raw.submissions))
    assert_frame_equal(tables.lessons, expected_tables().lessons)


def test_validate_accepts_aware_datetimes_and_converts_to_utc() -> None:
    raw = raw_tables()
    berlin = pd.to_datetime(raw.lessons["opens_at"], utc=True).dt.tz_convert("Europe/Berlin")
    python_datetimes = pd.Series([dt.datetime(2026, 9, 1, tzinfo=UTC), dt.datetime(2026, 9, 1, tzinfo=UTC)], dtype=object)
    tables = validate_tables(CourseTables(
        raw.lessons.assign(opens_at=berlin),
        raw.enrollments.assign(enrolled_at=python_datetimes),
        raw.submissions,
    ))
    assert_tables_equal(tables, expected_tables())


def test_numeric_integer_ids_become_text() -> None:
    raw = raw_tables()
    ids = {"007": 7, "ada": 8}
    tables = validate_tables(CourseTables(
        raw.lessons,
        raw.enrollments.assign(student_id=raw.enrollments["student_id"].map(ids)),
        raw.submissions.assign(student_id=raw.submissions["student_id"].map(ids)),
    ))
    assert tables.submissions["student_id"].tolist() == ["7", "7", "8"]
    assert str(tables.submissions["student_id"].dtype) == "str"


def test_day_offsets_from_course_start() -> None:
    raw = raw_tables()
    days = CourseTables(
        lessons=raw.lessons.assign(opens_at=[0, 7], target_at=[7.0, 14.0], due_at=[14.0, np.nan]),
        enrollments=raw.enrollments.assign(enrolled_at=[-6, -6], withdrawn_at=[np.nan, 13]),
        # Text offsets too, as a CSV from another system would give them.
        submissions=raw.submissions.assign(submitted_at=["3.5", "4.5", "8"], graded_at=["4", "", "9"]),
    )
    assert_tables_equal(validate_tables(days, course_start=START), expected_tables())


def test_day_offsets_need_course_start() -> None:
    raw = raw_tables()
    with pytest.raises(TableError, match=r"lessons\.opens_at: is a number: day offsets need course_start") as error:
        validate_tables(CourseTables(raw.lessons.assign(opens_at=[0, 7]), raw.enrollments, raw.submissions))
    assert (error.value.table, error.value.column, error.value.rows) == ("lessons", "opens_at", (0, 1))


def test_course_start_must_be_aware() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        validate_tables(raw_tables(), course_start=dt.datetime(2026, 9, 7))


def test_table_error_is_a_value_error() -> None:
    assert issubclass(TableError, ValueError)


Mutation = Callable[[CourseTables], CourseTables]


def lessons(**columns: object) -> Mutation:
    return lambda t: CourseTables(t.lessons.assign(**columns), t.enrollments, t.submissions)


def enrollments(**columns: object) -> Mutation:
    return lambda t: CourseTables(t.lessons, t.enrollments.assign(**columns), t.submissions)


def submissions(**columns: object) -> Mutation:
    return lambda t: CourseTables(t.lessons, t.enrollments, t.submissions.assign(**columns))


def drop(table: str, column: str) -> Mutation:
    def mutate(t: CourseTables) -> CourseTables:
        frames = {name: getattr(t, name) for name in SCHEMAS}
        frames[table] = frames[table].drop(columns=[column])
        return CourseTables(**frames)
    return mutate


REJECTIONS = {
    "missing column": (drop("submissions", "status"), "submissions", "status", (), "missing column status"),
    "unparseable time": (
        submissions(submitted_at=["2026-09-10T12:00:00+00:00", "yesterday", "2026-09-15T00:00:00+00:00"]),
        "submissions", "submitted_at", (1,), "row 1, student 007: 'yesterday' is not an ISO 8601 time"),
    "time without offset": (
        enrollments(enrolled_at=["2026-09-01T00:00:00", "2026-09-01T00:00:00+00:00"]),
        "enrollments", "enrolled_at", (0,), "has no UTC offset"),
    "bare date looks like an offset": (
        lessons(opens_at=["2026-09-07", "2026-09-14T00:00:00+00:00"]), "lessons", "opens_at", (0,), "has no UTC offset"),
    "naive datetimes": (
        lessons(opens_at=pd.to_datetime(["2026-09-07", "2026-09-14"])), "lessons", "opens_at", (0, 1), "has no time zone"),
    "score is not a number": (submissions(score=["6.5", None, "full marks"]), "submissions", "score", (2,),
                              "row 2, student ada: 'full marks' is not a finite number"),
    "attempt is not whole": (submissions(attempt=["1", "2.5", "1"]), "submissions", "attempt", (1,), "is not a whole number"),
    "id is not text": (lessons(lesson_id=[1.5, 2.5]), "lessons", "lesson_id", (0, 1), "row 0: 1.5 is not text"),
    "empty required cell": (submissions(status=["graded", " ", "graded"]), "submissions", "status", (1,),
                            "row 1, student 007: is empty"),
    "unknown lesson": (submissions(lesson_id=["01-basics", "01-basics", "99-nope"]), "submissions", "lesson_id", (2,),
                       "row 2, student ada: '99-nope' is not a lesson_id in lessons"),
    "unknown student": (submissions(student_id=["007", "7", "ada"]), "submissions", "student_id", (1,),
                        "is not a student_id in enrollments"),
    "duplicate attempt": (submissions(attempt=["1", "1", "1"]), "submissions", "attempt", (0, 1),
                          "row 0, student 007: 1 is duplicated for the same student_id and lesson_id; row 1, student 007: 1 is "
                          "duplicated"),
    "attempts out of order": (submissions(attempt=["2", "1", "1"]), "submissions", "attempt", (0,),
                              "row 0, student 007: 2 is numbered out of the order of submitted_at"),
    "score above max": (submissions(score=["10.5", None, "20"]), "submissions", "score", (0,), "is greater than max_score"),
    "negative score": (submissions(score=["-1", None, "20"]), "submissions", "score", (0,), "is negative"),
    "graded without score": (submissions(score=["6.5", None, None]), "submissions", "score", (2,),
                             "is empty for a graded attempt"),
    "bad status": (submissions(status=["graded", "pending", "graded"]), "submissions", "status", (1,), "must be one of"),
    "submission before enrolment": (
        submissions(submitted_at=["2026-08-31T23:59:59+00:00", "2026-09-11T12:00:00+00:00", "2026-09-15T00:00:00+00:00"]),
        "submissions", "submitted_at", (0,),
        "row 0, student 007: 2026-08-31 23:59:59 UTC is before their enrolled_at 2026-09-01"),
    "target before opens": (lessons(target_at=["2026-09-06T00:00:00+00:00", "2026-09-21T00:00:00+00:00"]),
                            "lessons", "target_at", (0,), "is before opens_at"),
    "due before target": (lessons(due_at=["2026-09-13T00:00:00+00:00", None]), "lessons", "due_at", (0,),
                          "is before target_at"),
    "duplicate lesson": (lessons(lesson_id=["01-basics", "01-basics"]), "lessons", "lesson_id", (0, 1), "is duplicated"),
    "duplicate student": (enrollments(student_id=["007", "007"]), "enrollments", "student_id", (0, 1), "is duplicated"),
    "withdrawn before enrolled": (enrollments(withdrawn_at=[None, "2026-08-01T00:00:00+00:00"]), "enrollments",
                                  "withdrawn_at", (1,), "row 1, student ada: 2026-08-01 is before their enrolled_at 2026-09-01"),
}


@pytest.mark.parametrize(("mutate", "table", "column", "rows", "message"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_rejections_name_table_column_and_rows(
    mutate: Mutation, table: str, column: str, rows: tuple[int, ...], message: str
) -> None:
    with pytest.raises(TableError) as error:
        validate_tables(mutate(raw_tables()))
    assert (error.value.table, error.value.column, error.value.rows) == (table, column, rows)
    assert str(error.value).startswith(f"{table}.{column}: ")
    assert message in str(error.value)


def test_message_lists_at_most_five_rows() -> None:
    submissions = pd.concat([raw_tables().submissions] * 4, ignore_index=True).assign(lesson_id="nope")
    raw = raw_tables()
    with pytest.raises(TableError, match=r"^submissions.lesson_id: row 0, student 007: 'nope' is not a lesson_id in "
                                         r"lessons; row 1, .*; row 4, [^;]*; and 7 more rows$"):
        validate_tables(CourseTables(raw.lessons, raw.enrollments, submissions))


def test_load_round_trips_csv_and_parquet(tmp_path: Path) -> None:
    tables = validate_tables(raw_tables())
    write_tables(tables, tmp_path / "csv", formats=("csv",))
    write_tables(tables, tmp_path / "parquet", formats=("parquet",))
    assert_tables_equal(load_tables(tmp_path / "csv"), expected_tables())
    assert_tables_equal(load_tables(str(tmp_path / "parquet")), expected_tables())


def test_load_reads_csv_ids_as_text_and_only_empty_cells_as_null(tmp_path: Path) -> None:
    raw = raw_tables()
    raw = CourseTables(raw.lessons, raw.enrollments.assign(student_id=["007", "NA"]),
                       raw.submissions.assign(student_id=["007", "007", "NA"]))
    write_tables(raw, tmp_path, formats=("csv",))
    assert load_tables(tmp_path).enrollments["student_id"].tolist() == ["007", "NA"]


def test_load_prefers_parquet(tmp_path: Path) -> None:
    write_tables(validate_tables(raw_tables()), tmp_path)
    (tmp_path / "lessons.csv").write_text("not,the,contract\n")
    assert_tables_equal(load_tables(tmp_path), expected_tables())


def test_load_names_a_missing_table(tmp_path: Path) -> None:
    write_tables(validate_tables(raw_tables()), tmp_path, formats=("csv",))
    (tmp_path / "enrollments.csv").unlink()
    with pytest.raises(TableError, match=r"^enrollments: neither enrollments.parquet nor enrollments.csv exists"):
        load_tables(tmp_path)


def test_load_errors_say_which_file(tmp_path: Path) -> None:
    write_tables(submissions(score=["11", None, "20"])(raw_tables()), tmp_path, formats=("csv",))
    with pytest.raises(TableError, match=r"^submissions.score: row 0 \(CSV line 2\), student 007: 11 is greater than "
                                         "max_score 10\n") as error:
        load_tables(tmp_path)
    assert error.value.__notes__ == [f"read from {tmp_path / 'submissions.csv'}"]


def test_synthetic_tables_are_valid_reproducible_and_varied() -> None:
    first = synthetic_tables(students=120, lessons=5, seed=7, start=START)
    assert_tables_equal(synthetic_tables(students=120, lessons=5, seed=7, start=START), first)
    assert_tables_equal(validate_tables(first), first)
    assert len(first.lessons) == 5 and len(first.enrollments) == 120
    subs = first.submissions
    assert set(subs["status"]) == {"graded", "collected", "failed"}
    assert subs["attempt"].max() > 1
    assert (subs["late_penalty"] > 0).any()
    assert first.enrollments["withdrawn_at"].notna().any()
    assert first.lessons["due_at"].isna().sum() == 1
    assert subs.groupby("student_id")["lesson_id"].nunique().lt(5).any()  # someone stopped early
    other = synthetic_tables(students=120, lessons=5, seed=8, start=START)
    assert not other.submissions.equals(subs)


# The optional tables: cell_scores (per graded cell) and timelines (personal dates).

def raw_cell_scores() -> pd.DataFrame:
    return pd.DataFrame({
        "student_id": ["007", "007", "ada"],
        "lesson_id": ["01-basics", "01-basics", "02-control"],
        "attempt": ["1", "1", "1"],
        "notebook": ["basics", "basics", "control"],
        "grade_id": ["test_add", "explain", "test_loop"],
        "score": ["4", "", "20"],
        "max_score": ["4", "2.5", "20"],
    })


def raw_timelines() -> pd.DataFrame:
    return pd.DataFrame({
        "student_id": ["007", "ada"],
        "lesson_id": ["01-basics", "01-basics"],
        "opens_at": ["2026-09-07T00:00:00+00:00", "2026-09-10T00:00:00+00:00"],
        # An extension: 007's target moved from 09-14 to 09-18, and the due date with it.
        "target_at": ["2026-09-18T00:00:00+00:00", "2026-09-17T00:00:00+00:00"],
        "due_at": ["2026-09-25T00:00:00+00:00", ""],
    })


def with_optional(cell_scores: pd.DataFrame | None = None, timelines: pd.DataFrame | None = None) -> CourseTables:
    raw = raw_tables()
    return CourseTables(raw.lessons, raw.enrollments, raw.submissions,
                        cell_scores=raw_cell_scores() if cell_scores is None else cell_scores,
                        timelines=raw_timelines() if timelines is None else timelines)


def expected_optional() -> tuple[pd.DataFrame, pd.DataFrame]:
    cells = pd.DataFrame({
        "student_id": pd.Series(["007", "007", "ada"], dtype="str"),
        "lesson_id": pd.Series(["01-basics", "01-basics", "02-control"], dtype="str"),
        "attempt": np.array([1, 1, 1], dtype="int64"),
        "notebook": pd.Series(["basics", "basics", "control"], dtype="str"),
        "grade_id": pd.Series(["test_add", "explain", "test_loop"], dtype="str"),
        "score": [4.0, np.nan, 20.0],
        "max_score": [4.0, 2.5, 20.0],
    })
    timelines = pd.DataFrame({
        "student_id": pd.Series(["007", "ada"], dtype="str"),
        "lesson_id": pd.Series(["01-basics", "01-basics"], dtype="str"),
        "opens_at": utc("2026-09-07T00:00Z", "2026-09-10T00:00Z"),
        "target_at": utc("2026-09-18T00:00Z", "2026-09-17T00:00Z"),
        "due_at": utc("2026-09-25T00:00Z", None),
    })
    return cells, timelines


def test_optional_tables_default_to_none() -> None:
    tables = validate_tables(raw_tables())
    assert tables.cell_scores is None and tables.timelines is None


def test_validate_coerces_optional_tables() -> None:
    tables = validate_tables(with_optional())
    cells, timelines = expected_optional()
    assert_frame_equal(tables.cell_scores, cells)
    assert_frame_equal(tables.timelines, timelines)
    assert [c.name for c in CELL_SCORES_COLUMNS] == list(tables.cell_scores.columns)
    assert {c.name: c.dtype for c in TIMELINES_COLUMNS} == {k: str(v) for k, v in tables.timelines.dtypes.items()}


def test_optional_tables_round_trip_and_load_when_present(tmp_path: Path) -> None:
    tables = validate_tables(with_optional())
    written = write_tables(tables, tmp_path / "csv", formats=("csv",))
    assert {path.name for path in written} >= {"cell_scores.csv", "timelines.csv"}
    write_tables(tables, tmp_path / "parquet", formats=("parquet",))
    cells, timelines = expected_optional()
    for directory in ("csv", "parquet"):
        loaded = load_tables(tmp_path / directory)
        assert_frame_equal(loaded.cell_scores, cells)
        assert_frame_equal(loaded.timelines, timelines)
    (tmp_path / "csv" / "timelines.csv").unlink()
    assert load_tables(tmp_path / "csv").timelines is None


def test_empty_cell_scores_as_paceline_exports_them(tmp_path: Path) -> None:
    # `paceline export` before anything is graded: a header-only CSV, an untyped empty Parquet frame.
    empty = pd.DataFrame({column.name: [] for column in CELL_SCORES_COLUMNS})
    tables = validate_tables(with_optional(cell_scores=empty))
    assert tables.cell_scores.empty and list(tables.cell_scores.columns) == [c.name for c in CELL_SCORES_COLUMNS]
    write_tables(tables, tmp_path)
    assert load_tables(tmp_path).cell_scores.empty


def cells(**columns: object) -> Mutation:
    return lambda t: CourseTables(t.lessons, t.enrollments, t.submissions,
                                  cell_scores=raw_cell_scores().assign(**columns), timelines=t.timelines)


def timelines(**columns: object) -> Mutation:
    return lambda t: CourseTables(t.lessons, t.enrollments, t.submissions, cell_scores=t.cell_scores,
                                  timelines=raw_timelines().assign(**columns))


OPTIONAL_REJECTIONS = {
    "cell of an unknown attempt": (cells(attempt=["1", "3", "1"]), "cell_scores", "attempt", (1,),
                                   "is not an attempt in submissions"),
    "cell of an unknown student": (cells(student_id=["007", "007", "bob"]), "cell_scores", "attempt", (2,),
                                   "is not an attempt in submissions"),
    "duplicate cell": (cells(grade_id=["test_add", "test_add", "test_loop"]), "cell_scores", "grade_id", (0, 1),
                       "is duplicated for the same attempt and notebook"),
    "cell score above max": (cells(score=["5", "", "20"]), "cell_scores", "score", (0,), "is greater than max_score"),
    "negative cell max": (cells(max_score=["4", "-1", "20"]), "cell_scores", "max_score", (1,), "is negative"),
    "missing cell column": (lambda t: CourseTables(t.lessons, t.enrollments, t.submissions,
                                                   cell_scores=raw_cell_scores().drop(columns=["grade_id"])),
                            "cell_scores", "grade_id", (), "missing column grade_id"),
    "timeline of an unknown student": (timelines(student_id=["007", "bob"]), "timelines", "student_id", (1,),
                                       "is not a student_id in enrollments"),
    "timeline of an unknown lesson": (timelines(lesson_id=["01-basics", "99"]), "timelines", "lesson_id", (1,),
                                      "is not a lesson_id in lessons"),
    "two timelines for one lesson": (timelines(student_id=["ada", "ada"]), "timelines", "lesson_id", (0, 1),
                                     "is duplicated for the same student_id"),
    "personal target before opening": (timelines(target_at=["2026-09-06T00:00:00+00:00", "2026-09-17T00:00:00+00:00"]),
                                       "timelines", "target_at", (0,), "is before opens_at"),
    "personal due before target": (timelines(due_at=["2026-09-17T00:00:00+00:00", ""]), "timelines", "due_at", (0,),
                                   "is before target_at"),
    "timeline without a target": (timelines(target_at=["", "2026-09-17T00:00:00+00:00"]), "timelines", "target_at",
                                  (0,), "is empty"),
}


@pytest.mark.parametrize(("mutate", "table", "column", "rows", "message"), OPTIONAL_REJECTIONS.values(),
                         ids=OPTIONAL_REJECTIONS.keys())
def test_optional_table_rejections(mutate: Mutation, table: str, column: str, rows: tuple[int, ...], message: str) -> None:
    with pytest.raises(TableError) as error:
        validate_tables(mutate(with_optional()))
    assert (error.value.table, error.value.column, error.value.rows) == (table, column, rows)
    assert message in str(error.value)


def test_synthetic_course_has_personas_cells_and_optional_timelines() -> None:
    course = synthetic_course(students=60, lessons=4, seed=2, start=START)
    assert set(course.personas["persona"]) == set(PERSONAS)
    assert (course.personas["drop_after"].notna() == course.personas["persona"].eq("dropout")).all()
    assert course.tables.timelines is None
    # Scores are the sum of their cells.
    graded = course.tables.submissions.loc[course.tables.submissions["status"] == "graded"]
    sums = course.tables.cell_scores.groupby(["student_id", "lesson_id", "attempt"])["score"].sum()
    assert_series_equal(sums, graded.set_index(["student_id", "lesson_id", "attempt"])["score"].sort_index(),
                        check_names=False)
    timed = synthetic_course(students=60, lessons=4, seed=2, start=START, personal_timelines=True)
    assert len(timed.tables.timelines) == 60 * 4
    late = timed.personas.loc[timed.personas["persona"] == "late_enroller", "student_id"]
    shifted = timed.tables.timelines.merge(timed.tables.lessons, on="lesson_id", suffixes=("", "_lesson"))
    moved = shifted["target_at"] > shifted["target_at_lesson"]
    assert set(shifted.loc[moved, "student_id"]) >= set(late)
