"""paceline export without kernels: the timelines table carries each student's own dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

from analytics import TIMELINES_COLUMNS, load_tables, pacing_table
from graders.course.plan import load_course
from graders.grading.lateness import grant_extension
from graders.operations.export import export_tables
from graders.operations.status import cohort_status

UTC = dt.timezone.utc


def at(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True), dtype="datetime64[ns, UTC]")


def test_timelines_hold_personal_dates_with_extensions(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    # Berlin is UTC+2 in September: due 2026-09-20 (end of day) is 21:59:59 UTC; five more days for brook.
    grant_extension(course, student_id="brook", lesson_id="01-add", days=5, reason="ill")
    result = export_tables(course)
    assert result.rows["timelines"] == 6
    assert [path.name for path in result.files["timelines"]] == ["timelines.parquet", "timelines.csv"]

    tables = load_tables(result.directory)
    expected = pd.DataFrame({
        "student_id": pd.Series(["ada", "ada", "brook", "brook", "cyd", "cyd"], dtype="str"),
        "lesson_id": pd.Series(["01-add", "02-words"] * 3, dtype="str"),
        "opens_at": at(*["2026-09-07T07:00Z", "2026-09-14T07:00Z"] * 3),
        # The extension moves brook's target by as much as his due date.
        "target_at": at("2026-09-13T21:59:59Z", "2026-09-20T21:59:59Z", "2026-09-18T21:59:59Z",
                        "2026-09-20T21:59:59Z", "2026-09-13T21:59:59Z", "2026-09-20T21:59:59Z"),
        "due_at": at("2026-09-20T21:59:59Z", "2026-09-27T21:59:59Z", "2026-09-25T21:59:59Z",
                     "2026-09-27T21:59:59Z", "2026-09-20T21:59:59Z", "2026-09-27T21:59:59Z"),
    })
    assert_frame_equal(tables.timelines, expected)
    assert list(tables.timelines.columns) == [column.name for column in TIMELINES_COLUMNS]

    # Analytics measures brook against his own target: not missing on 09-15, when the others are.
    pacing = pacing_table(tables, as_of=dt.datetime(2026, 9, 15, tzinfo=UTC))
    first = pacing.loc[pacing["lesson_id"] == "01-add"].set_index("student_id")["status"]
    assert first.to_dict() == {"ada": "missing", "brook": "not_yet_due", "cyd": "missing"}


def test_cohort_status_uses_the_course_tables_and_at_risk_thresholds(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace("[grading]", "[at_risk]\nbehind_lessons = 1\ninactive_days = 5\n\n[grading]"))
    course = load_course(fixture_course)
    grant_extension(course, student_id="brook", lesson_id="01-add", days=5, reason="ill")
    status = cohort_status(course, as_of=dt.datetime(2026, 9, 16, tzinfo=UTC))
    # Nobody has submitted: ada and cyd are a lesson behind; brook's target moved to 09-18.
    assert status.at_risk["student_id"].tolist() == ["ada", "cyd", "brook"]
    assert status.at_risk["reasons"].tolist() == [
        # Work started when 01-add opened (09-07 07:00 UTC), for cyd when she enrolled (09-09 22:00 UTC).
        "1 lesson behind pace; no submission yet, 8 days after starting",
        "1 lesson behind pace; no submission yet, 6 days after starting",
        "no submission yet, 8 days after starting",
    ]
    assert not (fixture_course / "exports").exists()  # status writes nothing
