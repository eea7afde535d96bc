"""Numbers that mean what they say, on a generated log shaped like a distance-learning module's export.

Two cohorts (presentations) count time in days from their own start (2013J:
2013-10-01, 2014B: 2014-02-01); three assessments open on days 0, 30 and 65
with targets 30, 65 and 128 (four to nine weeks apart), one attempt each,
100 points, pass mark 50. Registrations come up to 200 days before the start,
one is missing; withdrawals have dates, but one student's withdrawal has none
(the log cannot cut what it cannot date); one student submits after
withdrawing; one student id recurs in both cohorts. Day by day:

2013J  a1  registered -120; TMA1 day 25 (80), TMA2 day 60 (70), TMA3 day 120 (90): finishes on day 120
       a2  no registration date; TMA1 day 28 (60); withdrew on an unknown date
       a3  registered -30; TMA1 day 20 (30), TMA2 day 64 (55); withdrew day 70; TMA3 day 100 (70) after it
       a4  registered -10; TMA1 day 5 (90), then silence
       a5  registered day 10 (after the start); TMA1 day 29 (50), TMA2 day 66 (40)
       a6  registered -5; TMA1 day 10, TMA2 day 40, TMA3 day 90 (100 each); withdrew day 95, after finishing
2014B  a2  registered -60; TMA1 day 29 (75), TMA2 day 64 (65), TMA3 day 127 (55)
       b2  registered -200; withdrew day -5, before the start
       b3  registered -20; TMA1 day 30 (45)

Each cohort is seen on its own course day 100 (``course_day``), and after the
course end (day 130).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import (
    AtRiskRules,
    CourseTables,
    RulesError,
    TableError,
    analyse_cohorts,
    cohort_headline,
    cohort_table,
    compare_headlines,
    compare_with_rules,
    kaplan_meier,
    load_tables,
    persistence_times,
    split_cohorts,
    student_metrics,
    write_tables,
)

UTC = dt.timezone.utc
STARTS = {"2013J": dt.datetime(2013, 10, 1, tzinfo=UTC), "2014B": dt.datetime(2014, 2, 1, tzinfo=UTC)}
NaN = np.nan
GAP_RULES = AtRiskRules(inactive_gap_multiple=1.5)

SUBMISSIONS = [  # cohort, student, lesson, day, score
    ("2013J", "a1", "TMA1", 25, 80), ("2013J", "a1", "TMA2", 60, 70), ("2013J", "a1", "TMA3", 120, 90),
    ("2013J", "a2", "TMA1", 28, 60),
    ("2013J", "a3", "TMA1", 20, 30), ("2013J", "a3", "TMA2", 64, 55), ("2013J", "a3", "TMA3", 100, 70),
    ("2013J", "a4", "TMA1", 5, 90),
    ("2013J", "a5", "TMA1", 29, 50), ("2013J", "a5", "TMA2", 66, 40),
    ("2013J", "a6", "TMA1", 10, 100), ("2013J", "a6", "TMA2", 40, 100), ("2013J", "a6", "TMA3", 90, 100),
    ("2014B", "a2", "TMA1", 29, 75), ("2014B", "a2", "TMA2", 64, 65), ("2014B", "a2", "TMA3", 127, 55),
    ("2014B", "b3", "TMA1", 30, 45),
]
ENROLLMENTS = [  # cohort, student, registered (day), withdrew (day)
    ("2013J", "a1", -120, None), ("2013J", "a2", None, None), ("2013J", "a3", -30, 70), ("2013J", "a4", -10, None),
    ("2013J", "a5", 10, None), ("2013J", "a6", -5, 95),
    ("2014B", "a2", -60, None), ("2014B", "b2", -200, -5), ("2014B", "b3", -20, None),
]


def day(cohort: str, *days: float | None) -> pd.Series:
    """Course days of a cohort as UTC times (None = NaT)."""
    start = pd.Timestamp(STARTS[cohort])
    return pd.Series([start + pd.Timedelta(days=d) if d is not None else pd.NaT for d in days],
                     dtype="datetime64[ns, UTC]")


def days(*pairs: tuple[str, float | None]) -> pd.Series:
    return pd.concat([day(cohort, offset) for cohort, offset in pairs], ignore_index=True)


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def write_log(folder: Path) -> Path:
    """The log as an analyst would export it: CSV, times as day offsets from each cohort's start."""
    lessons = pd.DataFrame({
        "cohort": ["2013J"] * 3 + ["2014B"] * 3, "lesson_id": ["TMA1", "TMA2", "TMA3"] * 2,
        "title": ["Assignment 1", "Assignment 2", "Assignment 3"] * 2, "order": [1, 2, 3] * 2,
        "opens_at": [0, 30, 65] * 2, "target_at": [30, 65, 128] * 2, "due_at": [None] * 6, "max_score": 100.0,
    })
    cohort, student, registered, withdrew = zip(*ENROLLMENTS)
    enrollments = pd.DataFrame({"cohort": cohort, "student_id": student, "enrolled_at": registered,
                                "withdrawn_at": withdrew})
    cohort, student, lesson, when, score = zip(*SUBMISSIONS)
    submissions = pd.DataFrame({"cohort": cohort, "student_id": student, "lesson_id": lesson, "attempt": 1,
                                "submitted_at": when, "score": score, "max_score": 100.0, "late_penalty": 0.0,
                                "graded_at": [d + 1 for d in when], "status": "graded"})
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("lessons", lessons), ("enrollments", enrollments), ("submissions", submissions)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> CourseTables:
    return load_tables(write_log(tmp_path_factory.mktemp("log")), course_start=STARTS)


