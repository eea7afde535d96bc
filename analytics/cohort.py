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

from .columns import NAT, document, ns, typed, utc_times
from .keys import equal_to, positions
from .lessons import attempt_distribution, cell_pass_rates, completion_funnel, lesson_metrics
from .pacing import pacing_table, to_instant
from .persistence import after_course_end, kaplan_meier, median_persistence, persistence_times
from .risk import AtRiskRules, at_risk_list, risk_reasons
from .students import student_metrics
from .tables import FLOAT, INT, STR, TIME, Column, CourseTables

AFTER_WITHDRAWAL_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "A student who withdrew at or before as_of and submitted after withdrawn_at."),
    Column("withdrawn_at", TIME, "When they withdrew: the cutoff of their log, everything after it is left out of "
           "every metric."),
    Column("submissions", INT, "Attempts with withdrawn_at < submitted_at <= as_of."),
    Column("lessons", INT, "Distinct lessons among those attempts."),
    Column("first_submitted_at", TIME, "The earliest of those attempts."),
    Column("last_submitted_at", TIME, "The latest of those attempts."),
)

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
    after_withdrawal: pd.DataFrame
    """:func:`submissions_after_withdrawal`: attempts left out because they came after a withdrawal."""
    course_ended: pd.Timestamp | None
    """The course end if ``as_of`` is after it (:func:`~analytics.persistence.after_course_end`), else None."""
    persistence_since: str = "enrolment"
    """The origin of the persistence times: ``"enrolment"`` or ``"course_start"``."""


def analyse_cohort(tables: CourseTables, *, as_of: dt.datetime | str, rules: AtRiskRules = AtRiskRules(),
                   persistence_since: str = "enrolment") -> CohortAnalysis:
    """Compute every metric of the cohort at ``as_of`` with ``rules`` (pass mark and tau included);
    ``persistence_since`` is the origin of the persistence curve (see
    :func:`~analytics.persistence.persistence_times`). For tables with several cohorts see
    :func:`analytics.cohorts.analyse_cohorts`."""
    as_of = to_instant(as_of)
    pacing = pacing_table(tables, as_of=as_of, pass_fraction=rules.pass_fraction, include_withdrawn=True)
    students = student_metrics(pacing, tables.submissions, as_of=as_of, inactive_days=rules.inactive_days,
                               inactive_gap_multiple=rules.inactive_gap_multiple)
    durations = persistence_times(students, as_of=as_of, since=persistence_since)
    reasons = risk_reasons(pacing, students, rules=rules)
    return CohortAnalysis(
        as_of=as_of,
        rules=rules,
        pacing=pacing,
        students=students,
        lessons=lesson_metrics(pacing),
        funnel=completion_funnel(students, lessons=tables.lessons, as_of=as_of),
        attempts=attempt_distribution(pacing),
        cells=cell_pass_rates(tables, as_of=as_of),
        durations=durations,
        survival=kaplan_meier(durations),
        reasons=reasons,
        at_risk=at_risk_list(reasons, students),
        ungraded=int(np.count_nonzero((ns(tables.submissions["submitted_at"]) <= as_of.value)
                                      & ~equal_to(tables.submissions["status"], "graded"))),
        after_withdrawal=submissions_after_withdrawal(tables, as_of=as_of),
        course_ended=after_course_end(tables, as_of=as_of),
        persistence_since=persistence_since,
    )


def submissions_after_withdrawal(tables: CourseTables, *, as_of: dt.datetime | str) -> pd.DataFrame:
    """Who submitted after withdrawing, and how much, sorted by student_id.

    Withdrawal cuts a student's log: every metric measures a withdrawn student
    up to withdrawn_at and leaves later attempts out. They are not dropped
    silently: this table counts them (totals in :func:`cohort_headline`).
    """
    now = to_instant(as_of).value
    enrollments, subs = tables.enrollments, tables.submissions
    withdrawn = ns(enrollments["withdrawn_at"])
    row = positions(enrollments["student_id"], subs["student_id"])
    at = ns(subs["submitted_at"])
    left = np.where(row >= 0, withdrawn[np.maximum(row, 0)], NAT)
    late = (left != NAT) & (left <= now) & (at > left) & (at <= now)
    rows = subs.loc[late].assign(withdrawn_at=utc_times(left[late]))
    table = (rows.groupby("student_id", sort=True)
             .agg(withdrawn_at=("withdrawn_at", "first"), submissions=("lesson_id", "size"),
                  lessons=("lesson_id", "nunique"), first_submitted_at=("submitted_at", "min"),
                  last_submitted_at=("submitted_at", "max"))
             .reset_index())
    return typed(table, AFTER_WITHDRAWAL_COLUMNS)


