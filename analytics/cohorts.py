"""Many cohorts in one load: every metric per cohort, and pooled over all of them.

Tables with a ``cohort`` column (see :data:`analytics.tables.COHORT_COLUMN`)
hold several cohorts: presentations of a course, terms, sections. Each
cohort is analysed on its own with :func:`~analytics.cohort.analyse_cohort`
(a student's pace is measured against their own cohort's dates), and the
pooled analysis puts the cohorts side by side::

    analysis = analyse_cohorts(tables, as_of=as_of, rules=rules)
    analysis.cohorts["2014J"].students           # one cohort, as for a single-cohort load
    analysis.pooled.students                     # every cohort, with a leading cohort column
    analysis.pooled.lessons                      # per lesson, over every cohort's students
    cohort_table(analysis, "lessons")            # per cohort x lesson: the same lesson side by side

Pooled per-student tables (pacing, students, durations, reasons, at_risk,
after_withdrawal) are the cohorts' tables one after another with a leading
``cohort`` column; pooled summaries (lessons, funnel, attempts, cells,
survival) are computed over all of them, so the same lesson_id in two
cohorts is one lesson there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from .checks import COHORT
from .cohort import CohortAnalysis, analyse_cohort, cohort_headline
from .columns import typed
from .errors import AnalyticsError
from .lessons import CELL_PASS_COLUMNS, FUNNEL_COLUMNS, attempt_distribution, lesson_metrics
from .pacing import to_instant
from .persistence import kaplan_meier
from .risk import AT_RISK_COLUMNS, AtRiskRules
from .tables import CourseTables

#: Fields of a CohortAnalysis that hold one row per student (or per student x something).
PER_STUDENT = ("pacing", "students", "durations", "reasons", "at_risk", "after_withdrawal")


@dataclass(frozen=True)
class CohortsAnalysis:
    """Every cohort of a load analysed on its own, and all of them pooled."""

    cohorts: dict[str, CohortAnalysis]
    """Per cohort, in order of first appearance in enrollments."""
    pooled: CohortAnalysis
    """Every cohort together: per-student tables with a leading ``cohort`` column, summaries over all."""


def split_cohorts(tables: CourseTables) -> dict[str, CourseTables]:
    """The tables of each cohort, without the cohort column; ``{"": tables}`` for a load without cohorts.

    Lessons without a cohort column are every cohort's lessons.
    """
    names = tables.cohorts
    if not names:
        return {"": tables}
    parts: dict[str, dict[str, pd.DataFrame | None]] = {name: {} for name in names}
    for field in fields(CourseTables):
        frame = getattr(tables, field.name)
        if frame is None or COHORT not in frame.columns:
            for name in names:
                parts[name][field.name] = frame
            continue
        groups = dict(iter(frame.groupby(COHORT, sort=False)))
        for name in names:
            part = groups.get(name, frame.iloc[0:0])
            parts[name][field.name] = part.drop(columns=COHORT).reset_index(drop=True)
    return {name: CourseTables(**frames) for name, frames in parts.items()}


def cohort_starts(tables: CourseTables) -> dict[str, pd.Timestamp]:
    """Each cohort's course start: when its first lesson (by order) opens."""
    return {name: part.lessons.sort_values("order")["opens_at"].iloc[0]
            for name, part in split_cohorts(tables).items() if len(part.lessons)}


def analyse_cohorts(tables: CourseTables, *, as_of: dt.datetime | str | None = None, course_day: float | None = None,
                    rules: AtRiskRules = AtRiskRules(), persistence_since: str = "enrolment",
                    starts: Mapping[str, dt.datetime | pd.Timestamp] | None = None) -> CohortsAnalysis:
    """Analyse each cohort, then pool them.

    Give ``as_of`` (one instant for every cohort) or ``course_day`` (each
    cohort seen that many days after its course start: ``starts[cohort]``,
    default :func:`cohort_starts`), so cohorts years apart are compared at
    the same point of their course. A load without cohorts is one cohort
    named ``""``.
    """
    if (as_of is None) == (course_day is None):
        raise AnalyticsError("give exactly one of as_of (an instant) and course_day (days after each cohort's start)")
    parts = split_cohorts(tables)
    if course_day is not None:
        known = dict(starts) if starts is not None else cohort_starts(tables)
        missing = [name for name in parts if name not in known]
        if missing:
            raise AnalyticsError(f"no course start for cohort(s) {', '.join(map(repr, missing))}")
        moments = {name: to_instant(known[name]) + pd.Timedelta(days=course_day) for name in parts}
    else:
        moments = dict.fromkeys(parts, to_instant(as_of))
    cohorts = {name: analyse_cohort(part, as_of=moments[name], rules=rules, persistence_since=persistence_since)
               for name, part in parts.items()}
    if list(cohorts) == [""]:  # no cohort column: the one cohort is the pool, with no column to add
        return CohortsAnalysis(cohorts=cohorts, pooled=cohorts[""])
    return CohortsAnalysis(cohorts=cohorts, pooled=_pool(cohorts, rules=rules, persistence_since=persistence_since))


