"""Pacing: who submitted what, when, relative to each lesson's target date.

Every function here is pure and vectorised: tables in, a new tidy DataFrame
out, so they chain with ``DataFrame.pipe``::

    pacing = pacing_table(tables, as_of=as_of)
    summary = pacing.pipe(student_summary, as_of=as_of)

All times are ``datetime64[ns, UTC]``; day counts are float days (86 400 s).
``as_of`` is the instant the analysis looks from: submissions after it, and
grades given after it, are ignored, so a past ``as_of`` replays history.

A lesson counts as *done* for a student once the student has submitted it
(any attempt, graded or not): pacing is about keeping up, and grading may lag.
Whether the work is good enough is the separate ``passed`` column.
"""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import pandas as pd

from .tables import FLOAT, INT, STR, TIME, Column, CourseTables, describe_columns

STATUSES = ("on_time", "late", "missing", "not_yet_due")
SERIES = ("plan", "actual")
STATUS_DTYPE = pd.CategoricalDtype(STATUSES)
SERIES_DTYPE = pd.CategoricalDtype(SERIES)
_CATEGORICAL = {"status": STATUS_DTYPE, "series": SERIES_DTYPE}
_DAY = pd.Timedelta(days=1)

PACING_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (every student enrolled at as_of: enrolled_at <= as_of "
           "and not withdrawn_at <= as_of)."),
    Column("lesson_id", STR, "The lesson (every lesson in the lessons table)."),
    Column("order", INT, "The lesson's 1-based course order."),
    Column("opens_at", TIME, "When the lesson opens (from lessons)."),
    Column("target_at", TIME, "When a student on pace should have submitted (from lessons)."),
    Column("due_at", TIME, "Hard due date (from lessons); NaT = none."),
    Column("submitted", "bool", "True if the student has at least one attempt with submitted_at <= as_of."),
    Column("first_submitted_at", TIME, "Earliest submitted_at <= as_of; NaT if not submitted."),
    Column("last_submitted_at", TIME, "Latest submitted_at <= as_of; NaT if not submitted."),
    Column("days_open_to_first", FLOAT, "(first_submitted_at - opens_at) in days; NaN if not submitted."),
    Column("days_vs_target", FLOAT, "(first_submitted_at - target_at) in days, negative = early; "
           "NaN if not submitted."),
    Column("status", "category", "'on_time': first_submitted_at <= target_at; 'late': first_submitted_at > "
           "target_at; 'missing': not submitted and as_of > target_at; 'not_yet_due': not submitted and "
           "as_of <= target_at. Categories in that order."),
    Column("attempts", INT, "Number of attempts with submitted_at <= as_of (0 if none)."),
    Column("best_score", FLOAT, "max(score - late_penalty) over attempts with status 'graded', "
           "submitted_at <= as_of and graded_at not after as_of; NaN if there is none."),
    Column("max_score", FLOAT, "Points available for the lesson (from lessons)."),
    Column("passed", "bool", "best_score >= pass_fraction * max_score (pass_fraction defaults to 0.5); "
           "False when best_score is NaN."),
)

SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (one row per student in the pacing table, sorted)."),
    Column("lessons_done", INT, "Lessons submitted: count of rows with submitted = True."),
    Column("lessons_expected", INT, "Lessons whose target_at <= as_of (the same for every student)."),
    Column("ahead_behind", INT, "lessons_done - lessons_expected: negative = behind pace, positive = ahead."),
    Column("last_activity", TIME, "Latest submitted_at of any attempt (max of last_submitted_at); NaT if none."),
    Column("days_since_activity", FLOAT, "(as_of - last_activity) in days; NaN if no activity."),
    Column("behind", "bool", "ahead_behind <= -behind_by (behind_by defaults to 1: at least one lesson behind)."),
)

CUMULATIVE_COLUMNS: tuple[Column, ...] = (
    Column("date", TIME, "A UTC calendar day (midnight), daily from the day the first lesson opens."),
    Column("series", "category", "'plan' or 'actual' (categories in that order)."),
    Column("lessons_completed", INT, "Cohort total by the end of that day. plan: number of students x number "
           "of lessons whose target_at falls on or before the day; actual: number of student x lesson "
           "first submissions (first_submitted_at) on or before the day. 'actual' stops at as_of's day "
           "(default: the day of the last first submission); 'plan' runs to the last target day."),
)

