"""The statistical risk model next to the at-risk rules: fitted on past cohorts, evaluated on each in turn.

The rules in :mod:`analytics.risk` stay the default; :func:`compare_with_rules`
shows whether the logistic regression of :mod:`analytics.model` would have
done better on the cohorts that came before, and how it ranks the current
one. Every cohort is seen at the same point of its course: as many days after
its start as the current cohort is at ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .cohort import analyse_cohort
from .cohorts import split_cohorts
from .columns import typed
from .errors import AnalyticsError
from .model import (
    EVALUATION_COLUMNS,
    RiskModel,
    evaluate_risk,
    fit_risk_model,
    predict_risk,
    risk_features,
    training_frame,
)
from .pacing import to_instant
from .risk import AtRiskRules
from .tables import FLOAT, INT, STR, TIME, Column, CourseTables, describe_columns

COMPARISON_COLUMNS: tuple[Column, ...] = (
    Column("cohort", STR, "The held-out past cohort (its name in ``past``); the model was fitted on the others."),
    Column("snapshot_at", TIME, "When the held-out cohort is seen: its course start + the current cohort's days "
           "since its start."),
    Column("outcome_at", TIME, "Its course end, when 'unfinished' is judged (see compare_with_rules)."),
    *EVALUATION_COLUMNS,
)

MODEL_SCORE_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "A student of the current cohort, enrolled and not withdrawn at as_of."),
    Column("risk", FLOAT, "The model's probability of not finishing (fitted on every past cohort)."),
    Column("model_rank", INT, "1 = highest risk; ties by student_id."),
    Column("flagged", "bool", "Whether the rules list the student as at risk."),
    Column("rules_rank", "Int64", "The student's rank in the rules' at-risk list; null if not listed."),
)


@dataclass(frozen=True)
class ModelComparison:
    """What :func:`compare_with_rules` found (see it for the columns)."""

    days_after_start: float
    """How far into its course every cohort is seen: as_of minus the current course start, in days."""
    evaluation: pd.DataFrame
    """Leave-one-past-cohort-out evaluation, :data:`COMPARISON_COLUMNS`."""
    scores: pd.DataFrame
    """The current cohort by modelled risk, :data:`MODEL_SCORE_COLUMNS`."""


def course_start(tables: CourseTables) -> pd.Timestamp:
    """When the first lesson (by ``order``) opens."""
    return tables.lessons.sort_values("order")["opens_at"].iloc[0]


def course_end(tables: CourseTables) -> pd.Timestamp:
    """The latest lesson date: each lesson's due date, or its target where it has none; personal timelines
    (if any) included, so a student whose dates were shifted or extended is judged at the end of them."""
    dates = [tables.lessons]
    if tables.timelines is not None:
        dates.append(tables.timelines)
    return max(frame["due_at"].fillna(frame["target_at"]).max() for frame in dates)


def compare_with_rules(current: CourseTables, past: Mapping[str, CourseTables] | Sequence[str] | None = None, *,
                       as_of: dt.datetime | str, rules: AtRiskRules = AtRiskRules(),
                       cohort: str | None = None) -> ModelComparison:
    """Fit the risk model on ``past`` cohorts (named by their keys) and compare it with ``rules``.

    With ``cohort``, ``current`` holds several cohorts (a ``cohort`` column):
    that one is the current cohort, and ``past`` names the past cohorts among
    the same tables (default: every other cohort in them), or maps names to
    tables of their own as usual.

    Each past cohort is seen at its :func:`course_start` + (``as_of`` -
    ``current``'s course start), and its outcome, ``unfinished`` (not every
    lesson passed, withdrawn students included; see
    :func:`~analytics.model.training_frame`), is judged at its
    :func:`course_end`. The evaluation holds out each past cohort in turn,
    fits the model on the others and compares it with what the rules
    flagged at the snapshot (:func:`~analytics.model.evaluate_risk`); the
    scores come from the model fitted on all past cohorts.

    Raises :class:`AnalyticsError` with fewer than two past cohorts (nothing
    to evaluate on), or when the cohorts a model is fitted on hold only one
    outcome (everyone finished, or no one did).
    """
    if cohort is not None:
        parts = split_cohorts(current)
        if cohort not in parts or cohort == "":
            raise AnalyticsError(f"no cohort {cohort!r} in the tables (cohorts: {', '.join(map(repr, current.cohorts))})")
        if past is None or not isinstance(past, Mapping):
            chosen = [name for name in parts if name != cohort] if past is None else list(past)
            unknown = [name for name in chosen if name not in parts or name == cohort]
            if unknown:
                raise AnalyticsError(f"past cohort(s) {', '.join(map(repr, unknown))} are not other cohorts of the "
                                     f"tables (cohorts: {', '.join(map(repr, current.cohorts))})")
            past = {name: parts[name] for name in chosen}
        current = parts[cohort]
    if past is None or not isinstance(past, Mapping):
        raise AnalyticsError("past must map names to past cohorts' tables, unless cohort= picks the current cohort "
                             "from tables holding several")
    if len(past) < 2:
        raise AnalyticsError(f"the risk model needs at least 2 past cohorts, one to evaluate it on and one to fit it "
                             f"on; got {len(past)}{': ' + ', '.join(past) if past else ''}")
    as_of = to_instant(as_of)
    offset = as_of - course_start(current)
    frames, flagged, rows = {}, {}, []
    for name, tables in past.items():
        snapshot, end = course_start(tables) + offset, course_end(tables)
        frames[name] = training_frame(tables, as_of=snapshot, outcome_as_of=end, rules=rules)
        flagged[name] = analyse_cohort(tables, as_of=snapshot, rules=rules).at_risk["student_id"]
        rows.append((name, snapshot, end))
    evaluations = []
    for name, snapshot, end in rows:
        model = _fit([other for other in frames if other != name], frames)
        evaluation = evaluate_risk(predict_risk(model, frames[name]), frames[name], flagged=flagged[name])
        evaluations.append(evaluation.assign(cohort=name, snapshot_at=snapshot, outcome_at=end))

    analysis = analyse_cohort(current, as_of=as_of, rules=rules)
    risk = predict_risk(_fit(list(frames), frames), risk_features(analysis.pacing, analysis.students))
    scores = risk.sort_values(["risk", "student_id"], ascending=[False, True], kind="stable")
    rules_rank = analysis.at_risk.set_index("student_id")["rank"]
    scores = scores.assign(model_rank=range(1, len(scores) + 1), flagged=scores["student_id"].isin(rules_rank.index),
                           rules_rank=scores["student_id"].map(rules_rank).astype("Int64"))
    return ModelComparison(days_after_start=offset / pd.Timedelta(days=1),
                           evaluation=typed(pd.concat(evaluations), COMPARISON_COLUMNS),
                           scores=typed(scores, MODEL_SCORE_COLUMNS))


def _fit(names: list[str], frames: Mapping[str, pd.DataFrame]) -> RiskModel:
    training = pd.concat([frames[name] for name in names], ignore_index=True)
    if training["unfinished"].nunique() < 2:
        everyone = "did not finish" if training["unfinished"].all() else "finished"
        raise AnalyticsError(f"cannot fit the risk model on past cohort(s) {', '.join(names)}: every student "
                             f"{everyone}, and the model needs both outcomes")
    return fit_risk_model(training, outcome=training["unfinished"])


compare_with_rules.__doc__ += "".join(
    f"\n    Columns of ``{field}``:\n\n" + textwrap.indent(describe_columns(columns), "    ") + "\n"
    for field, columns in (("evaluation", COMPARISON_COLUMNS), ("scores", MODEL_SCORE_COLUMNS)))
