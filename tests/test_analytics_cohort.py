"""Student, lesson, persistence and at-risk metrics on one hand-built cohort with known answers.

Lessons (all times 00:00 UTC, 10 points each, pass mark 5): A opens 09-01, target 09-08,
due 09-15; B opens 09-08, target 09-15, due 09-22; C opens 09-15, target 09-22, no due
date. The course ends 09-22 (the latest due date or target). As of 09-20:

- ann (enrolled 08-30) did A 09-03, B 09-10, C 09-17, all passing: finished.
- bob (08-30) failed A on 09-07 (2 points), passed it on 09-08 (6), then went quiet.
- cy (09-01) never submitted: inactive since 09-15.
- dee (08-30) passed A on 09-05 and withdrew on 09-12.
- eve enrolled late (09-10) and passed A on 09-12 (late) and B on 09-14.
- gus (08-30) failed A twice, on 09-06 (1 point) and 09-07 (3).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from analytics import (
    AtRiskRules,
    CourseTables,
    RulesError,
    UnknownIdError,
    analyse_cohort,
    at_risk_list,
    attempt_distribution,
    cell_pass_rates,
    cohort_headline,
    cohort_status,
    completion_funnel,
    kaplan_meier,
    lesson_metrics,
    pacing_table,
    persistence_times,
    risk_reasons,
    student_metrics,
    student_status,
    validate_tables,
)

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 9, 20, tzinfo=UTC)
NaN = np.nan


def t(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime([f"2026-{v}:00Z" if v else None for v in values], utc=True,
                                    format="ISO8601")).astype("datetime64[ns, UTC]")


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


@pytest.fixture
def tables() -> CourseTables:
    subs = [
        ("ann", "A", 1, "09-03T00", 10.0), ("ann", "B", 1, "09-10T00", 8.0), ("ann", "C", 1, "09-17T00", 10.0),
        ("bob", "A", 1, "09-07T00", 2.0), ("bob", "A", 2, "09-08T00", 6.0),
        ("dee", "A", 1, "09-05T00", 10.0),
        ("eve", "A", 1, "09-12T00", 10.0), ("eve", "B", 1, "09-14T00", 10.0),
        ("gus", "A", 1, "09-06T00", 1.0), ("gus", "A", 2, "09-07T00", 3.0),
    ]
    cells = [
        ("ann", "A", 1, "t1", 4.0, 4.0), ("ann", "A", 1, "t2", 6.0, 6.0), ("ann", "A", 1, "essay", None, 2.0),
        ("bob", "A", 1, "t1", 2.0, 4.0), ("bob", "A", 1, "t2", 0.0, 6.0),
        ("bob", "A", 2, "t1", 0.0, 4.0), ("bob", "A", 2, "t2", 6.0, 6.0),
        ("gus", "A", 1, "t1", 1.0, 4.0), ("gus", "A", 1, "t2", 0.0, 6.0),
        ("gus", "A", 2, "t1", 3.0, 4.0), ("gus", "A", 2, "t2", 0.0, 6.0),
        ("dee", "A", 1, "t1", 4.0, 4.0), ("dee", "A", 1, "t2", 6.0, 6.0),
        ("eve", "A", 1, "t1", 4.0, 4.0), ("eve", "A", 1, "t2", 6.0, 6.0),
        ("eve", "B", 1, "t3", 10.0, 10.0),
    ]
    student, lesson, attempt, at, score = zip(*subs)
    submitted = t(*at)
    return validate_tables(CourseTables(
        lessons=pd.DataFrame({
            "lesson_id": ["A", "B", "C"], "title": ["Alpha", "Beta", "Gamma"], "order": [1, 2, 3],
            "opens_at": t("09-01T00", "09-08T00", "09-15T00"),
            "target_at": t("09-08T00", "09-15T00", "09-22T00"),
            "due_at": t("09-15T00", "09-22T00", None),
            "max_score": [10.0, 10.0, 10.0],
        }),
        enrollments=pd.DataFrame({
            "student_id": ["ann", "bob", "cy", "dee", "eve", "gus"],
            "enrolled_at": t("08-30T00", "08-30T00", "09-01T00", "08-30T00", "09-10T00", "08-30T00"),
            "withdrawn_at": t(None, None, None, "09-12T00", None, None),
        }),
        submissions=pd.DataFrame({
            "student_id": student, "lesson_id": lesson, "attempt": attempt, "submitted_at": submitted,
            "score": score, "max_score": 10.0, "late_penalty": 0.0,
            "graded_at": submitted + pd.Timedelta(hours=6), "status": "graded",
        }),
        cell_scores=pd.DataFrame.from_records(
            [(s, lesson_id, a, "nb", grade, score, top) for s, lesson_id, a, grade, score, top in cells],
            columns=["student_id", "lesson_id", "attempt", "notebook", "grade_id", "score", "max_score"]),
    ))


@pytest.fixture
def pacing(tables: CourseTables) -> pd.DataFrame:
    return pacing_table(tables, as_of=AS_OF, include_withdrawn=True)


@pytest.fixture
def students(tables: CourseTables, pacing: pd.DataFrame) -> pd.DataFrame:
    return pacing.pipe(student_metrics, tables.submissions, as_of=AS_OF)


def test_student_metrics(students: pd.DataFrame) -> None:
    ids = ["ann", "bob", "cy", "dee", "eve", "gus"]
    expected = pd.DataFrame({
        "student_id": text(*ids),
        "enrolled_at": t("08-30T00", "08-30T00", "09-01T00", "08-30T00", "09-10T00", "08-30T00"),
        "withdrawn_at": t(None, None, None, "09-12T00", None, None),
        "first_opens_at": t(*["09-01T00"] * 6),
        "started_at": t("09-01T00", "09-01T00", "09-01T00", "09-01T00", "09-10T00", "09-01T00"),
        "lessons": np.full(6, 3, dtype="int64"),
        "lessons_submitted": np.array([3, 1, 0, 1, 2, 1], dtype="int64"),
        "lessons_passed": np.array([3, 1, 0, 1, 2, 0], dtype="int64"),
        # dee is measured at her withdrawal (09-12): only A's target had passed.
        "lessons_expected": np.array([2, 2, 2, 1, 2, 2], dtype="int64"),
        "pace_gap": np.array([1, -1, -2, 0, 0, -2], dtype="int64"),
        "next_lesson_id": text(None, "B", "A", "B", "C", "A"),
        "days_behind": [0.0, 5.0, 12.0, 0.0, 0.0, 12.0],
        "furthest_order": np.array([3, 1, 0, 1, 2, 1], dtype="int64"),
        # The target of the lesson after the furthest one submitted: ann has none left.
        "next_target_at": t(None, "09-15T00", "09-08T00", "09-15T00", "09-22T00", "09-15T00"),
        "last_activity": t("09-17T00", "09-08T00", None, "09-05T00", "09-14T00", "09-07T00"),
        "days_silent": [3.0, 12.0, 19.0, 7.0, 6.0, 13.0],
        "finished_at": t("09-17T00", None, None, None, None, None),
        # cy: quiet since her start (09-01) + 14 days; bob and gus are not silent for 14 days yet.
        "inactive_days": [14.0] * 6,
        "inactive_since": t(None, None, "09-15T00", None, None, None),
        "label": pd.Categorical(["finished", "behind", "inactive", "withdrawn", "on_track", "behind"],
                                categories=["finished", "on_track", "behind", "inactive", "withdrawn"]),
        # 48 h before the target, both ends included: gus's A at 09-06 00:00 is in, for a target 09-08 00:00.
        "cramming_share": [0.0, 1.0, NaN, 0.0, 0.5, 1.0],
        # Percentiles (rank - 0.5) / n of the procrastination index on A (n = 5), B (n = 2), C (n = 1).
        "relative_timing": [(0.1 + 0.25 + 0.5) / 3, 0.7, NaN, 0.3, (0.9 + 0.75) / 2, 0.5],
        "active_week_share": [1.0, 2 / 3, 0.0, 0.5, 0.5, 1 / 3],
        "gap_cv": [0.0, NaN, NaN, NaN, NaN, NaN],
        # bob: busy 19 days for 1 pass + B in progress: p = 9.5; B by the cutoff (09-20), C 9.5 days later.
        # dee: busy 8 days, p = 4: B at her cutoff 09-12, C 4 days after it opens (09-15).
        # eve: busy 9 days, p = 3: C (open since 09-15) at the cutoff.
        "projected_finish": t("09-17T00", "09-29T12", None, "09-19T00", "09-20T00", None),
        "course_end": t(*["09-22T00"] * 6),
        "projected_late": [False, True, False, False, False, False],
    })
    assert_frame_equal(students, expected)


def test_relative_timing_ties_share_their_rank(tables: CourseTables) -> None:
    # dee submits A at the same instant as bob: both procrastination 6/7, ranks 3 and 4 -> 3.5 each.
    subs = tables.submissions.copy()
    subs.loc[subs["student_id"] == "dee", ["submitted_at", "graded_at"]] = t("09-07T00", "09-07T06").to_numpy()
    tied = CourseTables(tables.lessons, tables.enrollments, subs)
    pacing = pacing_table(tied, as_of=AS_OF, include_withdrawn=True)
    timing = student_metrics(pacing, subs, as_of=AS_OF).set_index("student_id")["relative_timing"]
    assert timing["bob"] == timing["dee"] == pytest.approx(0.6)


def test_student_with_no_submissions_and_empty_cohort(tables: CourseTables) -> None:
    none = CourseTables(tables.lessons, tables.enrollments, tables.submissions.iloc[0:0])
    students = student_metrics(pacing_table(none, as_of=AS_OF), none.submissions, as_of=AS_OF)
    assert (students["lessons_submitted"] == 0).all() and students["projected_finish"].isna().all()
    # Silent since their start: 09-01 for most (inactive), 09-10 for eve (only 10 days: behind).
    assert students["label"].tolist() == ["inactive", "inactive", "inactive", "behind", "inactive"]
    nobody = pacing_table(CourseTables(tables.lessons, tables.enrollments.iloc[0:0], none.submissions), as_of=AS_OF)
    assert student_metrics(nobody, none.submissions, as_of=AS_OF).empty


def test_student_metrics_options(pacing: pd.DataFrame, tables: CourseTables) -> None:
    strict = student_metrics(pacing, tables.submissions, as_of=AS_OF, inactive_days=5.0, behind_by=2, cram_hours=24.0)
    assert strict["label"].tolist() == ["finished", "inactive", "inactive", "withdrawn", "inactive", "inactive"]
    assert strict["cramming_share"].tolist()[:2] == [0.0, 1.0]  # bob's A (09-07): exactly 24 h before target
    assert strict["cramming_share"].tolist()[5] == 0.0  # gus's A (09-06): 48 h before
    with pytest.raises(ValueError, match="inactive_days"):
        student_metrics(pacing, tables.submissions, as_of=AS_OF, inactive_days=0)
    # A threshold past a century is refused by name, not left to overflow pandas' clock.
    with pytest.raises(RulesError, match=r"^at_risk.inactive_days: must be above 0 and at most 36,500, not 1e\+20$"):
        student_metrics(pacing, tables.submissions, as_of=AS_OF, inactive_days=1e20)


def test_lesson_metrics(pacing: pd.DataFrame) -> None:
    expected = pd.DataFrame({
        "lesson_id": text("A", "B", "C"),
        "order": np.array([1, 2, 3], dtype="int64"),
        "students": np.array([6, 6, 6], dtype="int64"),
        "submitted": np.array([5, 2, 1], dtype="int64"),
        "on_time": np.array([4, 2, 1], dtype="int64"),
        "late": np.array([1, 0, 0], dtype="int64"),
        "missing": np.array([1, 3, 0], dtype="int64"),  # dee left before B's target: not missing
        "median_days_vs_target": [-2.0, -3.0, -5.0],
        "median_procrastination": [5 / 7, 4 / 7, 2 / 7],
        "mean_attempts": [1.4, 1.0, 1.0],
        "first_attempt_pass_rate": [0.6, 1.0, 1.0],
        "pass_rate": [0.8, 1.0, 1.0],
        "median_score_share": [1.0, 0.9, 1.0],
        "median_attempts_to_pass": [1.0, 1.0, 1.0],
    })
    assert_frame_equal(lesson_metrics(pacing), expected)


def test_completion_funnel_and_a_lesson_nobody_reached(students: pd.DataFrame, tables: CourseTables) -> None:
    extra = pd.concat([tables.lessons, tables.lessons.iloc[[2]].assign(lesson_id="D", order=4)], ignore_index=True)
    expected = pd.DataFrame({
        "lesson_id": text("A", "B", "C", "D"),
        "order": np.array([1, 2, 3, 4], dtype="int64"),
        "students": np.full(4, 6, dtype="int64"),
        "reached": np.array([5, 2, 1, 0], dtype="int64"),
        "share_reached": [5 / 6, 2 / 6, 1 / 6, 0.0],
        # cy stopped before A; dee (withdrawn) after A; nobody has stopped after B or C.
        "stopped": np.array([1, 1, 0, 0], dtype="int64"),
        "still_working": np.array([0, 2, 1, 1], dtype="int64"),
        "hazard": [1 / 6, 1 / 3, 0.0, NaN],
    })
    assert_frame_equal(completion_funnel(students, lessons=extra, as_of=AS_OF), expected)


def test_attempt_distribution(pacing: pd.DataFrame) -> None:
    expected = pd.DataFrame({
        "lesson_id": text("A", "A", "B", "C"),
        "order": np.array([1, 1, 2, 3], dtype="int64"),
        "attempts": np.array([1, 2, 1, 1], dtype="int64"),
        "students": np.array([3, 2, 2, 1], dtype="int64"),
        "share": [0.6, 0.4, 1.0, 1.0],
    })
    assert_frame_equal(attempt_distribution(pacing), expected)
    assert attempt_distribution(pacing.iloc[0:0]).empty


def test_cell_pass_rates_hardest_first(tables: CourseTables) -> None:
    expected = pd.DataFrame({
        "lesson_id": text("A", "A", "B"),
        "notebook": text("nb", "nb", "nb"),
        "grade_id": text("t1", "t2", "t3"),
        "max_score": [4.0, 6.0, 10.0],
        "attempts": np.array([7, 7, 1], dtype="int64"),
        "pass_rate": [3 / 7, 4 / 7, 1.0],
        "first_attempts": np.array([5, 5, 1], dtype="int64"),
        "first_attempt_pass_rate": [0.6, 0.6, 1.0],
        "mean_score_share": [18 / 28, 24 / 42, 1.0],
    })
    assert_frame_equal(cell_pass_rates(tables, as_of=AS_OF), expected)  # the ungraded essay does not count
    # On 09-06 12:00 only ann's, dee's and gus's first attempts at A were in.
    early = cell_pass_rates(tables, as_of=dt.datetime(2026, 9, 6, 12, tzinfo=UTC))
    assert early["attempts"].tolist() == [3, 3] and early["grade_id"].tolist() == ["t1", "t2"]
    no_cells = CourseTables(tables.lessons, tables.enrollments, tables.submissions)
    assert cell_pass_rates(no_cells, as_of=AS_OF).empty


def test_persistence_times(students: pd.DataFrame) -> None:
    expected = pd.DataFrame({
        "student_id": text("ann", "bob", "cy", "dee", "eve", "gus"),
        "duration_days": [18.0, 21.0, 14.0, 13.0, 10.0, 21.0],
        "entry_days": [0.0] * 6,
        "stopped": [False, False, True, True, False, False],
        "ending": pd.Categorical(["finished", "active", "inactive", "withdrawn", "active", "active"],
                                 categories=["inactive", "withdrawn", "finished", "active"]),
    })
    assert_frame_equal(persistence_times(students, as_of=AS_OF), expected)


def test_persistence_curve_of_the_cohort(students: pd.DataFrame) -> None:
    curve = kaplan_meier(persistence_times(students, as_of=AS_OF))
    assert curve["days"].tolist() == [0.0, 10.0, 13.0, 14.0, 18.0, 21.0]
    assert curve["at_risk"].tolist() == [6, 6, 5, 4, 3, 2]
    assert curve["survival"].tolist() == pytest.approx([1, 1, 0.8, 0.6, 0.6, 0.6])


def test_risk_reasons_with_default_rules(pacing: pd.DataFrame, students: pd.DataFrame) -> None:
    expected = pd.DataFrame({
        "student_id": text("bob", "cy", "cy", "gus", "gus"),
        "rule": pd.Categorical(["projected_late", "behind", "inactive", "behind", "failing"],
                               categories=["behind", "inactive", "failing", "first_tries", "projected_late"]),
        "lesson_id": text(None, None, None, None, "A"),
        "value": [7.5, 2.0, 19.0, 2.0, 2.0],
        "reason": text("projected finish 2026-09-29, 8 days after the course end (2026-09-22)",
                       "2 lessons behind pace", "no submission yet, 19 days after starting",
                       "2 lessons behind pace", "failed lesson A twice"),
    })
    assert_frame_equal(risk_reasons(pacing, students, rules=AtRiskRules()), expected)


def test_risk_thresholds_change_who_is_listed(pacing: pd.DataFrame, students: pd.DataFrame) -> None:
    rules = AtRiskRules(behind_lessons=1, inactive_days=30, failed_attempts=3, first_try_share=0.5,
                        first_try_min_lessons=1, projected_late=False)
    reasons = risk_reasons(pacing, students, rules=rules)
    assert reasons[["student_id", "rule"]].astype(str).values.tolist() == [
        ["bob", "behind"], ["bob", "first_tries"], ["cy", "behind"], ["gus", "behind"], ["gus", "first_tries"]]
    assert reasons["reason"].tolist()[1] == "passed 0 of 1 graded lessons on the first attempt"
    assert reasons["reason"].tolist()[0] == "1 lesson behind pace"


def test_at_risk_list_is_ranked(pacing: pd.DataFrame, students: pd.DataFrame) -> None:
    at_risk = at_risk_list(risk_reasons(pacing, students, rules=AtRiskRules()), students)
    # Two reasons each for cy and gus: cy and gus are equally far behind, cy has been silent longer.
    assert at_risk["student_id"].tolist() == ["cy", "gus", "bob"]
    assert at_risk["rank"].tolist() == [1, 2, 3]
    assert at_risk["reasons"].tolist()[0] == "2 lessons behind pace; no submission yet, 19 days after starting"
    assert at_risk["reason_count"].tolist() == [2, 2, 1]
    assert_series_equal(at_risk["label"], pd.Series(["inactive", "behind", "behind"], name="label",
                                                    dtype=students["label"].dtype))
    empty = at_risk_list(risk_reasons(pacing, students, rules=AtRiskRules()).iloc[0:0], students)
    assert empty.empty and list(empty.columns) == list(at_risk.columns)


def test_metrics_do_not_depend_on_remembered_codes_or_row_order(tables: CourseTables, pacing: pd.DataFrame,
                                                                 students: pd.DataFrame) -> None:
    """The fast paths (ids matched through the codes the pacing table and the student metrics remember,
    rows taken as already in order) give what plain tables in another order give."""
    rules = AtRiskRules(behind_lessons=1, first_try_share=0.5, first_try_min_lessons=1)
    reasons = risk_reasons(pacing, students, rules=rules)
    at_risk = at_risk_list(reasons, students)
    # Rebuilt from Python objects, nothing remembers their codes; shuffled rows.
    plain_pacing = pd.DataFrame(pacing.to_dict("list")).astype(pacing.dtypes.to_dict()).sample(frac=1, random_state=2)
    plain_students = student_metrics(plain_pacing, tables.submissions, as_of=AS_OF)
    assert_frame_equal(plain_students, students)
    shuffled_students = pd.DataFrame(students.to_dict("list")).astype(students.dtypes.to_dict()).iloc[::-1]
    plain_reasons = risk_reasons(plain_pacing, shuffled_students, rules=rules)
    assert_frame_equal(plain_reasons, reasons)
    unremembered = pd.DataFrame(reasons.to_dict("list")).astype(reasons.dtypes.to_dict())
    assert_frame_equal(at_risk_list(unremembered, shuffled_students), at_risk)


def test_analyse_cohort_and_headline(tables: CourseTables) -> None:
    analysis = analyse_cohort(tables, as_of=AS_OF, rules=AtRiskRules())
    assert_frame_equal(analysis.students, student_metrics(analysis.pacing, tables.submissions, as_of=AS_OF))
    headline = cohort_headline(analysis)
    assert dict(zip(headline["measure"], headline["value"])) == pytest.approx({
        "students enrolled": 5, "finished (every lesson passed)": 1, "on track": 1, "behind pace, active": 2,
        "inactive (lessons left, silent for tau days)": 1, "withdrawn": 1, "at risk": 3,
        "lessons": 3, "lessons past target": 2, "median lessons passed": 1,
        "first submissions on time (%)": 87.5,
        # bob's A (1 day early), eve's B (1 day) and gus's A (exactly 48 h) of the 8 first submissions;
        # per student: ann 0, bob 1, dee 0, eve 1/2, gus 1 (cy submitted nothing) -> mean 0.5.
        "first submissions crammed, per submission (% in the 48 h before target)": 37.5,
        "lessons crammed, mean per student (%)": 50.0,
        "first attempts passed (%)": 75.0, "pass mark (% of a lesson's points)": 50.0,
        "median days before stopping, since enrolment": NaN, "attempts without a grade": 0,
        "submissions after withdrawal (left out)": 0, "students who submitted after withdrawing": 0}, nan_ok=True)
    subs = tables.submissions.copy()
    subs.loc[[0, 3], "status"] = ["collected", "failed"]
    subs.loc[[0, 3], ["score", "late_penalty", "graded_at"]] = np.nan
    assert analyse_cohort(CourseTables(tables.lessons, tables.enrollments, subs), as_of=AS_OF).ungraded == 2


def test_cohort_status(tables: CourseTables) -> None:
    status = cohort_status(tables, as_of=AS_OF, limit=2)
    assert status.as_of == pd.Timestamp(AS_OF)
    assert status.lessons["title"].tolist() == ["Alpha", "Beta", "Gamma"]
    assert status.lessons["pass_rate"].tolist() == [0.8, 1.0, 1.0]
    assert status.at_risk["student_id"].tolist() == ["cy", "gus"]
    # Without as_of: the latest submission (ann's C, 09-17).
    assert cohort_status(tables).as_of == pd.Timestamp("2026-09-17", tz="UTC")


def test_student_status_shows_only_that_student(tables: CourseTables) -> None:
    status = student_status(tables, "bob", as_of=AS_OF)
    assert status.lessons["lesson_id"].tolist() == ["A", "B", "C"]
    assert status.lessons["status"].astype(str).tolist() == ["on_time", "missing", "not_yet_due"]
    assert status.attempts[["lesson_id", "attempt", "score"]].values.tolist() == [["A", 1, 2.0], ["A", 2, 6.0]]
    assert status.reasons["rule"].astype(str).tolist() == ["projected_late"]
    summary = dict(zip(status.summary["measure"], status.summary["value"]))
    assert summary["status"] == "behind" and summary["pace"] == "1 lesson behind" and summary["lessons passed"] == "1 of 3"
    shown = " ".join(frame.astype(str).to_csv() for frame in (status.summary, status.lessons, status.attempts, status.reasons))
    assert not any(other in shown for other in ("ann", "cy", "dee", "eve", "gus"))


def test_student_status_unknown_or_not_yet_enrolled(tables: CourseTables) -> None:
    with pytest.raises(UnknownIdError, match="unknown student 'zed'"):
        student_status(tables, "zed", as_of=AS_OF)
    with pytest.raises(UnknownIdError, match="enrols 2026-09-10"):
        student_status(tables, "eve", as_of=dt.datetime(2026, 9, 5, tzinfo=UTC))


def test_no_projected_late_after_the_course_end(tables: CourseTables) -> None:
    # On 09-25 the course (end 09-22) is over: bob is still unfinished, but that is no longer a forecast.
    after = dt.datetime(2026, 9, 25, tzinfo=UTC)
    students = student_metrics(pacing_table(tables, as_of=after), tables.submissions, as_of=after).set_index("student_id")
    assert students.at["bob", "projected_finish"] > students.at["bob", "course_end"]
    assert not students["projected_late"].any()