def cohort_table(analysis: CohortsAnalysis, field: str) -> pd.DataFrame:
    """One field of every cohort's analysis (e.g. ``"lessons"``, ``"survival"``, ``"funnel"``), the cohorts
    one after another with a leading ``cohort`` column: the same lesson's figures side by side."""
    frames = [getattr(part, field).assign(**{COHORT: name}) for name, part in analysis.cohorts.items()]
    table = pd.concat(frames, ignore_index=True)
    return table[[COHORT, *[column for column in table.columns if column != COHORT]]]


def compare_headlines(analysis: CohortsAnalysis, *, cram_hours: float = 48.0) -> pd.DataFrame:
    """The headline numbers side by side: one row per measure, one column per cohort, then ``all cohorts``."""
    columns = {name: cohort_headline(part, cram_hours=cram_hours).set_index("measure")["value"]
               for name, part in analysis.cohorts.items()}
    columns["all cohorts"] = cohort_headline(analysis.pooled, cram_hours=cram_hours).set_index("measure")["value"]
    return pd.DataFrame(columns).rename_axis("measure").reset_index()


def _pool(cohorts: dict[str, CohortAnalysis], *, rules: AtRiskRules, persistence_since: str) -> CohortAnalysis:
    def stacked(field: str) -> pd.DataFrame:
        frames = [getattr(part, field).assign(**{COHORT: name}) for name, part in cohorts.items()]
        table = pd.concat(frames, ignore_index=True)
        return table[[COHORT, *[column for column in table.columns if column != COHORT]]]

    pooled = {field: stacked(field) for field in PER_STUDENT}
    pacing = pooled["pacing"]
    ended = [part.course_ended for part in cohorts.values()]
    return CohortAnalysis(
        as_of=max(part.as_of for part in cohorts.values()),
        rules=rules,
        pacing=pacing,
        students=pooled["students"],
        lessons=lesson_metrics(pacing),
        funnel=_pool_funnels([part.funnel for part in cohorts.values()]),
        attempts=attempt_distribution(pacing),
        cells=_pool_cells([part.cells for part in cohorts.values()]),
        durations=pooled["durations"],
        survival=kaplan_meier(pooled["durations"]),
        reasons=pooled["reasons"],
        at_risk=_rerank(pooled["at_risk"]),
        ungraded=sum(part.ungraded for part in cohorts.values()),
        after_withdrawal=pooled["after_withdrawal"],
        course_ended=max(ended) if all(end is not None for end in ended) else None,
        persistence_since=persistence_since,
    )


def _pool_funnels(funnels: list[pd.DataFrame]) -> pd.DataFrame:
    """Counts added up per lesson (by order and lesson_id); shares and hazards from the sums."""
    counts = (pd.concat(funnels).groupby(["order", "lesson_id"], sort=True)[["reached", "stopped", "still_working"]]
              .sum().reset_index())
    total = sum(int(funnel["students"].iloc[0]) if len(funnel) else 0 for funnel in funnels)
    with np.errstate(invalid="ignore", divide="ignore"):
        counts = counts.assign(
            students=total,
            share_reached=counts["reached"] / total if total else np.nan,
            hazard=counts["stopped"] / (counts["stopped"] + counts["reached"]).where(
                counts["stopped"] + counts["reached"] > 0),
        )
    return typed(counts, FUNNEL_COLUMNS)


def _pool_cells(cells: list[pd.DataFrame]) -> pd.DataFrame:
    """Per graded cell over every cohort: rates re-weighted by the attempts they were measured on."""
    table = pd.concat(cells, ignore_index=True)
    if table.empty:
        return typed(table, CELL_PASS_COLUMNS)
    table = table.assign(passes=table["pass_rate"] * table["attempts"],
                         first_passes=table["first_attempt_pass_rate"].fillna(0) * table["first_attempts"],
                         shares=table["mean_score_share"] * table["attempts"],
                         shared=table["attempts"].where(table["mean_score_share"].notna(), 0))
    pooled = (table.groupby(["lesson_id", "notebook", "grade_id"], sort=False)
              .agg(max_score=("max_score", "max"), attempts=("attempts", "sum"), passes=("passes", "sum"),
                   first_attempts=("first_attempts", "sum"), first_passes=("first_passes", "sum"),
                   shares=("shares", "sum"), shared=("shared", "sum"))
              .reset_index())
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = pooled.assign(
            pass_rate=pooled["passes"] / pooled["attempts"],
            first_attempt_pass_rate=pooled["first_passes"] / pooled["first_attempts"].where(pooled["first_attempts"] > 0),
            mean_score_share=pooled["shares"] / pooled["shared"].where(pooled["shared"] > 0),
        )
    order = table.drop_duplicates("lesson_id").set_index("lesson_id").index
    pooled = pooled.assign(position=pooled["lesson_id"].map(pd.Series(np.arange(len(order)), index=order)))
    return typed(pooled.sort_values(["pass_rate", "position", "notebook", "grade_id"]), CELL_PASS_COLUMNS)


def _rerank(at_risk: pd.DataFrame) -> pd.DataFrame:
    """The cohorts' at-risk lists as one, ranked by the same keys as :func:`~analytics.risk.at_risk_list`."""
    ranked = at_risk.sort_values(["reason_count", "pace_gap", "days_silent", COHORT, "student_id"],
                                 ascending=[False, True, False, True, True], kind="stable")
    ranked = ranked.assign(rank=np.arange(1, len(ranked) + 1))
    return ranked[[COHORT, *[column.name for column in AT_RISK_COLUMNS]]].reset_index(drop=True)