HEADLINE_COLUMNS: tuple[Column, ...] = (
    Column("measure", STR, "What is counted, in words."),
    Column("value", FLOAT, "Its value; NaN when it has no denominator."),
)


def resolve_as_of(tables: CourseTables, *, as_of: dt.datetime | str | None = None, now: dt.datetime | None = None) -> pd.Timestamp:
    """The analysis instant: ``as_of`` if given (aware datetime or ISO 8601 text with an offset),
    else the latest ``submitted_at`` in ``tables``, else ``now`` (default: the current time)."""
    if as_of is not None:
        return _timestamp(as_of)
    latest = tables.submissions["submitted_at"].max()
    if pd.notna(latest):
        return latest
    return _timestamp(now if now is not None else dt.datetime.now(dt.timezone.utc))


def pacing_table(tables: CourseTables, *, as_of: dt.datetime | str, pass_fraction: float = 0.5) -> pd.DataFrame:
    """One row per enrolled student x lesson, sorted by student_id then order.

    Students who have not submitted a lesson still get its row (submitted =
    False). Students enrolled after ``as_of`` or withdrawn at or before it are
    left out: they are not part of the cohort at that instant.
    """
    as_of = _timestamp(as_of)
    if not 0.0 <= pass_fraction <= 1.0:
        raise ValueError(f"pass_fraction must be between 0 and 1, not {pass_fraction}")
    keys = ["student_id", "lesson_id"]
    enrollments = tables.enrollments
    active = (enrollments["enrolled_at"] <= as_of) & ~(enrollments["withdrawn_at"] <= as_of)
    lessons = tables.lessons[["lesson_id", "order", "opens_at", "target_at", "due_at", "max_score"]]
    grid = enrollments.loc[active, ["student_id"]].merge(lessons, how="cross")

    submissions = tables.submissions.loc[tables.submissions["submitted_at"] <= as_of]
    activity = submissions.groupby(keys, as_index=False).agg(
        first_submitted_at=("submitted_at", "min"),
        last_submitted_at=("submitted_at", "max"),
        attempts=("attempt", "size"),
    )
    # A grade given after as_of was not known then; an unrecorded graded_at is trusted.
    counted = submissions["status"].eq("graded") & ~(submissions["graded_at"] > as_of)
    best = (
        submissions.loc[counted]
        .assign(net_score=lambda frame: frame["score"] - frame["late_penalty"])
        .groupby(keys, as_index=False)
        .agg(best_score=("net_score", "max"))
    )
    # An empty groupby hands back object keys; the merge needs them as str like the grid's.
    table = (
        grid.merge(activity.astype({key: STR for key in keys}), on=keys, how="left")
        .merge(best.astype({key: STR for key in keys}), on=keys, how="left")
    )
    first = table["first_submitted_at"]
    submitted = first.notna()
    status = np.select(
        [submitted & (first <= table["target_at"]), submitted, table["target_at"] < as_of],
        ["on_time", "late", "missing"],
        default="not_yet_due",
    )
    table = table.assign(
        submitted=submitted,
        days_open_to_first=(first - table["opens_at"]) / _DAY,
        days_vs_target=(first - table["target_at"]) / _DAY,
        status=pd.Categorical(status, dtype=STATUS_DTYPE),
        attempts=table["attempts"].fillna(0).astype(INT),
        best_score=table["best_score"].astype(FLOAT),
        passed=(table["best_score"] >= pass_fraction * table["max_score"]).fillna(False).astype(bool),
    )
    return _typed(table.sort_values(["student_id", "order"]), PACING_COLUMNS)


def student_summary(pacing: pd.DataFrame, *, as_of: dt.datetime | str, behind_by: int = 1) -> pd.DataFrame:
    """One row per student of a :func:`pacing_table` (computed with the same ``as_of``), sorted by student_id."""
    as_of = _timestamp(as_of)
    if behind_by < 1:
        raise ValueError(f"behind_by must be 1 or more, not {behind_by}")
    summary = (
        pacing.assign(expected=pacing["target_at"] <= as_of)
        .groupby("student_id", as_index=False, sort=True)
        .agg(
            lessons_done=("submitted", "sum"),
            lessons_expected=("expected", "sum"),
            last_activity=("last_submitted_at", "max"),
        )
    )
    ahead_behind = summary["lessons_done"] - summary["lessons_expected"]
    summary = summary.assign(
        ahead_behind=ahead_behind,
        days_since_activity=(as_of - summary["last_activity"]) / _DAY,
        behind=ahead_behind <= -behind_by,
    )
    return _typed(summary, SUMMARY_COLUMNS)


