"""Every cohort metric at once, computed consistently from one set of rules, and the headline numbers.

:func:`analyse_cohort` is what the notebooks, ``paceline status`` and the
benchmark call: it runs each metric once with the same ``as_of`` and
:class:`~analytics.risk.AtRiskRules`, so the pass mark and tau agree
everywhere. Each field is also available on its own from its module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import document, typed
from .lessons import attempt_distribution, cell_pass_rates, completion_funnel, lesson_metrics
from .pacing import pacing_table, to_instant
from .persistence import kaplan_meier, median_persistence, persistence_times
from .risk import AtRiskRules, at_risk_list, risk_reasons
from .students import student_metrics
from .tables import FLOAT, STR, Column, CourseTables

HEADLINE_COLUMNS: tuple[Column, ...] = (
    Column("measure", STR, "What is counted, in words."),
    Column("value", FLOAT, "Its value; NaN when it has no denominator."),
)


@dataclass(frozen=True)
class CohortAnalysis:
    """The metric tables of one cohort at ``as_of`` (see each function for its columns)."""

    as_of: pd.Timestamp
    rules: AtRiskRules
    pacing: pd.DataFrame
    """:func:`~analytics.pacing.pacing_table`, withdrawn students included."""
    students: pd.DataFrame
    """:func:`~analytics.students.student_metrics`."""
    lessons: pd.DataFrame
    """:func:`~analytics.lessons.lesson_metrics`."""
    funnel: pd.DataFrame
    """:func:`~analytics.lessons.completion_funnel`."""
    attempts: pd.DataFrame
    """:func:`~analytics.lessons.attempt_distribution`."""
    cells: pd.DataFrame
    """:func:`~analytics.lessons.cell_pass_rates` (empty without cell_scores)."""
    durations: pd.DataFrame
    """:func:`~analytics.persistence.persistence_times`."""
    survival: pd.DataFrame
    """:func:`~analytics.persistence.kaplan_meier`."""
    reasons: pd.DataFrame
    """:func:`~analytics.risk.risk_reasons`."""
    at_risk: pd.DataFrame
    """:func:`~analytics.risk.at_risk_list`."""
    ungraded: int
    """Attempts submitted by ``as_of`` that have no grade (not graded yet, or grading failed)."""


def analyse_cohort(tables: CourseTables, *, as_of: dt.datetime | str, rules: AtRiskRules = AtRiskRules()) -> CohortAnalysis:
    """Compute every metric of the cohort at ``as_of`` with ``rules`` (pass mark and tau included)."""
    as_of = to_instant(as_of)
    pacing = pacing_table(tables, as_of=as_of, pass_fraction=rules.pass_fraction, include_withdrawn=True)
    students = student_metrics(pacing, tables.submissions, as_of=as_of, inactive_days=rules.inactive_days)
    durations = persistence_times(students, as_of=as_of)
    reasons = risk_reasons(pacing, students, rules=rules)
    return CohortAnalysis(
        as_of=as_of,
        rules=rules,
        pacing=pacing,
        students=students,
        lessons=lesson_metrics(pacing),
        funnel=completion_funnel(students, lessons=tables.lessons),
        attempts=attempt_distribution(pacing),
        cells=cell_pass_rates(tables, as_of=as_of),
        durations=durations,
        survival=kaplan_meier(durations),
        reasons=reasons,
        at_risk=at_risk_list(reasons, students),
        ungraded=int(((tables.submissions["submitted_at"] <= as_of)
                      & tables.submissions["status"].ne("graded")).sum()),
    )


def cohort_headline(analysis: CohortAnalysis) -> pd.DataFrame:
    """A handful of headline numbers, one row per measure, in a fixed order.

    Measures: students enrolled (label is not 'withdrawn'); withdrawn; on
    track, behind, inactive (by label); at risk (rows of the at-risk list);
    lessons (in the course); lessons past target (median lessons_expected of enrolled
    students); median lessons passed (of enrolled students); first
    submissions on time (%) (100 x on_time / (on_time + late)); first
    attempts passed (%) (100 x first_passed / graded first attempts); median
    days enrolled before stopping (Kaplan-Meier median; NaN while more than
    half are still going); attempts without a grade (submitted by as_of, not
    graded yet or failed to grade: they count as submitted, not passed).
    Percentages and days are rounded to one decimal.
    """
    students, pacing = analysis.students, analysis.pacing
    enrolled = students.loc[students["label"] != "withdrawn"]
    label = students["label"]
    status = pacing["status"]
    measures = {
        "students enrolled": len(enrolled),
        "withdrawn": int(label.eq("withdrawn").sum()),
        "on track": int(label.eq("on_track").sum()),
        "behind": int(label.eq("behind").sum()),
        "inactive": int(label.eq("inactive").sum()),
        "at risk": len(analysis.at_risk),
        "lessons": len(analysis.funnel),
        "lessons past target": enrolled["lessons_expected"].median() if len(enrolled) else 0,
        "median lessons passed": enrolled["lessons_passed"].median(),
        "first submissions on time (%)": _percent(status.eq("on_time").sum(), status.isin(["on_time", "late"]).sum()),
        "first attempts passed (%)": _percent(pacing["first_passed"].sum(), pacing["first_score"].notna().sum()),
        "median days enrolled before stopping": round(median_persistence(analysis.survival), 1),
        "attempts without a grade": analysis.ungraded,
    }
    return typed(pd.DataFrame({"measure": list(measures), "value": list(measures.values())}), HEADLINE_COLUMNS)


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else np.nan


document(cohort_headline, HEADLINE_COLUMNS)