def test_day_offsets_per_cohort_and_a_missing_registration(tables: CourseTables) -> None:
    assert tables.cohorts == ("2013J", "2014B")
    enrolled = tables.enrollments.set_index(["cohort", "student_id"])["enrolled_at"]
    # a2 of 2013J has no registration date: the course start (day 0) is the earliest thing known.
    assert enrolled[("2013J", "a2")] == pd.Timestamp("2013-10-01", tz="UTC")
    assert enrolled[("2014B", "b2")] == pd.Timestamp("2013-07-16", tz="UTC")  # 200 days before 2014-02-01
    parts = split_cohorts(tables)
    assert list(parts) == ["2013J", "2014B"] and "cohort" not in parts["2014B"].submissions.columns
    assert parts["2014B"].submissions["student_id"].tolist() == ["a2", "a2", "a2", "b3"]


def student_columns(analysis) -> pd.DataFrame:
    return analysis.pooled.students[["cohort", "student_id", "label", "pace_gap", "furthest_order", "next_target_at",
                                     "inactive_days", "inactive_since"]]


def test_inactivity_relative_to_the_rhythm_of_targets(tables: CourseTables) -> None:
    fixed = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS)
    rhythm = analyse_cohorts(tables, course_day=100, rules=GAP_RULES, starts=STARTS)
    ids = [("2013J", s) for s in ("a1", "a2", "a3", "a4", "a5", "a6")] + [("2014B", s) for s in ("a2", "b2", "b3")]
    common = {
        "cohort": text(*[c for c, _ in ids]), "student_id": text(*[s for _, s in ids]),
        # a3 is measured at her withdrawal (day 70): both targets by then, one passed; b2 left before any target.
        "pace_gap": np.array([0, -1, -1, -1, -1, 1, 0, 0, -2], dtype="int64"),
        "furthest_order": np.array([2, 1, 2, 1, 2, 3, 2, 0, 1], dtype="int64"),
        "next_target_at": days(("2013J", 128), ("2013J", 65), ("2013J", 128), ("2013J", 65), ("2013J", 128),
                               ("2013J", None), ("2014B", 128), ("2014B", 30), ("2014B", 65)),
    }
    labels = pd.CategoricalDtype(["finished", "on_track", "behind", "inactive", "withdrawn"])
    # 14 days: everyone quiet for two weeks is inactive, although a1 and 2014B's a2 handed in TMA2 before its
    # target and TMA3 is not due until day 128. a6 finished before withdrawing: finished.
    expected_fixed = pd.DataFrame(common | {
        "label": pd.Categorical(["inactive", "inactive", "withdrawn", "inactive", "inactive", "finished", "inactive",
                                 "withdrawn", "inactive"], dtype=labels),
        "inactive_days": [14.0] * 9,
        "inactive_since": days(("2013J", 74), ("2013J", 42), ("2013J", None), ("2013J", 19), ("2013J", 80),
                               ("2013J", None), ("2014B", 78), ("2014B", None), ("2014B", 44)),
    })
    # 1.5 x the gap between the targets around each student's last submission (or start):
    # a1: 60 lies between targets 30 and 65 -> 1.5 x 35; a2 (2013J): 28 between the start (0) and 30 -> 1.5 x 30;
    # a4: 5 -> 1.5 x 30; a5: 66 between 65 and 128 -> 1.5 x 63; 2014B's a2: 64 -> 1.5 x 35; b3: 30 (its target
    # passed) between 30 and 65 -> 1.5 x 35. Withdrawn and finished students keep theirs, unused.
    expected_rhythm = pd.DataFrame(common | {
        "label": pd.Categorical(["on_track", "inactive", "withdrawn", "inactive", "behind", "finished", "on_track",
                                 "withdrawn", "inactive"], dtype=labels),
        "inactive_days": [52.5, 45.0, 52.5, 45.0, 94.5, 94.5, 52.5, 45.0, 52.5],
        "inactive_since": days(("2013J", None), ("2013J", 73), ("2013J", None), ("2013J", 50), ("2013J", None),
                               ("2013J", None), ("2014B", None), ("2014B", None), ("2014B", 82.5)),
    })
    assert_frame_equal(student_columns(fixed), expected_fixed[student_columns(fixed).columns])
    assert_frame_equal(student_columns(rhythm), expected_rhythm[student_columns(rhythm).columns])