def cumulative_completions(pacing: pd.DataFrame, tables: CourseTables, *, as_of: dt.datetime | str | None = None) -> pd.DataFrame:
    """Plan vs actual cumulative lesson completions of the cohort, one row per day and series.

    The plan comes from ``tables.lessons`` (target dates) scaled by the number of
    students in ``pacing``; the actual from ``pacing.first_submitted_at``.
    Sorted by series (plan first), then date.
    """
    # searchsorted wants plain datetime64 arrays: compare UTC days without the zone.
    target_days = np.sort(_utc_days(tables.lessons["target_at"]))
    done_days = np.sort(_utc_days(pacing["first_submitted_at"].dropna()))
    if len(target_days) == 0:
        return _typed(pd.DataFrame({column.name: [] for column in CUMULATIVE_COLUMNS}), CUMULATIVE_COLUMNS)
    start = min(_utc_days(tables.lessons["opens_at"]).min(), done_days[0] if len(done_days) else target_days[0])
    if as_of is not None:
        actual_end = _utc_days(pd.Series([_timestamp(as_of)]))[0]
    else:
        actual_end = done_days[-1] if len(done_days) else start
    days = pd.date_range(start, max(target_days[-1], actual_end), freq="D").to_numpy()
    actual_days = days[days <= actual_end]
    students = pacing["student_id"].nunique()
    frame = pd.DataFrame({
        "date": np.concatenate([days, actual_days]),
        "series": ["plan"] * len(days) + ["actual"] * len(actual_days),
        "lessons_completed": np.concatenate([
            students * np.searchsorted(target_days, days, side="right"),
            np.searchsorted(done_days, actual_days, side="right"),
        ]),
    })
    return _typed(frame.assign(date=frame["date"].dt.tz_localize("UTC")), CUMULATIVE_COLUMNS)


def cohort_headline(pacing: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """A handful of headline numbers, one row per measure, in a fixed order.

    Measures: students (rows of ``summary``); lessons (distinct lesson_id in
    ``pacing``); lessons past target (max lessons_expected); median lessons
    submitted (median lessons_done); students behind pace (sum of behind);
    first submissions on time (%) (100 x on_time / (on_time + late));
    graded lessons passed (%) (100 x passed / rows with a best_score).
    Percentages are rounded to one decimal.
    """
    status = pacing["status"]
    first_submissions = status.isin(["on_time", "late"]).sum()
    graded = pacing["best_score"].notna().sum()
    measures = {
        "students": len(summary),
        "lessons": pacing["lesson_id"].nunique(),
        "lessons past target": summary["lessons_expected"].max() if len(summary) else 0,
        "median lessons submitted": summary["lessons_done"].median(),
        "students behind pace": summary["behind"].sum(),
        "first submissions on time (%)": _percent(status.eq("on_time").sum(), first_submissions),
        "graded lessons passed (%)": _percent(pacing["passed"].sum(), graded),
    }
    headline = pd.DataFrame({"measure": list(measures), "value": list(measures.values())})
    return _typed(headline, HEADLINE_COLUMNS)


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else np.nan


def _typed(frame: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """The documented columns, in documented order and dtypes, with a fresh RangeIndex."""
    dtypes = {column.name: _CATEGORICAL.get(column.name, column.dtype) for column in columns}
    return frame[[column.name for column in columns]].astype(dtypes).reset_index(drop=True)


def _utc_days(times: pd.Series) -> np.ndarray:
    """UTC calendar days (midnight) as zone-less datetime64[ns] values."""
    return times.dt.tz_convert("UTC").dt.floor("D").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _timestamp(when: dt.datetime | str) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    if stamp.tz is None:
        raise ValueError(f"{when!r} has no time zone; pass an aware datetime or ISO 8601 text with an offset")
    return stamp.tz_convert("UTC").as_unit("ns")


def _document(function: object, columns: tuple[Column, ...]) -> None:
    function.__doc__ = (function.__doc__ or "") + "\n\n    Columns:\n\n" + textwrap.indent(describe_columns(columns), "    ") + "\n"


_document(pacing_table, PACING_COLUMNS)
_document(student_summary, SUMMARY_COLUMNS)
_document(cumulative_completions, CUMULATIVE_COLUMNS)
_document(cohort_headline, HEADLINE_COLUMNS)