def cohort_headline(analysis: CohortAnalysis, *, cram_hours: float = 48.0) -> pd.DataFrame:
    """A handful of headline numbers, one row per measure, in a fixed order.

    Measures, each a count of students by label unless it says otherwise:
    students enrolled (label is not 'withdrawn'); finished (every lesson
    passed); on track; behind pace, active (label 'behind'); inactive (lessons
    left, no submission for tau days; whatever their pace); withdrawn; at risk
    (rows of the at-risk list); lessons (in the course); lessons past target
    (median lessons_expected of enrolled students); median lessons passed (of
    enrolled students); first submissions on time (%) (100 x on_time / (on_time
    + late)); first submissions crammed, per submission (%) (100 x first
    submissions in the cram window / first submissions); lessons crammed, mean
    per student (%) (100 x mean cramming_share); first attempts passed (%) (100 x
    first_passed / graded first attempts); pass mark (% of a lesson's points)
    (100 x rules.pass_fraction); median days before stopping, since
    enrolment or since the course start (Kaplan-Meier median; NaN while more
    than half are still going); attempts without a grade (submitted by as_of,
    not graded yet or failed to grade: they count as submitted, not passed);
    submissions after withdrawal (left out of every metric) and students who
    sent them. Percentages and days are rounded to one decimal.
    """
    students, pacing = analysis.students, analysis.pacing
    enrolled = students.loc[students["label"] != "withdrawn"]
    label = students["label"]
    # Arrays of the million-row pacing table, not filtered copies of it.
    on_time, late = pacing["status"].eq("on_time").to_numpy(), pacing["status"].eq("late").to_numpy()
    submitted = pacing["submitted"].to_numpy(dtype=bool)
    slack = pacing["days_vs_target"].to_numpy(dtype=np.float64)
    crammed = submitted & (slack >= -cram_hours / 24) & (slack <= 0)
    first_known = ~np.isnan(pacing["first_score"].to_numpy(dtype=np.float64))
    since = "enrolment" if analysis.persistence_since == "enrolment" else "the course start"
    measures = {
        "students enrolled": len(enrolled),
        "finished (every lesson passed)": int(label.eq("finished").sum()),
        "on track": int(label.eq("on_track").sum()),
        "behind pace, active": int(label.eq("behind").sum()),
        "inactive (lessons left, silent for tau days)": int(label.eq("inactive").sum()),
        "withdrawn": int(label.eq("withdrawn").sum()),
        "at risk": len(analysis.at_risk),
        "lessons": len(analysis.funnel),
        "lessons past target": enrolled["lessons_expected"].median() if len(enrolled) else 0,
        "median lessons passed": enrolled["lessons_passed"].median(),
        "first submissions on time (%)": _percent(np.count_nonzero(on_time), np.count_nonzero(on_time | late)),
        f"first submissions crammed, per submission (% in the {cram_hours:g} h before target)":
            _percent(np.count_nonzero(crammed), np.count_nonzero(submitted)),
        "lessons crammed, mean per student (%)": round(100 * students["cramming_share"].mean(), 1)
        if students["cramming_share"].notna().any() else np.nan,
        "first attempts passed (%)": _percent(np.count_nonzero(pacing["first_passed"].to_numpy(dtype=bool)),
                                              np.count_nonzero(first_known)),
        "pass mark (% of a lesson's points)": round(100 * analysis.rules.pass_fraction, 1),
        f"median days before stopping, since {since}": round(median_persistence(analysis.survival), 1),
        "attempts without a grade": analysis.ungraded,
        "submissions after withdrawal (left out)": int(analysis.after_withdrawal["submissions"].sum()),
        "students who submitted after withdrawing": len(analysis.after_withdrawal),
    }
    return typed(pd.DataFrame({"measure": list(measures), "value": list(measures.values())}), HEADLINE_COLUMNS)


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else np.nan


document(cohort_headline, HEADLINE_COLUMNS)
document(submissions_after_withdrawal, AFTER_WITHDRAWAL_COLUMNS)