def test_finishers_are_censored_and_never_at_risk(tables: CourseTables) -> None:
    analysis = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(first_try_min_lessons=1,
                                                                          first_try_share=1.0), starts=STARTS)
    # With first_try_share 1, a finisher who failed a first try would be flagged: a6 passed all, so check a
    # finisher is never listed whatever the rules say.
    assert "a6" not in analysis.cohorts["2013J"].at_risk["student_id"].tolist()
    durations = analysis.cohorts["2013J"].durations
    # a6 withdrew on day 95, after finishing on day 90: censored at the finish, not a stop.
    a6 = durations.loc[durations["student_id"] == "a6"].iloc[0]
    assert (a6["ending"], bool(a6["stopped"]), a6["duration_days"]) == ("finished", False, 95.0)


def test_persistence_since_the_course_start_with_late_entry(tables: CourseTables) -> None:
    analysis = analyse_cohorts(tables, course_day=100, rules=GAP_RULES, starts=STARTS)
    students = analysis.cohorts["2013J"].students
    as_of = analysis.cohorts["2013J"].as_of
    expected = pd.DataFrame({
        "student_id": text("a1", "a2", "a3", "a4", "a5", "a6"),
        # Since the course start (day 0): registrations months before it no longer count; a5 registered on
        # day 10 and enters the curve then.
        "duration_days": [100.0, 73.0, 70.0, 50.0, 100.0, 90.0],
        "entry_days": [0.0, 0.0, 0.0, 0.0, 10.0, 0.0],
        "stopped": [False, True, True, True, False, False],
        "ending": pd.Categorical(["active", "inactive", "withdrawn", "inactive", "active", "finished"],
                                 categories=["inactive", "withdrawn", "finished", "active"]),
    })
    assert_frame_equal(persistence_times(students, as_of=as_of, since="course_start"), expected)
    since_enrolment = persistence_times(students, as_of=as_of)
    assert since_enrolment["duration_days"].tolist() == [220.0, 73.0, 100.0, 60.0, 90.0, 95.0]
    curve = kaplan_meier(expected)
    # At day 50 all six are at risk (a5 entered on day 10); a4 stops: 5/6. At 70, 5 at risk, a3 stops: 4/6.
    # At 73, a2: 3/6. The finisher and the active are censored.
    assert curve["days"].tolist() == [0.0, 50.0, 70.0, 73.0, 90.0, 100.0]
    assert curve["at_risk"].tolist() == [5, 6, 5, 4, 3, 2]
    assert curve["survival"].tolist() == pytest.approx([1.0, 5 / 6, 4 / 6, 3 / 6, 3 / 6, 3 / 6])


