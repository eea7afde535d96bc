"""An optional statistical at-risk score, fitted on past cohorts; the rules in :mod:`analytics.risk` stay the default.

A penalised logistic regression on a few per-student measures, fitted in
numpy (Newton's method on standardised features), so it needs no further
dependency. Train on past cohorts, where the outcome is known, then score
the current one, and compare with the rules before trusting it::

    past = pd.concat([training_frame(t, as_of=snapshot, outcome_as_of=end) for t, snapshot, end in history])
    model = fit_risk_model(past, outcome=past["unfinished"])
    scores = predict_risk(model, risk_features(analysis.pacing, analysis.students))
    evaluate_risk(scores, outcome, flagged=analysis.at_risk["student_id"])   # on a held-out cohort
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cohort import analyse_cohort
from .columns import document, typed
from .risk import AtRiskRules
from .tables import FLOAT, STR, Column, CourseTables

FEATURES = ("pace_gap", "days_behind", "days_silent", "first_try_share", "failed_attempts", "cramming_share",
            "relative_timing", "active_week_share")

FEATURE_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (enrolled, not withdrawn, at as_of)."),
    Column("pace_gap", FLOAT, "lessons_passed - lessons_expected (student_metrics)."),
    Column("days_behind", FLOAT, "Days past the target of the next lesson not passed (student_metrics)."),
    Column("days_silent", FLOAT, "Days since the last submission or the start (student_metrics)."),
    Column("first_try_share", FLOAT, "first_passed / lessons with a graded first attempt; NaN if none."),
    Column("failed_attempts", FLOAT, "Graded attempts below the pass mark, over all lessons."),
    Column("cramming_share", FLOAT, "As in student_metrics; NaN if nothing submitted."),
    Column("relative_timing", FLOAT, "As in student_metrics; NaN if nothing submitted."),
    Column("active_week_share", FLOAT, "As in student_metrics."),
)

RISK_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (the rows of the features table, same order)."),
    Column("risk", FLOAT, "Modelled probability of not finishing: 1 / (1 + exp(-(b0 + b . z))), z the "
           "standardised features with missing values filled by the training means."),
)

EVALUATION_COLUMNS: tuple[Column, ...] = (
    Column("measure", STR, "'students', 'unfinished (share)', 'AUC', 'precision at k', 'recall at k', with k = "
           "the number of students the rules flag."),
    Column("model", FLOAT, "The measure for the model's risk (top k by risk for the 'at k' measures)."),
    Column("rules", FLOAT, "The measure for the rules' flag (AUC of a yes/no score: (TPR + TNR) / 2)."),
)


@dataclass(frozen=True)
class RiskModel:
    """A fitted logistic regression: ``risk = sigmoid(intercept + coef . (x - mean) / scale)``."""

    features: tuple[str, ...]
    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float


def risk_features(pacing: pd.DataFrame, students: pd.DataFrame) -> pd.DataFrame:
    """Model inputs per enrolled student, from a pacing table and its student metrics."""
    per_student = pacing.assign(
        known=pacing["first_score"].notna(), first=pacing["first_passed"] & pacing["first_score"].notna(),
    ).groupby("student_id")[["known", "first", "failed_attempts"]].sum()
    enrolled = students.loc[students["label"] != "withdrawn"].join(per_student, on="student_id")
    features = enrolled.assign(first_try_share=enrolled["first"] / enrolled["known"].where(enrolled["known"] > 0))
    return typed(features, FEATURE_COLUMNS)


def training_frame(tables: CourseTables, *, as_of: dt.datetime | str, outcome_as_of: dt.datetime | str,
                   rules: AtRiskRules = AtRiskRules()) -> pd.DataFrame:
    """A past cohort's features at ``as_of`` with the outcome known at ``outcome_as_of``: the columns of
    :data:`FEATURE_COLUMNS` plus ``unfinished`` (bool: not every lesson passed by ``outcome_as_of``,
    withdrawn students included)."""
    now = analyse_cohort(tables, as_of=as_of, rules=rules)
    later = analyse_cohort(tables, as_of=outcome_as_of, rules=rules).students
    unfinished = later.set_index("student_id")["finished_at"].isna()
    features = risk_features(now.pacing, now.students)
    return features.assign(unfinished=features["student_id"].map(unfinished).fillna(True).astype(bool))


def fit_risk_model(features: pd.DataFrame, *, outcome: pd.Series, l2: float = 1.0, iterations: int = 50) -> RiskModel:
    """Fit on rows of :func:`risk_features` (or :func:`training_frame`) and a boolean ``outcome`` per row.

    Minimises the logistic loss plus ``l2`` / 2 x |coef|^2 (the intercept is
    not penalised) by Newton's method on standardised features.
    """
    x = features[list(FEATURES)].to_numpy(dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    if len(x) != len(y) or len(y) == 0 or y.min() == y.max():
        raise ValueError("need as many outcomes as rows, and both outcomes among them")
    fill = np.nan_to_num(np.nanmean(np.where(np.isnan(x), np.nan, x), axis=0))
    x = np.where(np.isnan(x), fill, x)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    design = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    penalty = np.diag(np.r_[0.0, np.full(len(FEATURES), l2)])
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (p - y) + penalty @ beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return RiskModel(features=FEATURES, fill=fill, mean=mean, scale=scale, coef=beta[1:], intercept=float(beta[0]))


def predict_risk(model: RiskModel, features: pd.DataFrame) -> pd.DataFrame:
    """The modelled risk of each row of :func:`risk_features`."""
    x = features[list(model.features)].to_numpy(dtype=np.float64)
    z = (np.where(np.isnan(x), model.fill, x) - model.mean) / model.scale
    risk = 1 / (1 + np.exp(-(model.intercept + z @ model.coef)))
    return typed(pd.DataFrame({"student_id": features["student_id"].to_numpy(), "risk": risk}), RISK_COLUMNS)


def evaluate_risk(risk: pd.DataFrame, outcome: pd.DataFrame, *, flagged: Collection[str]) -> pd.DataFrame:
    """Compare the model with the rules on a cohort whose outcome is known.

    ``risk`` is :func:`predict_risk` output, ``outcome`` has ``student_id`` and
    a boolean ``unfinished`` (as :func:`training_frame` gives), ``flagged`` the
    students the rules list. Students in ``risk`` without an outcome are left out.
    """
    scored = risk.merge(outcome[["student_id", "unfinished"]], on="student_id", how="inner")
    truth = scored["unfinished"].to_numpy(dtype=bool)
    by_rules = scored["student_id"].isin(set(flagged)).to_numpy()
    k = int(by_rules.sum())
    top = np.zeros(len(scored), dtype=bool)
    top[np.argsort(-scored["risk"].to_numpy(), kind="stable")[:k]] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = {
            "students": (len(scored), len(scored)),
            "unfinished (share)": (truth.mean(), truth.mean()),
            "AUC": (_auc(scored["risk"].to_numpy(), truth), _auc(by_rules.astype(float), truth)),
            "precision at k": ((top & truth).sum() / k, (by_rules & truth).sum() / k) if k else (np.nan, np.nan),
            "recall at k": ((top & truth).sum() / truth.sum(), (by_rules & truth).sum() / truth.sum()),
        }
    table = pd.DataFrame({"measure": list(rows), "model": [v[0] for v in rows.values()],
                          "rules": [v[1] for v in rows.values()]})
    return typed(table, EVALUATION_COLUMNS)


def _auc(score: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney U) formula; ties count half."""
    positives, negatives = truth.sum(), (~truth).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


document(risk_features, FEATURE_COLUMNS)
document(predict_risk, RISK_COLUMNS)
document(evaluate_risk, EVALUATION_COLUMNS)
