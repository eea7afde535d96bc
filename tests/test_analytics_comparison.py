"""The risk model next to the rules: past cohorts seen at the same point of their course, leave one out."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from analytics import (
    AnalyticsError,
    AtRiskRules,
    CourseTables,
    analyse_cohort,
    risk_features,
    synthetic_course,
    validate_tables,
)
from analytics.comparison import compare_with_rules, course_end, course_start
from analytics.model import evaluate_risk, fit_risk_model, predict_risk, training_frame

UTC = dt.timezone.utc
START = dt.datetime(2026, 9, 7, 9, tzinfo=UTC)
AS_OF = START + dt.timedelta(days=25, hours=3)
PAST_STARTS = {"2025": dt.datetime(2025, 9, 8, 9, tzinfo=UTC), "2026-spring": dt.datetime(2026, 2, 2, 8, tzinfo=UTC),
               "2024": dt.datetime(2024, 9, 9, 10, tzinfo=UTC)}
RULES = AtRiskRules(inactive_days=10)


def cohort(seed: int, start: dt.datetime, *, timelines: bool = False) -> CourseTables:
    return synthetic_course(students=250, lessons=6, seed=seed, start=start, personal_timelines=timelines).tables


def seen(start: dt.datetime) -> pd.Timestamp:
    """Where a cohort that started at ``start`` is as far into its course as the current one is at AS_OF."""
    return pd.Timestamp(start) + pd.Timedelta(days=25, hours=3)


def past_frame(past: dict[str, CourseTables], name: str) -> pd.DataFrame:
    start = PAST_STARTS[name]
    return training_frame(past[name], as_of=seen(start), outcome_as_of=pd.Timestamp(start) + pd.Timedelta(days=48),
                          rules=RULES)


@pytest.fixture(scope="module")
def past() -> dict[str, CourseTables]:
    return {name: cohort(seed, start) for seed, (name, start) in enumerate(PAST_STARTS.items(), start=31)}


@pytest.fixture(scope="module")
def current() -> CourseTables:
    return cohort(30, START)


def test_start_and_end_of_a_course() -> None:
    tables = cohort(1, START)
    # Lessons open weekly, targets 6 days later, due 14 days after the target; the last lesson has no due date.
    assert course_start(tables) == pd.Timestamp(START)
    assert course_end(tables) == pd.Timestamp(START) + pd.Timedelta(days=4 * 7 + 6 + 14)
    shuffled = CourseTables(tables.lessons.iloc[::-1], tables.enrollments, tables.submissions)
    assert course_start(shuffled) == pd.Timestamp(START)
    # Personal timelines shifted to a late enrolment end later than the course's own dates.
    with_timelines = cohort(1, START, timelines=True)
    latest = with_timelines.timelines["due_at"].fillna(with_timelines.timelines["target_at"]).max()
    assert latest > pd.Timestamp(START) + pd.Timedelta(days=48)
    assert course_end(with_timelines) == latest


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_past_cohorts_is_an_error(current: CourseTables, past: dict[str, CourseTables],
                                                 count: int) -> None:
    chosen = dict(list(past.items())[:count])
    with pytest.raises(AnalyticsError, match=f"at least 2 past cohorts, one to evaluate it on and one to fit it on; "
                                             f"got {count}"):
        compare_with_rules(current, chosen, as_of=AS_OF)


def test_each_past_cohort_is_held_out_at_the_same_point_of_its_course(current: CourseTables,
                                                                     past: dict[str, CourseTables]) -> None:
    comparison = compare_with_rules(current, past, as_of=AS_OF, rules=RULES)
    assert comparison.days_after_start == pytest.approx(25 + 3 / 24)
    expected = []
    for name, start in PAST_STARTS.items():
        snapshot, end = seen(start), pd.Timestamp(start) + pd.Timedelta(days=48)
        training = pd.concat([past_frame(past, other) for other in PAST_STARTS if other != name], ignore_index=True)
        held_out = past_frame(past, name)
        model = fit_risk_model(training, outcome=training["unfinished"])
        flagged = analyse_cohort(past[name], as_of=snapshot, rules=RULES).at_risk["student_id"]
        evaluation = evaluate_risk(predict_risk(model, held_out), held_out, flagged=flagged)
        expected.append(evaluation.assign(cohort=name, snapshot_at=snapshot, outcome_at=end))
    times = "datetime64[ns, UTC]"
    expected_frame = (pd.concat(expected, ignore_index=True)[list(comparison.evaluation.columns)]
                      .astype({"cohort": "str", "snapshot_at": times, "outcome_at": times}))
    assert_frame_equal(comparison.evaluation, expected_frame)
    # The synthetic strugglers and dropouts are there to be found: the model should beat a coin.
    auc = comparison.evaluation.loc[comparison.evaluation["measure"] == "AUC", "model"]
    assert (auc > 0.6).all()


def test_current_cohort_scored_by_the_model_fitted_on_every_past_cohort(current: CourseTables,
                                                                       past: dict[str, CourseTables]) -> None:
    comparison = compare_with_rules(current, past, as_of=AS_OF, rules=RULES)
    training = pd.concat([past_frame(past, name) for name in PAST_STARTS], ignore_index=True)
    model = fit_risk_model(training, outcome=training["unfinished"])
    analysis = analyse_cohort(current, as_of=AS_OF, rules=RULES)
    risk = predict_risk(model, risk_features(analysis.pacing, analysis.students)).set_index("student_id")["risk"]
    scores = comparison.scores
    assert_series_equal(scores.set_index("student_id")["risk"], risk.loc[scores["student_id"]])
    assert scores["model_rank"].tolist() == list(range(1, len(risk) + 1))
    assert np.all(np.diff(scores["risk"].to_numpy()) <= 0)
    listed = analysis.at_risk.set_index("student_id")["rank"]
    assert set(scores.loc[scores["flagged"], "student_id"]) == set(listed.index)
    flagged = scores.loc[scores["flagged"]].set_index("student_id")["rules_rank"]
    assert (flagged == listed.loc[flagged.index]).all()
    assert scores.loc[~scores["flagged"], "rules_rank"].isna().all()


def test_past_cohorts_where_everyone_finished_cannot_fit_a_model(current: CourseTables) -> None:
    def finished_by_all(start: dt.datetime) -> CourseTables:
        at = lambda *days: pd.Series([pd.Timestamp(start) + pd.Timedelta(days=d) for d in days])  # noqa: E731
        return validate_tables(CourseTables(
            lessons=pd.DataFrame({"lesson_id": ["L1"], "title": ["One"], "order": [1], "opens_at": at(0),
                                  "target_at": at(6), "due_at": at(10), "max_score": [2.0]}),
            enrollments=pd.DataFrame({"student_id": ["a", "b"], "enrolled_at": at(-1, -1),
                                      "withdrawn_at": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns, UTC]")}),
            submissions=pd.DataFrame({"student_id": ["a", "b"], "lesson_id": "L1", "attempt": 1,
                                      "submitted_at": at(2, 5), "score": 2.0, "max_score": 2.0, "late_penalty": 0.0,
                                      "graded_at": at(2.1, 5.1), "status": "graded"}),
        ))

    past = {"x": finished_by_all(PAST_STARTS["2025"]), "y": finished_by_all(PAST_STARTS["2024"])}
    with pytest.raises(AnalyticsError, match=r"past cohort\(s\) y: every student finished, and the model needs both"):
        compare_with_rules(current, past, as_of=AS_OF)
