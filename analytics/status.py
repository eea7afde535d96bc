"""What ``paceline status`` prints: the cohort or one student, as small tables ready to render.

The CLI renders these DataFrames (with rich); analysts can print them too.
Both functions compute the whole cohort (a student's relative timing is
measured against peers), then keep what the view needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .cohort import CohortAnalysis, analyse_cohort, cohort_headline
from .columns import typed
from .errors import UnknownIdError
from .pacing import resolve_as_of
from .risk import AtRiskRules
from .tables import FLOAT, INT, STR, TIME, Column, CourseTables

LESSON_STATUS_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson, in course order."),
    Column("title", STR, "Its title."),
    Column("target_at", TIME, "Its target date (from lessons; students with a personal timeline may differ)."),
    Column("submitted", INT, "Students who submitted it."),
    Column("on_time", INT, "First submissions on or before the (personal) target."),
    Column("late", INT, "First submissions after it."),
    Column("missing", INT, "Students past the target without a submission."),
    Column("pass_rate", FLOAT, "passed / submitted; NaN if nobody submitted."),
    Column("mean_attempts", FLOAT, "Mean attempts of submitters; NaN if none."),
)

STUDENT_LESSON_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson, in course order."),
    Column("title", STR, "Its title."),
    Column("opens_at", TIME, "When it opens for the student."),
    Column("target_at", TIME, "The student's target."),
    Column("due_at", TIME, "The student's hard due date; NaT = none."),
    Column("status", "category", "on_time / late / missing / not_yet_due (see pacing_table)."),
    Column("first_submitted_at", TIME, "First submission; NaT if none."),
    Column("attempts", INT, "Attempts so far."),
    Column("best_score", FLOAT, "Best score after late penalty; NaN if none graded."),
    Column("max_score", FLOAT, "Points available."),
    Column("passed", "bool", "Whether the lesson is passed."),
)

STUDENT_SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("measure", STR, "What is shown, in words."),
    Column("value", STR, "Its value as text, formatted for reading ('-' when there is none)."),
)

ATTEMPT_LOG_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson."),
    Column("attempt", INT, "The attempt number."),
    Column("submitted_at", TIME, "When it was received."),
    Column("status", STR, "collected / graded / failed."),
    Column("score", FLOAT, "score - late_penalty if graded; NaN otherwise."),
    Column("max_score", FLOAT, "Points available."),
)


@dataclass(frozen=True)
class CohortStatus:
    """The cohort at ``as_of``: headline numbers, one row per lesson, and the top of the at-risk list."""

    as_of: pd.Timestamp
    headline: pd.DataFrame
    """:data:`~analytics.cohort.HEADLINE_COLUMNS`."""
    lessons: pd.DataFrame
    """:data:`LESSON_STATUS_COLUMNS`."""
    at_risk: pd.DataFrame
    """:data:`~analytics.risk.AT_RISK_COLUMNS`, the first ``limit`` rows."""


@dataclass(frozen=True)
class StudentStatus:
    """One student at ``as_of``: a summary, their lessons, their attempts, and why they are at risk (if so)."""

    as_of: pd.Timestamp
    student_id: str
    summary: pd.DataFrame
    """:data:`STUDENT_SUMMARY_COLUMNS`."""
    lessons: pd.DataFrame
    """:data:`STUDENT_LESSON_COLUMNS`."""
    attempts: pd.DataFrame
    """:data:`ATTEMPT_LOG_COLUMNS`, in time order."""
    reasons: pd.DataFrame
    """:data:`~analytics.risk.REASON_COLUMNS` of this student (empty if not at risk)."""


def cohort_status(tables: CourseTables, *, as_of: dt.datetime | str | None = None,
                  rules: AtRiskRules = AtRiskRules(), limit: int = 10) -> CohortStatus:
    """The cohort summary ``paceline status`` prints; ``as_of`` defaults to the latest submission."""
    as_of = resolve_as_of(tables, as_of=as_of)
    analysis = analyse_cohort(tables, as_of=as_of, rules=rules)
    # Every lesson of the course, also those without students yet (lesson_metrics only sees the cohort's rows).
    lessons = (tables.lessons.sort_values("order")[["lesson_id", "title", "target_at"]]
               .merge(analysis.lessons, on="lesson_id", how="left")
               .fillna({"submitted": 0, "on_time": 0, "late": 0, "missing": 0}))
    return CohortStatus(
        as_of=as_of,
        headline=cohort_headline(analysis),
        lessons=typed(lessons, LESSON_STATUS_COLUMNS),
        at_risk=analysis.at_risk.head(limit).reset_index(drop=True),
    )


def student_status(tables: CourseTables, student_id: str, *, as_of: dt.datetime | str | None = None,
                   rules: AtRiskRules = AtRiskRules(), analysis: CohortAnalysis | None = None) -> StudentStatus:
    """One student's view; nothing in it names another student. ``analysis``, the cohort's
    :func:`~analytics.cohort.analyse_cohort` at the same ``as_of`` if already computed, saves computing it again.

    Raises :class:`~analytics.errors.UnknownIdError` if ``student_id`` is not
    in enrollments or enrols after ``as_of``.
    """
    as_of = resolve_as_of(tables, as_of=as_of)
    enrollment = tables.enrollments.loc[tables.enrollments["student_id"] == student_id]
    if enrollment.empty:
        raise UnknownIdError("student", student_id)
    if enrollment["enrolled_at"].iloc[0] > as_of:
        raise UnknownIdError("student", student_id, detail=f" at {as_of:%Y-%m-%d %H:%M} UTC (enrols "
                             f"{enrollment['enrolled_at'].iloc[0]:%Y-%m-%d %H:%M} UTC)")
    if analysis is None or analysis.as_of != as_of:
        analysis = analyse_cohort(tables, as_of=as_of, rules=rules)
    pacing = analysis.pacing.loc[analysis.pacing["student_id"] == student_id]
    lessons = pacing.merge(tables.lessons[["lesson_id", "title"]], on="lesson_id", how="left")
    me = analysis.students.loc[analysis.students["student_id"] == student_id].iloc[0]
    return StudentStatus(
        as_of=as_of,
        student_id=student_id,
        summary=_summary(me),
        lessons=typed(lessons, STUDENT_LESSON_COLUMNS, categories={"status": pacing["status"].dtype}),
        attempts=_attempt_log(tables, student_id, as_of=as_of),
        reasons=analysis.reasons.loc[analysis.reasons["student_id"] == student_id].reset_index(drop=True),
    )


def _summary(me: pd.Series) -> pd.DataFrame:
    def when(value: pd.Timestamp) -> str:
        return "-" if pd.isna(value) else f"{value:%Y-%m-%d}"

    def number(value: float, template: str) -> str:
        return "-" if pd.isna(value) else template.format(value)

    rows = {
        "status": str(me["label"]).replace("_", " "),
        "lessons passed": f"{me['lessons_passed']} of {me['lessons']}",
        "lessons past their target": str(me["lessons_expected"]),
        "pace": _pace(int(me["pace_gap"])),
        "next lesson": "-" if pd.isna(me["next_lesson_id"]) else str(me["next_lesson_id"]),
        "days behind on it": number(me["days_behind"], "{:.1f}"),
        "last submission": when(me["last_activity"]),
        "days since": number(me["days_silent"], "{:.1f}"),
        "projected finish": when(me["projected_finish"]),
        "course end": when(me["course_end"]),
        "lessons first submitted in the 48 h before their target": number(me["cramming_share"], "{:.0%}"),
        "timing among peers (0 = earliest, 1 = latest)": number(me["relative_timing"], "{:.2f}"),
        "weeks with a submission": number(me["active_week_share"], "{:.0%}"),
    }
    return typed(pd.DataFrame({"measure": list(rows), "value": list(rows.values())}), STUDENT_SUMMARY_COLUMNS)


def _pace(gap: int) -> str:
    if gap == 0:
        return "on pace"
    lessons = f"{abs(gap)} lesson{'s' if abs(gap) != 1 else ''}"
    return f"{lessons} behind" if gap < 0 else f"{lessons} ahead"


def _attempt_log(tables: CourseTables, student_id: str, *, as_of: pd.Timestamp) -> pd.DataFrame:
    subs = tables.submissions
    mine = subs.loc[(subs["student_id"] == student_id) & (subs["submitted_at"] <= as_of)]
    log = mine.assign(score=(mine["score"] - mine["late_penalty"]).where(mine["status"].eq("graded"))).sort_values(["submitted_at", "lesson_id", "attempt"])
    return typed(log, ATTEMPT_LOG_COLUMNS)