def test_funnel_counts_a_stop_only_once_the_next_target_passed(tables: CourseTables) -> None:
    analysis = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS)
    expected = pd.DataFrame({
        "lesson_id": text("TMA1", "TMA2", "TMA3"),
        "order": np.array([1, 2, 3], dtype="int64"),
        "students": np.full(3, 6, dtype="int64"),
        "reached": np.array([6, 4, 1], dtype="int64"),
        "share_reached": [1.0, 4 / 6, 1 / 6],
        # TMA2: a2 and a4 went quiet after TMA1 and TMA2's target (day 65) has passed: stopped.
        # TMA3: a3 withdrew (stopped); a1 and a5 are quiet but TMA3 is due on day 128: not stopped yet.
        "stopped": np.array([0, 2, 1], dtype="int64"),
        "still_working": np.array([0, 0, 2], dtype="int64"),
        "hazard": [0.0, 2 / 6, 1 / 2],
    })
    assert_frame_equal(analysis.cohorts["2013J"].funnel, expected)
    pooled = analysis.pooled.funnel  # 2014B adds b2 (withdrew before TMA1), b3 (stopped at TMA2), a2 (quiet)
    assert pooled["stopped"].tolist() == [1, 3, 1] and pooled["reached"].tolist() == [8, 5, 1]
    assert pooled["students"].tolist() == [9, 9, 9]


def test_submissions_after_withdrawal_are_counted(tables: CourseTables) -> None:
    analysis = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS)
    expected = pd.DataFrame({
        "cohort": text("2013J"), "student_id": text("a3"), "withdrawn_at": day("2013J", 70),
        "submissions": np.array([1], dtype="int64"), "lessons": np.array([1], dtype="int64"),
        "first_submitted_at": day("2013J", 100), "last_submitted_at": day("2013J", 100),
    })
    assert_frame_equal(analysis.pooled.after_withdrawal, expected)
    # ... and left out of every metric: a3's TMA3 is not submitted as far as pacing is concerned.
    pacing = analysis.cohorts["2013J"].pacing.set_index(["student_id", "lesson_id"])
    assert not pacing.at[("a3", "TMA3"), "submitted"]
    headline = dict(zip(*cohort_headline(analysis.cohorts["2013J"]).T.to_numpy()))
    assert headline["submissions after withdrawal (left out)"] == 1
    assert headline["students who submitted after withdrawing"] == 1


def test_cramming_per_student_and_per_submission(tables: CourseTables) -> None:
    analysis = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS)
    students = analysis.cohorts["2013J"].students
    # In the 48 h before the target: a2's TMA1 (day 28, exactly 48 h), a3's TMA2 (64), a5's TMA1 (29).
    assert students["cramming_share"].tolist() == [0.0, 1.0, 0.5, 0.0, 0.5, 0.0]
    headline = dict(zip(*cohort_headline(analysis.cohorts["2013J"]).T.to_numpy()))
    assert headline["first submissions crammed, per submission (% in the 48 h before target)"] == round(100 * 3 / 11, 1)
    assert headline["lessons crammed, mean per student (%)"] == round(100 * 2 / 6, 1)


def test_after_the_course_end_the_analysis_says_so(tables: CourseTables) -> None:
    during = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS)
    after = analyse_cohorts(tables, course_day=130, rules=AtRiskRules(), starts=STARTS)
    assert during.cohorts["2013J"].course_ended is None and during.pooled.course_ended is None
    assert after.cohorts["2013J"].course_ended == day("2013J", 128).iloc[0]
    assert after.pooled.course_ended == day("2014B", 128).iloc[0]
    # a1 finished on day 120: censored there; every other non-withdrawn 2013J student has stopped.
    durations = after.cohorts["2013J"].durations.set_index("student_id")
    assert durations["ending"].astype(str).to_dict() == {
        "a1": "finished", "a2": "inactive", "a3": "withdrawn", "a4": "inactive", "a5": "inactive", "a6": "finished"}


def test_cohorts_side_by_side(tables: CourseTables) -> None:
    analysis = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS)
    lessons = cohort_table(analysis, "lessons")
    tma1 = lessons.loc[lessons["lesson_id"] == "TMA1"].set_index("cohort")
    # TMA1's median first submission vs its target: 2013J days 25, 28, 20, 5, 29, 10 -> -7.5; 2014B 29, 30 -> -0.5.
    assert tma1["median_days_vs_target"].to_dict() == {"2013J": -7.5, "2014B": -0.5}
    assert tma1["pass_rate"].to_dict() == {"2013J": 5 / 6, "2014B": 0.5}
    wide = compare_headlines(analysis)
    assert list(wide.columns) == ["measure", "2013J", "2014B", "all cohorts"]
    enrolled = wide.set_index("measure").loc["students enrolled"]
    assert enrolled.tolist() == [5.0, 2.0, 7.0]  # a3 and b2 withdrew; a6 finished first, so she counts


