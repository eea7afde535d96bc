"""Pacing, summary and cumulative tables against a tiny hand-built cohort with known answers.

The cohort, as of 2026-09-25 00:00 UTC:

- L1 (opens 09-07, target 09-14, due 09-21, 10 points), L2 (opens 09-14, target 09-21,
  no due date, 20 points), L3 (opens 09-21, target 09-28): nobody has reached L3.
- s1: L1 on time with two graded attempts (6 then 9); L2 on time, graded 12, then an
  ungraded (collected) second attempt.
- s2: L1 first submitted late (09-15, score 8), resubmitted after the due date for
  10 - 2 penalty = 8 (a tie); L2 submitted exactly at the target (on time) but
  grading failed, and a second attempt on 09-26 lies after as_of.
- s3: enrolled, never submitted.
- s4: withdrew on 09-20 after submitting L1: not in the cohort at as_of.
- s5: enrols on 09-30, after as_of: not in the cohort yet.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import (
    CourseTables,
    cohort_headline,
    cumulative_completions,
    pacing_table,
    resolve_as_of,
    student_summary,
    synthetic_tables,
    validate_tables,
)

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 9, 25, tzinfo=UTC)
NaT = None
STATUS = pd.CategoricalDtype(["on_time", "late", "missing", "not_yet_due"])


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
            "opens_at": t("2026-09-14T00:00Z", "2026-09-07T00:00Z", "2026-09-21T00:00Z"),
            "target_at": t("2026-09-21T00:00Z", "2026-09-14T00:00Z", "2026-09-28T00:00Z"),
            "due_at": t(None, "2026-09-21T00:00Z", "2026-10-05T00:00Z"),
            "max_score": [20.0, 10.0, 10.0],
        }),
        enrollments=pd.DataFrame({
            "student_id": ["s2", "s1", "s3", "s4", "s5"],
            "enrolled_at": t("2026-09-01T00:00Z", "2026-09-01T00:00Z", "2026-09-01T00:00Z", "2026-09-01T00:00Z", "2026-09-30T00:00Z"),
            "withdrawn_at": t(None, None, None, "2026-09-20T00:00Z", None),
        }),
        submissions=pd.DataFrame.from_records(
            [
                ("s1", "L1", 1, "2026-09-10T12:00Z", 6.0, 10.0, 0.0, "2026-09-11T00:00Z", "graded"),
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


def expected_pacing() -> pd.DataFrame:
    rows = [
        # student, lesson, order, submitted, first, last, open->first, vs target, status, attempts, best, max, passed
        ("s1", "L1", 1, True, "2026-09-10T12:00Z", "2026-09-12T12:00Z", 3.5, -3.5, "on_time", 2, 9.0, 10.0, True),
        ("s1", "L2", 2, True, "2026-09-20T00:00Z", "2026-09-22T00:00Z", 6.0, -1.0, "on_time", 2, 12.0, 20.0, True),
        ("s1", "L3", 3, False, NaT, NaT, np.nan, np.nan, "not_yet_due", 0, np.nan, 10.0, False),
        ("s2", "L1", 1, True, "2026-09-15T00:00Z", "2026-09-23T00:00Z", 8.0, 1.0, "late", 2, 8.0, 10.0, True),
        ("s2", "L2", 2, True, "2026-09-21T00:00Z", "2026-09-21T00:00Z", 7.0, 0.0, "on_time", 1, np.nan, 20.0, False),
        ("s2", "L3", 3, False, NaT, NaT, np.nan, np.nan, "not_yet_due", 0, np.nan, 10.0, False),
        ("s3", "L1", 1, False, NaT, NaT, np.nan, np.nan, "missing", 0, np.nan, 10.0, False),
        ("s3", "L2", 2, False, NaT, NaT, np.nan, np.nan, "missing", 0, np.nan, 20.0, False),
        ("s3", "L3", 3, False, NaT, NaT, np.nan, np.nan, "not_yet_due", 0, np.nan, 10.0, False),
    ]
    students, lessons, order, submitted, first, last, days_open, days_target, status, attempts, best, max_score, passed = zip(*rows)
    schedule = {"L1": ("2026-09-07T00:00Z", "2026-09-14T00:00Z", "2026-09-21T00:00Z"), "L2": ("2026-09-14T00:00Z", "2026-09-21T00:00Z", None),
                "L3": ("2026-09-21T00:00Z", "2026-09-28T00:00Z", "2026-10-05T00:00Z")}
    return pd.DataFrame({
        "student_id": text(*students),
        "lesson_id": text(*lessons),
        "order": np.array(order, dtype="int64"),
        "opens_at": t(*(schedule[lesson][0] for lesson in lessons)),
        "target_at": t(*(schedule[lesson][1] for lesson in lessons)),
        "due_at": t(*(schedule[lesson][2] for lesson in lessons)),
        "submitted": np.array(submitted, dtype=bool),
        "first_submitted_at": t(*first),
        "last_submitted_at": t(*last),
        "days_open_to_first": np.array(days_open, dtype=float),
        "days_vs_target": np.array(days_target, dtype=float),
        "status": pd.Categorical(status, dtype=STATUS),
        "attempts": np.array(attempts, dtype="int64"),
        "best_score": np.array(best, dtype=float),
        "max_score": np.array(max_score, dtype=float),
        "passed": np.array(passed, dtype=bool),
    })


def test_pacing_table(tables: CourseTables) -> None:
    assert_frame_equal(pacing_table(tables, as_of=AS_OF), expected_pacing())


def test_pacing_as_of_accepts_iso_text_and_other_zones(tables: CourseTables) -> None:
    berlin = pacing_table(tables, as_of="2026-09-25T02:00:00+02:00")
    assert_frame_equal(berlin, expected_pacing())


def test_pacing_rejects_naive_as_of(tables: CourseTables) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        pacing_table(tables, as_of=dt.datetime(2026, 9, 25))


def test_pass_fraction(tables: CourseTables) -> None:
    strict = pacing_table(tables, as_of=AS_OF, pass_fraction=0.9)
    assert strict["passed"].tolist() == [True, False, False, False, False, False, False, False, False]
    with pytest.raises(ValueError, match="pass_fraction"):
        pacing_table(tables, as_of=AS_OF, pass_fraction=1.5)


def test_status_at_the_target_instant_is_not_yet_missing(tables: CourseTables) -> None:
    at_target = pacing_table(tables, as_of=dt.datetime(2026, 9, 14, tzinfo=UTC))
    s3 = at_target.loc[at_target["student_id"] == "s3", "status"].tolist()
    assert s3 == ["not_yet_due", "not_yet_due", "not_yet_due"]
    just_after = pacing_table(tables, as_of=dt.datetime(2026, 9, 14, 0, 0, 1, tzinfo=UTC))
    assert just_after.loc[just_after["student_id"] == "s3", "status"].tolist()[0] == "missing"


def test_grades_given_after_as_of_do_not_count(tables: CourseTables) -> None:
    # s1's second L1 attempt (submitted 09-12 12:00) was graded on 09-13.
    before_grade = pacing_table(tables, as_of=dt.datetime(2026, 9, 12, 18, tzinfo=UTC))
    s1_l1 = before_grade.iloc[0]
    assert (s1_l1["attempts"], s1_l1["best_score"]) == (2, 6.0)


def test_withdrawn_student_is_in_the_cohort_until_withdrawal(tables: CourseTables) -> None:
    earlier = pacing_table(tables, as_of=dt.datetime(2026, 9, 19, tzinfo=UTC))
    assert sorted(earlier["student_id"].unique()) == ["s1", "s2", "s3", "s4"]
    assert "s4" not in set(pacing_table(tables, as_of=AS_OF)["student_id"])


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


def expected_summary() -> pd.DataFrame:
    return pd.DataFrame({
        "student_id": text("s1", "s2", "s3"),
        "lessons_done": np.array([2, 2, 0], dtype="int64"),
        "lessons_expected": np.array([2, 2, 2], dtype="int64"),
        "ahead_behind": np.array([0, 0, -2], dtype="int64"),
        "last_activity": t("2026-09-22T00:00Z", "2026-09-23T00:00Z", None),
        "days_since_activity": [3.0, 2.0, np.nan],
        "behind": [False, False, True],
    })


def test_student_summary(tables: CourseTables) -> None:
    summary = pacing_table(tables, as_of=AS_OF).pipe(student_summary, as_of=AS_OF)
    assert_frame_equal(summary, expected_summary())


def test_student_summary_behind_by(tables: CourseTables) -> None:
    summary = pacing_table(tables, as_of=AS_OF).pipe(student_summary, as_of=AS_OF, behind_by=3)
    assert not summary["behind"].any()


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


def test_cohort_headline(tables: CourseTables) -> None:
    pacing = pacing_table(tables, as_of=AS_OF)
    headline = cohort_headline(pacing, student_summary(pacing, as_of=AS_OF))
    expected = pd.DataFrame({
        "measure": text("students", "lessons", "lessons past target", "median lessons submitted",
                        "students behind pace", "first submissions on time (%)", "graded lessons passed (%)"),
        "value": [3.0, 3.0, 2.0, 2.0, 1.0, 75.0, 100.0],
    })
    assert_frame_equal(headline, expected)


def test_resolve_as_of(tables: CourseTables) -> None:
    assert resolve_as_of(tables) == pd.Timestamp("2026-09-26", tz="UTC")
    assert resolve_as_of(tables, as_of="2026-09-25T02:00:00+02:00") == pd.Timestamp(AS_OF)
    empty = CourseTables(tables.lessons, tables.enrollments, tables.submissions.iloc[0:0])
    assert resolve_as_of(empty, now=AS_OF) == pd.Timestamp(AS_OF)


def test_synthetic_cohort_invariants() -> None:
    tables = synthetic_tables(students=400, lessons=6, seed=3, start=dt.datetime(2026, 9, 7, 9, tzinfo=UTC))
    as_of = resolve_as_of(tables, as_of="2026-10-10T00:00:00+00:00")
    pacing = pacing_table(tables, as_of=as_of)
    summary = student_summary(pacing, as_of=as_of)
    active = tables.enrollments.loc[
        (tables.enrollments["enrolled_at"] <= as_of) & ~(tables.enrollments["withdrawn_at"] <= as_of)
    ]
    assert len(pacing) == len(active) * 6
    assert not pacing.duplicated(["student_id", "lesson_id"]).any()
    assert (pacing["submitted"] == pacing["status"].isin(["on_time", "late"])).all()
    assert (pacing["attempts"] > 0).eq(pacing["submitted"]).all()
    assert (pacing["best_score"].dropna() <= pacing.loc[pacing["best_score"].notna(), "max_score"]).all()
    assert set(pacing["status"]) == {"on_time", "late", "missing", "not_yet_due"}
    assert summary["lessons_done"].sum() == pacing["submitted"].sum()
    cumulative = cumulative_completions(pacing, tables, as_of=as_of)
    actual = cumulative.loc[cumulative["series"] == "actual", "lessons_completed"]
    assert actual.is_monotonic_increasing and actual.iloc[-1] == pacing["submitted"].sum()
