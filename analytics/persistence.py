"""Persistence: how long students keep going, as a Kaplan-Meier curve with censoring.

A student *stops* when they become inactive (no submission for tau days while
lessons are left; ``inactive_since`` of :func:`~analytics.students.student_metrics`)
or withdraw, whichever comes first. Students still going at ``as_of`` are
censored there, and students who passed every lesson are censored when they
finished: they can no longer stop, and counting them as stopped would punish
finishing. Time runs from enrolment::

    durations = students.pipe(persistence_times, as_of=as_of)
    curve = durations.pipe(kaplan_meier)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .columns import NAT, days_between, document, ns, typed
from .pacing import to_instant
from .tables import FLOAT, INT, STR, Column

ENDINGS = ("inactive", "withdrawn", "finished", "active")
ENDING_DTYPE = pd.CategoricalDtype(ENDINGS)

DURATION_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (one row per row of the students table, same order)."),
    Column("duration_days", FLOAT, "Days from enrolled_at to the end of observation: the stop if stopped, else "
           "finished_at if finished, else as_of; at least 0."),
    Column("stopped", "bool", "True if a stop was observed (an event); False if censored."),
    Column("ending", "category", "How observation ended: 'inactive' (inactive_since, if not after withdrawn_at), "
           "'withdrawn' (withdrawn_at), 'finished' (censored at finished_at) or 'active' (censored at as_of). "
           "Categories in that order."),
)

SURVIVAL_COLUMNS: tuple[Column, ...] = (
    Column("days", FLOAT, "t: a duration at which someone stopped or was censored, ascending; the first row is "
           "t = 0."),
    Column("at_risk", INT, "n: students with duration_days >= t (censored at t still count as at risk at t)."),
    Column("stopped", INT, "d: students who stopped at t."),
    Column("censored", INT, "Students censored at t."),
    Column("survival", FLOAT, "Kaplan-Meier S(t) = prod over t_i <= t of (1 - d_i / n_i): the estimated share of "
           "students still going t days after enrolling."),
    Column("std_error", FLOAT, "Greenwood's standard error S(t) sqrt(sum over t_i <= t of d_i / (n_i (n_i - "
           "d_i))); NaN once S(t) = 0."),
)


def persistence_times(students: pd.DataFrame, *, as_of: dt.datetime | str) -> pd.DataFrame:
    """Per student of a :func:`~analytics.students.student_metrics` table (computed with the same
    ``as_of``): time from enrolment to stopping, or to censoring."""
    now = to_instant(as_of).value
    inactive, withdrawn = ns(students["inactive_since"]), ns(students["withdrawn_at"])
    finished = ns(students["finished_at"])
    # NaT is the int64 minimum: map it to "never" before taking the earlier of the two stops.
    never = np.iinfo(np.int64).max
    stop = np.minimum(np.where(inactive != NAT, inactive, never), np.where(withdrawn != NAT, withdrawn, never))
    stopped = stop != never
    ending = np.select([stopped & (stop == inactive), stopped, finished != NAT], [0, 1, 2], default=3)
    end = np.select([stopped, finished != NAT], [stop, finished], default=now)
    durations = pd.DataFrame({
        "student_id": students["student_id"].to_numpy(),
        "duration_days": np.maximum(0.0, days_between(end, ns(students["enrolled_at"]))),
        "stopped": stopped,
        "ending": pd.Categorical.from_codes(ending, dtype=ENDING_DTYPE),
    })
    return typed(durations, DURATION_COLUMNS, categories={"ending": ENDING_DTYPE})


def kaplan_meier(durations: pd.DataFrame) -> pd.DataFrame:
    """The Kaplan-Meier estimate from ``duration_days`` and ``stopped`` (as :func:`persistence_times`
    returns them). At a time where some stop and some are censored, the censored count as still at
    risk (the usual convention). With no students the table has just the t = 0 row, with NaN S(t)."""
    time = durations["duration_days"].to_numpy(dtype=np.float64)
    event = durations["stopped"].to_numpy(dtype=bool)
    if np.isnan(time).any():
        raise ValueError("duration_days has missing values")
    days, index = np.unique(np.r_[0.0, time], return_inverse=True)
    index = index[1:]  # the leading 0 only makes sure t = 0 is a row
    stopped = np.bincount(index, weights=event, minlength=len(days)).astype(np.int64)
    censored = np.bincount(index, weights=~event, minlength=len(days)).astype(np.int64)
    # Everyone whose duration is t or later: the reversed cumulative count of all endings.
    at_risk = np.cumsum((stopped + censored)[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(np.where(at_risk > 0, 1.0 - stopped / at_risk, np.nan))
        greenwood = np.cumsum(np.where(stopped > 0, stopped / (at_risk * (at_risk - stopped)), 0.0))
        std_error = np.where(survival > 0, survival * np.sqrt(greenwood), np.nan)
    curve = pd.DataFrame({"days": days, "at_risk": at_risk, "stopped": stopped, "censored": censored,
                          "survival": survival, "std_error": std_error})
    return typed(curve, SURVIVAL_COLUMNS)


def median_persistence(curve: pd.DataFrame) -> float:
    """The first t with S(t) <= 0.5 in a :func:`kaplan_meier` table; NaN if the curve stays above 0.5."""
    below = curve.loc[curve["survival"] <= 0.5, "days"]
    return float(below.iloc[0]) if len(below) else float("nan")


document(persistence_times, DURATION_COLUMNS)
document(kaplan_meier, SURVIVAL_COLUMNS)
