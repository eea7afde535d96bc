"""Persistence: how long students keep going, as a Kaplan-Meier curve with censoring.

A student *stops* when they become inactive (no submission for tau days while
lessons are left; ``inactive_since`` of :func:`~analytics.students.student_metrics`)
or withdraw, whichever comes first. Students still going at ``as_of`` are
censored there, and students who passed every lesson are censored when they
finished: they can no longer stop, and counting them as stopped would punish
finishing (a finisher who withdraws later is still censored when they
finished). Time runs from enrolment, or from the student's course start
(``since="course_start"``, when registrations open months before the course:
a student enrolling later then enters the curve late, left-truncated)::

    durations = students.pipe(persistence_times, as_of=as_of, since="course_start")
    curve = durations.pipe(kaplan_meier)

Once ``as_of`` is past the course end nobody has work left to submit, so every
student who has not finished becomes inactive after tau and the curve falls to
0: :func:`after_course_end` says when that is the case.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .columns import NAT, days_between, document, ns, typed
from .pacing import to_instant
from .tables import FLOAT, INT, STR, Column, CourseTables

ENDINGS = ("inactive", "withdrawn", "finished", "active")
SINCE = ("enrolment", "course_start")
ENDING_DTYPE = pd.CategoricalDtype(ENDINGS)

DURATION_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (one row per row of the students table, same order)."),
    Column("duration_days", FLOAT, "Days from the origin (enrolled_at with since='enrolment', the student's "
           "first_opens_at with since='course_start') to the end of observation: the stop if stopped, else "
           "finished_at if finished, else as_of; at least 0."),
    Column("entry_days", FLOAT, "Days from the origin to when the student entered observation: 0 since enrolment; "
           "since the course start, max(0, enrolled_at - first_opens_at), so a late enroller is at risk only "
           "from their enrolment (left truncation)."),
    Column("stopped", "bool", "True if a stop was observed (an event); False if censored."),
    Column("ending", "category", "How observation ended: 'finished' (every lesson passed: censored at finished_at, "
           "even if they withdrew later), else 'inactive' (inactive_since, if not after withdrawn_at), "
           "'withdrawn' (withdrawn_at) or 'active' (censored at as_of). Categories: inactive, withdrawn, finished, "
           "active."),
)

SURVIVAL_COLUMNS: tuple[Column, ...] = (
    Column("days", FLOAT, "t: a duration at which someone stopped or was censored, ascending; the first row is "
           "t = 0."),
    Column("at_risk", INT, "n: students with entry_days <= t <= duration_days (censored at t still count as at "
           "risk at t; without entry_days, everyone enters at 0)."),
    Column("stopped", INT, "d: students who stopped at t."),
    Column("censored", INT, "Students censored at t."),
    Column("survival", FLOAT, "Kaplan-Meier S(t) = prod over t_i <= t of (1 - d_i / n_i): the estimated share of "
           "students still going t days after enrolling."),
    Column("std_error", FLOAT, "Greenwood's standard error S(t) sqrt(sum over t_i <= t of d_i / (n_i (n_i - "
           "d_i))); NaN once S(t) = 0."),
)


def persistence_times(students: pd.DataFrame, *, as_of: dt.datetime | str, since: str = "enrolment") -> pd.DataFrame:
    """Per student of a :func:`~analytics.students.student_metrics` table (computed with the same
    ``as_of``): time from the origin (``since``: ``"enrolment"`` or ``"course_start"``) to stopping, or to
    censoring."""
    if since not in SINCE:
        raise ValueError(f"since must be one of {', '.join(SINCE)}, not {since!r}")
    now = to_instant(as_of).value
    inactive, withdrawn = ns(students["inactive_since"]), ns(students["withdrawn_at"])
    finished = ns(students["finished_at"])
    # NaT is the int64 minimum: map it to "never" before taking the earlier of the two stops.
    never = np.iinfo(np.int64).max
    stop = np.minimum(np.where(inactive != NAT, inactive, never), np.where(withdrawn != NAT, withdrawn, never))
    done = finished != NAT
    stopped = (stop != never) & ~done  # finishing is not stopping, whatever happens after it
    ending = np.select([done, stopped & (stop == inactive), stopped], [2, 0, 1], default=3)
    end = np.select([done, stopped], [finished, stop], default=now)
    enrolled = ns(students["enrolled_at"])
    origin = enrolled if since == "enrolment" else ns(students["first_opens_at"])
    durations = pd.DataFrame({
        "student_id": students["student_id"].to_numpy(),
        "duration_days": np.maximum(0.0, days_between(end, origin)),
        "entry_days": np.maximum(0.0, days_between(enrolled, origin)),
        "stopped": stopped,
        "ending": pd.Categorical.from_codes(ending, dtype=ENDING_DTYPE),
    })
    return typed(durations, DURATION_COLUMNS, categories={"ending": ENDING_DTYPE})


def kaplan_meier(durations: pd.DataFrame) -> pd.DataFrame:
    """The Kaplan-Meier estimate from ``duration_days`` and ``stopped`` (as :func:`persistence_times`
    returns them), with late entry where ``entry_days`` is given. At a time where some stop and some
    are censored, the censored count as still at risk (the usual convention). With no students the
    table has just the t = 0 row, with NaN S(t)."""
    time = durations["duration_days"].to_numpy(dtype=np.float64)
    event = durations["stopped"].to_numpy(dtype=bool)
    entry = (durations["entry_days"].to_numpy(dtype=np.float64) if "entry_days" in durations.columns
             else np.zeros(len(time)))
    if np.isnan(time).any():
        raise ValueError("duration_days has missing values")
    days, index = np.unique(np.r_[0.0, time], return_inverse=True)
    index = index[1:]  # the leading 0 only makes sure t = 0 is a row
    stopped = np.bincount(index, weights=event, minlength=len(days)).astype(np.int64)
    censored = np.bincount(index, weights=~event, minlength=len(days)).astype(np.int64)
    # Everyone whose duration is t or later: the reversed cumulative count of all endings.
    at_risk = np.cumsum((stopped + censored)[::-1])[::-1]
    at_risk -= len(entry) - np.searchsorted(np.sort(entry), days, side="right")  # not entered yet at t
    with np.errstate(divide="ignore", invalid="ignore"):
        # Nobody at risk yet (everyone enters later) leaves S(t) at 1; no students at all leaves it unknown.
        survival = np.cumprod(np.where(at_risk > 0, 1.0 - stopped / at_risk, 1.0 if len(time) else np.nan))
        greenwood = np.cumsum(np.where(stopped > 0, stopped / (at_risk * (at_risk - stopped)), 0.0))
        std_error = np.where(survival > 0, survival * np.sqrt(greenwood), np.nan)
    curve = pd.DataFrame({"days": days, "at_risk": at_risk, "stopped": stopped, "censored": censored,
                          "survival": survival, "std_error": std_error})
    return typed(curve, SURVIVAL_COLUMNS)


def after_course_end(tables: CourseTables, *, as_of: dt.datetime | str) -> pd.Timestamp | None:
    """The course end (the latest due date, or target where there is none, timelines included) if
    ``as_of`` is after it, else None: from then on every student who has not finished counts as
    stopped once tau has passed, and the persistence curve falls to 0."""
    dates = [tables.lessons] + ([tables.timelines] if tables.timelines is not None else [])
    end = max(frame["due_at"].fillna(frame["target_at"]).max() for frame in dates)
    return end if pd.notna(end) and to_instant(as_of) > end else None


def median_persistence(curve: pd.DataFrame) -> float:
    """The first t with S(t) <= 0.5 in a :func:`kaplan_meier` table; NaN if the curve stays above 0.5."""
    below = curve.loc[curve["survival"] <= 0.5, "days"]
    return float(below.iloc[0]) if len(below) else float("nan")


document(persistence_times, DURATION_COLUMNS)
document(kaplan_meier, SURVIVAL_COLUMNS)