def test_compare_with_rules_takes_past_cohorts_from_the_same_tables(tables: CourseTables) -> None:
    with pytest.raises(Exception, match="at least 2 past cohorts"):
        compare_with_rules(tables, cohort="2014B", as_of=STARTS["2014B"] + dt.timedelta(days=100))
    with pytest.raises(Exception, match=r"no cohort 'nope'"):
        compare_with_rules(tables, cohort="nope", as_of=STARTS["2014B"])


def test_out_of_range_thresholds_are_clear_errors(tables: CourseTables) -> None:
    part = split_cohorts(tables)["2013J"]
    analysis = analyse_cohorts(tables, course_day=100, rules=AtRiskRules(), starts=STARTS).cohorts["2013J"]
    for option, value in (("inactive_days", 1e300), ("inactive_gap_multiple", 1e9), ("inactive_days", float("nan"))):
        with pytest.raises(RulesError, match=rf"^at_risk.{option}: must be above 0 and at most"):
            student_metrics(analysis.pacing, part.submissions, as_of=analysis.as_of, **{option: value})


def test_one_unparseable_day_offset_is_reported_alone(tmp_path: Path) -> None:
    folder = write_log(tmp_path)
    subs = pd.read_csv(folder / "submissions.csv", dtype=str)
    subs.loc[6, "submitted_at"] = "day 100"
    subs.to_csv(folder / "submissions.csv", index=False)
    with pytest.raises(TableError) as error:
        load_tables(folder, course_start=STARTS)
    assert str(error.value) == ("submissions.submitted_at: row 6 (CSV line 8), student a3: 'day 100' is not a number "
                                "of days (the column holds day offsets)")
    assert error.value.rows == (6,)


def test_validator_names_row_line_student_and_the_other_value(tmp_path: Path) -> None:
    folder = write_log(tmp_path)
    subs = pd.read_csv(folder / "submissions.csv", dtype=str)
    subs.loc[7, "submitted_at"] = "-45"  # a4 registered on day -10
    subs.to_csv(folder / "submissions.csv", index=False)
    with pytest.raises(TableError) as error:
        load_tables(folder, course_start=STARTS)
    assert str(error.value) == ("submissions.submitted_at: row 7 (CSV line 9), student a4: 2013-08-17 is before their "
                                "enrolled_at 2013-09-21")


def test_cohort_rules_of_the_tables(tmp_path: Path) -> None:
    folder = write_log(tmp_path)
    subs = pd.read_csv(folder / "submissions.csv", dtype=str).drop(columns="cohort")
    subs.to_csv(folder / "submissions.csv", index=False)
    with pytest.raises(TableError, match=r"^submissions: missing column cohort \(enrollments has one"):
        load_tables(folder, course_start=STARTS)
    with pytest.raises(TableError, match=r"^lessons.cohort: row 3 \(CSV line 5\): '2014B' has no course_start"):
        load_tables(write_log(tmp_path / "again"), course_start={"2013J": STARTS["2013J"]})
    # A student id in two cohorts is two enrolments; twice in one cohort is a duplicate.
    enrollments = pd.read_csv(tmp_path / "again" / "enrollments.csv", dtype=str)
    enrollments.loc[8, "student_id"] = "b2"
    enrollments.to_csv(tmp_path / "again" / "enrollments.csv", index=False)
    with pytest.raises(TableError, match=r"^enrollments.student_id: row 7 \(CSV line 9\): 'b2' is duplicated within "
                                         r"its cohort; row 8"):
        load_tables(tmp_path / "again", course_start=STARTS)


def test_written_tables_round_trip_with_cohorts(tables: CourseTables, tmp_path: Path) -> None:
    write_tables(tables, tmp_path)
    again = load_tables(tmp_path)
    assert_frame_equal(again.submissions, tables.submissions)
    assert list(again.enrollments.columns) == ["cohort", "student_id", "enrolled_at", "withdrawn_at"]
