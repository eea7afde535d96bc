"""The optional logistic risk model: the fit, the evaluation against the rules, and a held-out cohort."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import analyse_cohort, synthetic_course
from analytics.model import FEATURES, evaluate_risk, fit_risk_model, predict_risk, training_frame

UTC = dt.timezone.utc
START = dt.datetime(2026, 9, 7, 9, tzinfo=UTC)


def features(x: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(x, columns=list(FEATURES))
    return frame.assign(student_id=[f"s{i}" for i in range(len(frame))])


def test_fit_recovers_a_known_relationship() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, len(FEATURES)))
    truth = np.zeros(len(FEATURES))
    truth[[0, 2]] = [-1.5, 0.8]  # behind pace and silence matter, nothing else does
    y = rng.random(len(x)) < 1 / (1 + np.exp(-(0.3 + x @ truth)))
    model = fit_risk_model(features(x), outcome=pd.Series(y), l2=0.0)
    # The features are standard normal already, so standardising them leaves the true coefficients.
    assert model.coef == pytest.approx(truth, abs=0.06)
    assert model.intercept == pytest.approx(0.3, abs=0.06)


def test_missing_features_are_filled_with_training_means() -> None:
    x = np.array([[1.0] * len(FEATURES), [3.0] * len(FEATURES), [np.nan] * len(FEATURES)])
    model = fit_risk_model(features(x), outcome=pd.Series([False, True, True]))
    assert model.fill == pytest.approx(np.full(len(FEATURES), 2.0))
    risk = predict_risk(model, features(np.array([[np.nan] * len(FEATURES)])))
    assert risk["risk"].iloc[0] == pytest.approx(1 / (1 + np.exp(-model.intercept)))


def test_fit_needs_both_outcomes() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        fit_risk_model(features(np.ones((3, len(FEATURES)))), outcome=pd.Series([True, True, True]))


def test_evaluation_by_hand() -> None:
    risk = pd.DataFrame({"student_id": ["a", "b", "c", "d"], "risk": [0.1, 0.4, 0.35, 0.8]})
    outcome = pd.DataFrame({"student_id": ["a", "b", "c", "d", "e"], "unfinished": [False, False, True, True, True]})
    # d and c are unfinished. AUC: of the 4 (unfinished, finished) pairs, 3 are ordered right.
    # The rules flag b and d: k = 2; the model's top 2 are d and b as well.
    expected = pd.DataFrame({
        "measure": pd.Series(["students", "unfinished (share)", "AUC", "precision at k", "recall at k"], dtype="str"),
        "model": [4.0, 0.5, 0.75, 0.5, 0.5],
        "rules": [4.0, 0.5, 0.5, 0.5, 0.5],
    })
    assert_frame_equal(evaluate_risk(risk, outcome, flagged=["b", "d"]), expected)


def test_model_trained_on_one_cohort_ranks_another() -> None:
    snapshot, end = START + dt.timedelta(days=28), START + dt.timedelta(days=8 * 7 + 21)
    train, test = (synthetic_course(students=800, lessons=8, seed=seed, start=START).tables for seed in (1, 2))
    past = training_frame(train, as_of=snapshot, outcome_as_of=end)
    held_out = training_frame(test, as_of=snapshot, outcome_as_of=end)
    model = fit_risk_model(past, outcome=past["unfinished"])
    flagged = analyse_cohort(test, as_of=snapshot).at_risk["student_id"]
    evaluation = evaluate_risk(predict_risk(model, held_out), held_out, flagged=flagged).set_index("measure")
    assert evaluation.loc["AUC", "model"] >= 0.7
    assert evaluation.loc["AUC", "model"] > evaluation.loc["AUC", "rules"]
    assert evaluation.loc["students", "model"] == len(held_out)
