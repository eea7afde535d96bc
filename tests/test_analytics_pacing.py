"""The pacing table and cumulative completions against a tiny hand-built cohort with known answers.

The cohort, as of 2026-09-25 00:00 UTC (pass mark: half the points):

- L1 (opens 09-07, target 09-14, due 09-21, 10 points), L2 (opens 09-14, target 09-21,
  no due date, 20 points), L3 (opens 09-21, target 09-28): nobody has reached L3.
- s1: L1 on time, failed at the first attempt (4) and passed at the second (9); L2 on
  time, graded 12, then an ungraded (collected) second attempt.
- s2: L1 first submitted late (09-15, score 8), resubmitted after the due date for
  10 - 2 penalty = 8 (a tie); L2 submitted exactly at the target (on time) but
  grading failed, and a second attempt on 09-26 lies after as_of.
- s3: enrolled, never submitted.
- s4: withdrew on 09-20 after submitting L1: not in the cohort at as_of unless asked for.
- s5: enrols on 09-30, after as_of: not in the cohort yet.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import (
    PACING_COLUMNS,
    CourseTables,
    cumulative_completions,
    pacing_table,
    resolve_as_of,
    synthetic_tables,
    validate_tables,
)

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 9, 25, tzinfo=UTC)
NaT = None
STATUS = pd.CategoricalDtype(["on_time", "late", "missing", "not_yet_due"])
SCHEDULE = {"L1": ("2026-09-07T00:00Z", "2026-09-14T00:00Z", "2026-09-21T00:00Z"),
            "L2": ("2026-09-14T00:00Z", "2026-09-21T00:00Z", None),
            "L3": ("2026-09-21T00:00Z", "2026-09-28T00:00Z", "2026-10-05T00:00Z")}


def t(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype("datetime64[ns, UTC]")


def text(*values: str) -> pd.Series:
    return pd.Series(list(values), dtype="str")


@pytest.fixture
def tables() -> CourseTables:
    return validate_tables(CourseTables(
        # Out of course order on purpose: the outputs sort by `order`.
        lessons=pd.DataFrame({
            "lesson_id": ["L2", "L1", "L3"],
            "title": ["Two", "One", "Three"],
            "order": [2, 1, 3],
            "opens_at": t(SCHEDULE["L2"][0], SCHEDULE["L1"][0], SCHEDULE["L3"][0]),
            "target_at": t(SCHEDULE["L2"][1], SCHEDULE["L1"][1], SCHEDULE["L3"][1]),
            "due_at": t(SCHEDULE["L2"][2], SCHEDULE["L1"][2], SCHEDULE["L3"][2]),
            "max_score": [20.0, 10.0, 10.0],
        }),
        enrollments=pd.DataFrame({
            "student_id": ["s2", "s1", "s3", "s4", "s5"],
            "enrolled_at": t("2026-09-01T00:00Z", "2026-09-01T00:00Z", "2026-09-01T00:00Z", "2026-09-01T00:00Z", "2026-09-30T00:00Z"),
            "withdrawn_at": t(None, None, None, "2026-09-20T00:00Z", None),
        }),
        submissions=pd.DataFrame.from_records(
            [
                ("s1", "L1", 1, "2026-09-10T12:00Z", 4.0, 10.0, 0.0, "2026-09-11T00:00Z", "graded"),
                ("s1", "L1", 2, "2026-09-12T12:00Z", 9.0, 10.0, 0.0, "2026-09-13T00:00Z", "graded"),
                ("s1", "L2", 1, "2026-09-20T00:00Z", 12.0, 20.0, 0.0, "2026-09-21T00:00Z", "graded"),
                ("s1", "L2", 2, "2026-09-22T00:00Z", None, 20.0, None, None, "collected"),
                ("s2", "L1", 1, "2026-09-15T00:00Z", 8.0, 10.0, 0.0, "2026-09-16T00:00Z", "graded"),
                ("s2", "L1", 2, "2026-09-23T00:00Z", 10.0, 10.0, 2.0, "2026-09-24T00:00Z", "graded"),
                ("s2", "L2", 1, "2026-09-21T00:00Z", None, 20.0, None, None, "failed"),
                ("s2", "L2", 2, "2026-09-26T00:00Z", 20.0, 20.0, 0.0, "2026-09-27T00:00Z", "graded"),
                ("s4", "L1", 1, "2026-09-10T00:00Z", 5.0, 10.0, 0.0, "2026-09-11T00:00Z", "graded"),
            ],
            columns=["student_id", "lesson_id", "attempt", "submitted_at", "score", "max_score",
                     "late_penalty", "graded_at", "status"],
        ),
    ))


ROWS = [
    # student, lesson, submitted, first, last, open->first, vs target, procrastination, status, attempts,
    # first score, best, first passed, passed, passed at, attempts to pass, failed attempts
    ("s1", "L1", True, "2026-09-10T12:00Z", "2026-09-12T12:00Z", 3.5, -3.5, 0.5, "on_time", 2,
     4.0, 9.0, False, True, "2026-09-12T12:00Z", 2.0, 1),
    ("s1", "L2", True, "2026-09-20T00:00Z", "2026-09-22T00:00Z", 6.0, -1.0, 6 / 7, "on_time", 2,
     12.0, 12.0, True, True, "2026-09-20T00:00Z", 1.0, 0),
    ("s1", "L3", False, NaT, NaT, np.nan, np.nan, np.nan, "not_yet_due", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
    ("s2", "L1", True, "2026-09-15T00:00Z", "2026-09-23T00:00Z", 8.0, 1.0, 8 / 7, "late", 2,
     8.0, 8.0, True, True, "2026-09-15T00:00Z", 1.0, 0),
    ("s2", "L2", True, "2026-09-21T00:00Z", "2026-09-21T00:00Z", 7.0, 0.0, 1.0, "on_time", 1,
     np.nan, np.nan, False, False, NaT, np.nan, 0),
    ("s2", "L3", False, NaT, NaT, np.nan, np.nan, np.nan, "not_yet_due", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
    ("s3", "L1", False, NaT, NaT, np.nan, np.nan, np.nan, "missing", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
    ("s3", "L2", False, NaT, NaT, np.nan, np.nan, np.nan, "missing", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
    ("s3", "L3", False, NaT, NaT, np.nan, np.nan, np.nan, "not_yet_due", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
]
MAX_SCORE = {"L1": 10.0, "L2": 20.0, "L3": 10.0}


def expected_pacing(rows: list[tuple] = ROWS, *, withdrawn: dict[str, str] | None = None,
                    schedule: dict[tuple[str, str], tuple[str, str, str | None]] | None = None) -> pd.DataFrame:
    """The pacing table for ``rows``; ``schedule`` overrides (student, lesson) dates like a timeline would."""
    (students, lessons, submitted, first, last, days_open, days_target, procrastination, status, attempts,
     first_score, best, first_passed, passed, passed_at, to_pass, failed) = zip(*rows)
    withdrawn = withdrawn or {}
    dates = [(schedule or {}).get((student, lesson), SCHEDULE[lesson]) for student, lesson in zip(students, lessons)]
    return pd.DataFrame({
        "student_id": text(*students),
        "lesson_id": text(*lessons),
        "order": np.array([int(lesson[1]) for lesson in lessons], dtype="int64"),
        "enrolled_at": t(*["2026-09-01T00:00Z"] * len(rows)),
        "withdrawn_at": t(*(withdrawn.get(student) for student in students)),
        "opens_at": t(*(date[0] for date in dates)),
        "target_at": t(*(date[1] for date in dates)),
        "due_at": t(*(date[2] for date in dates)),
        "submitted": np.array(submitted, dtype=bool),
        "first_submitted_at": t(*first),
        "last_submitted_at": t(*last),
        "days_open_to_first": np.array(days_open, dtype=float),
        "days_vs_target": np.array(days_target, dtype=float),
        "procrastination": np.array(procrastination, dtype=float),
        "status": pd.Categorical(status, dtype=STATUS),
        "attempts": np.array(attempts, dtype="int64"),
        "first_score": np.array(first_score, dtype=float),
        "best_score": np.array(best, dtype=float),
        "max_score": np.array([MAX_SCORE[lesson] for lesson in lessons], dtype=float),
        "first_passed": np.array(first_passed, dtype=bool),
        "passed": np.array(passed, dtype=bool),
        "passed_at": t(*passed_at),
        "attempts_to_pass": np.array(to_pass, dtype=float),
        "failed_attempts": np.array(failed, dtype="int64"),
    })


def test_pacing_table(tables: CourseTables) -> None:
    assert_frame_equal(pacing_table(tables, as_of=AS_OF), expected_pacing())


def test_pacing_columns_are_documented(tables: CourseTables) -> None:
    pacing = pacing_table(tables, as_of=AS_OF)
    assert list(pacing.columns) == [column.name for column in PACING_COLUMNS]
    assert "(f - r) / (d - r)" in (pacing_table.__doc__ or "")


def test_pacing_as_of_accepts_iso_text_and_other_zones(tables: CourseTables) -> None:
    berlin = pacing_table(tables, as_of="2026-09-25T02:00:00+02:00")
    assert_frame_equal(berlin, expected_pacing())


def test_pacing_rejects_naive_as_of(tables: CourseTables) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        pacing_table(tables, as_of=dt.datetime(2026, 9, 25))


def test_pass_fraction(tables: CourseTables) -> None:
    strict = pacing_table(tables, as_of=AS_OF, pass_fraction=0.9)
    assert strict["passed"].tolist() == [True, False, False, False, False, False, False, False, False]
    assert strict["failed_attempts"].tolist() == [1, 1, 0, 2, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="pass_fraction"):
        pacing_table(tables, as_of=AS_OF, pass_fraction=1.5)


def test_status_at_the_target_instant_is_not_yet_missing(tables: CourseTables) -> None:
    at_target = pacing_table(tables, as_of=dt.datetime(2026, 9, 14, tzinfo=UTC))
    s3 = at_target.loc[at_target["student_id"] == "s3", "status"].tolist()
    assert s3 == ["not_yet_due", "not_yet_due", "not_yet_due"]
    just_after = pacing_table(tables, as_of=dt.datetime(2026, 9, 14, 0, 0, 1, tzinfo=UTC))
    assert just_after.loc[just_after["student_id"] == "s3", "status"].tolist()[0] == "missing"


def test_grades_count_for_work_submitted_by_as_of_whenever_given(tables: CourseTables) -> None:
    # s1's second L1 attempt (submitted 09-12 12:00) was graded on 09-13; batch grading or a regrade
    # a month later must not change what the work submitted by 09-12 18:00 achieved.
    regraded = tables.submissions.assign(graded_at=pd.Timestamp("2026-10-20T00:00Z"))
    for subs in (tables.submissions, regraded):
        replay = pacing_table(CourseTables(tables.lessons, tables.enrollments, subs),
                              as_of=dt.datetime(2026, 9, 12, 18, tzinfo=UTC))
        s1_l1 = replay.iloc[0]
        assert (s1_l1["attempts"], s1_l1["best_score"], s1_l1["passed"], s1_l1["failed_attempts"]) == (2, 9.0, True, 1)
        assert s1_l1["attempts_to_pass"] == 2.0


def test_withdrawn_student_is_in_the_cohort_until_withdrawal(tables: CourseTables) -> None:
    earlier = pacing_table(tables, as_of=dt.datetime(2026, 9, 19, tzinfo=UTC))
    assert sorted(earlier["student_id"].unique()) == ["s1", "s2", "s3", "s4"]
    assert earlier["withdrawn_at"].isna().all()  # not withdrawn yet at that instant
    assert "s4" not in set(pacing_table(tables, as_of=AS_OF)["student_id"])


def test_include_withdrawn_measures_them_as_of_their_withdrawal(tables: CourseTables) -> None:
    pacing = pacing_table(tables, as_of=AS_OF, include_withdrawn=True)
    s4 = [
        # L2's target (09-21) is after s4 left (09-20): not missing, just never due for them.
        ("s4", "L1", True, "2026-09-10T00:00Z", "2026-09-10T00:00Z", 3.0, -4.0, 3 / 7, "on_time", 1,
         5.0, 5.0, True, True, "2026-09-10T00:00Z", 1.0, 0),
        ("s4", "L2", False, NaT, NaT, np.nan, np.nan, np.nan, "not_yet_due", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
        ("s4", "L3", False, NaT, NaT, np.nan, np.nan, np.nan, "not_yet_due", 0, np.nan, np.nan, False, False, NaT, np.nan, 0),
    ]
    assert_frame_equal(pacing, expected_pacing(ROWS + s4, withdrawn={"s4": "2026-09-20T00:00Z"}))


def test_extensions_in_timelines_change_the_target(tables: CourseTables) -> None:
    timelines = pd.DataFrame({
        "student_id": ["s2", "s3", "s5"],
        "lesson_id": ["L1", "L1", "L1"],
        "opens_at": t("2026-09-07T00:00Z", "2026-09-10T00:00Z", "2026-09-30T00:00Z"),
        # s2 got a two-day extension on L1; s3 started late and works to a later timeline.
        "target_at": t("2026-09-16T00:00Z", "2026-09-26T00:00Z", "2026-10-06T00:00Z"),
        "due_at": t("2026-09-23T00:00Z", None, None),
    })
    extended = validate_tables(CourseTables(tables.lessons, tables.enrollments, tables.submissions, timelines=timelines))
    rows = list(ROWS)
    # s2's L1 (first submitted 09-15) is now on time, 1 day early, at 8/9 of the way from opening to target.
    rows[3] = rows[3][:5] + (8.0, -1.0, 8 / 9, "on_time") + rows[3][9:]
    # s3's L1 target has not come: not missing any more.
    rows[6] = rows[6][:8] + ("not_yet_due",) + rows[6][9:]
    schedule = {("s2", "L1"): ("2026-09-07T00:00Z", "2026-09-16T00:00Z", "2026-09-23T00:00Z"),
                ("s3", "L1"): ("2026-09-10T00:00Z", "2026-09-26T00:00Z", None)}
    assert_frame_equal(pacing_table(extended, as_of=AS_OF), expected_pacing(rows, schedule=schedule))


def test_procrastination_is_undefined_when_target_equals_opening(tables: CourseTables) -> None:
    lessons = tables.lessons.assign(target_at=tables.lessons["opens_at"])
    same = validate_tables(CourseTables(lessons.assign(due_at=None), tables.enrollments, tables.submissions))
    assert pacing_table(same, as_of=AS_OF)["procrastination"].isna().all()


def test_no_submissions_and_no_students(tables: CourseTables) -> None:
    no_submissions = CourseTables(tables.lessons, tables.enrollments, tables.submissions.iloc[0:0])
    pacing = pacing_table(no_submissions, as_of=AS_OF)
    expected = expected_pacing().loc[lambda frame: frame["student_id"] == "s3"]
    assert_frame_equal(
        pacing.loc[pacing["student_id"] == "s1"].reset_index(drop=True),
        expected.reset_index(drop=True).assign(student_id=text("s1", "s1", "s1")),
    )
    empty = CourseTables(tables.lessons, tables.enrollments.iloc[0:0], tables.submissions.iloc[0:0])
    assert_frame_equal(pacing_table(empty, as_of=AS_OF), expected_pacing().iloc[0:0])


def test_cumulative_completions(tables: CourseTables) -> None:
    pacing = pacing_table(tables, as_of=AS_OF)
    plan_days = pd.date_range("2026-09-07", "2026-09-28", freq="D", tz="UTC")
    actual_days = pd.date_range("2026-09-07", "2026-09-25", freq="D", tz="UTC")
    # Three students x lessons whose target day has come: L1 on 09-14, L2 on 09-21, L3 on 09-28.
    plan = [0] * 7 + [3] * 7 + [6] * 7 + [9]
    # First submissions: s1 L1 09-10, s2 L1 09-15, s1 L2 09-20, s2 L2 09-21.
    actual = [0] * 3 + [1] * 5 + [2] * 5 + [3] + [4] * 5
    expected = pd.DataFrame({
        "date": pd.Series(plan_days.append(actual_days)).astype("datetime64[ns, UTC]"),
        "series": pd.Categorical(["plan"] * len(plan) + ["actual"] * len(actual), categories=["plan", "actual"]),
        "lessons_completed": np.array(plan + actual, dtype="int64"),
    })
    assert_frame_equal(cumulative_completions(pacing, tables, as_of=AS_OF), expected)
    # Without as_of the actual series ends on the day of the last first submission.
    assert cumulative_completions(pacing, tables)["date"].iloc[-1] == pd.Timestamp("2026-09-21", tz="UTC")


def test_cumulative_plan_follows_personal_targets(tables: CourseTables) -> None:
    timelines = pd.DataFrame({"student_id": ["s3"], "lesson_id": ["L1"], "opens_at": t("2026-09-07T00:00Z"),
                              "target_at": t("2026-09-17T00:00Z"), "due_at": t(None)})
    shifted = validate_tables(CourseTables(tables.lessons, tables.enrollments, tables.submissions, timelines=timelines))
    plan = cumulative_completions(pacing_table(shifted, as_of=AS_OF), shifted, as_of=AS_OF).query("series == 'plan'")
    by_day = dict(zip(plan["date"].dt.strftime("%m-%d"), plan["lessons_completed"]))
    assert (by_day["09-14"], by_day["09-16"], by_day["09-17"]) == (2, 2, 3)


def test_resolve_as_of(tables: CourseTables) -> None:
    assert resolve_as_of(tables) == pd.Timestamp("2026-09-26", tz="UTC")
    assert resolve_as_of(tables, as_of="2026-09-25T02:00:00+02:00") == pd.Timestamp(AS_OF)
    empty = CourseTables(tables.lessons, tables.enrollments, tables.submissions.iloc[0:0])
    assert resolve_as_of(empty, now=AS_OF) == pd.Timestamp(AS_OF)


def test_synthetic_cohort_invariants() -> None:
    tables = synthetic_tables(students=400, lessons=6, seed=3, start=dt.datetime(2026, 9, 7, 9, tzinfo=UTC))
    as_of = resolve_as_of(tables, as_of="2026-10-10T00:00:00+00:00")
    pacing = pacing_table(tables, as_of=as_of)
    active = tables.enrollments.loc[
        (tables.enrollments["enrolled_at"] <= as_of) & ~(tables.enrollments["withdrawn_at"] <= as_of)
    ]
    assert len(pacing) == len(active) * 6
    assert not pacing.duplicated(["student_id", "lesson_id"]).any()
    assert (pacing["submitted"] == pacing["status"].isin(["on_time", "late"])).all()
    assert (pacing["attempts"] > 0).eq(pacing["submitted"]).all()
    assert (pacing["best_score"].dropna() <= pacing.loc[pacing["best_score"].notna(), "max_score"]).all()
    assert set(pacing["status"]) == {"on_time", "late", "missing", "not_yet_due"}
    assert (pacing["passed"] == pacing["passed_at"].notna()).all()
    assert (pacing["attempts_to_pass"].dropna() <= pacing.loc[pacing["passed"], "attempts"]).all()
    assert (pacing["first_passed"] <= pacing["passed"]).all()
    cumulative = cumulative_completions(pacing, tables, as_of=as_of)
    actual = cumulative.loc[cumulative["series"] == "actual", "lessons_completed"]
    assert actual.is_monotonic_increasing and actual.iloc[-1] == pacing["submitted"].sum()
