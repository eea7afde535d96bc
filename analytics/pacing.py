"""Pacing: per student x lesson, when the work came in against that student's own dates.

Every function here is pure and vectorised: tables in, a new tidy DataFrame
out, so they chain with ``DataFrame.pipe``::

    pacing = pacing_table(tables, as_of=as_of)
    students = pacing.pipe(student_metrics, as_of=as_of)

All times are ``datetime64[ns, UTC]``; day counts are float days (86 400 s).
``as_of`` is the instant the analysis looks from: submissions after it are
ignored, so a past ``as_of`` replays history. The grade of an attempt
submitted by then counts whenever it was given: it describes the work
submitted by then, and batch grading or a regrade (which moves ``graded_at``)
must not erase the past.

Each student has their own dates: r (``opens_at``), d (``target_at``) and the
due date come from the optional ``timelines`` table where it lists the
student and lesson (self-pacing, extensions), else from ``lessons``.

A lesson counts as *submitted* once the student has sent any attempt (grading
may lag) and as *passed* once a graded attempt reaches the pass mark,
``pass_fraction`` x the lesson's ``max_score`` (scores after late penalty).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .columns import DAY_NS, NAT, days_between, document, empty, ns, typed, utc_times
from .grouping import sorted_keys
from .keys import equal_to, positions, remember_codes
from .tables import FLOAT, INT, STR, TIME, Column, CourseTables

STATUSES = ("on_time", "late", "missing", "not_yet_due")
SERIES = ("plan", "actual")
STATUS_DTYPE = pd.CategoricalDtype(STATUSES)
SERIES_DTYPE = pd.CategoricalDtype(SERIES)
_DAY = pd.Timedelta(days=1)
_NEVER = np.iinfo(np.int64).max

PACING_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student: everyone enrolled at as_of (enrolled_at <= as_of) who has not "
           "withdrawn by then (withdrawn_at <= as_of); with include_withdrawn=True those who have, too."),
    Column("lesson_id", STR, "The lesson (every lesson in the lessons table)."),
    Column("order", INT, "The lesson's 1-based course order."),
    Column("enrolled_at", TIME, "When the student enrolled (from enrollments)."),
    Column("withdrawn_at", TIME, "When the student withdrew if that is at or before as_of, else NaT. The row of a "
           "withdrawn student is measured as of withdrawn_at: cutoff = withdrawn_at if set, else as_of."),
    Column("opens_at", TIME, "r: when the lesson opens for this student (timelines if it lists the student x "
           "lesson, else lessons)."),
    Column("target_at", TIME, "d: this student's target date for the lesson (timelines, else lessons)."),
    Column("due_at", TIME, "This student's hard due date (timelines, else lessons); NaT = none."),
    Column("submitted", "bool", "True if the student has at least one attempt with submitted_at <= cutoff."),
    Column("first_submitted_at", TIME, "f: earliest submitted_at <= cutoff; NaT if not submitted."),
    Column("last_submitted_at", TIME, "Latest submitted_at <= cutoff; NaT if not submitted."),
    Column("days_open_to_first", FLOAT, "(f - r) in days; NaN if not submitted."),
    Column("days_vs_target", FLOAT, "Slack: (f - d) in days, negative = early; NaN if not submitted."),
    Column("procrastination", FLOAT, "Procrastination index (f - r) / (d - r): 0 = as soon as the lesson opened, "
           "1 = at the target, above 1 = late; NaN if not submitted or d == r."),
    Column("status", "category", "'on_time': f <= d; 'late': f > d; 'missing': not submitted and cutoff > d; "
           "'not_yet_due': not submitted and cutoff <= d. Categories in that order."),
    Column("attempts", INT, "A: number of attempts with submitted_at <= cutoff (0 if none)."),
    Column("first_score", FLOAT, "score - late_penalty of the first counted attempt if it is graded (status "
           "'graded', whenever that happened); NaN otherwise."),
    Column("best_score", FLOAT, "max(score - late_penalty) over graded attempts (as for first_score) with "
           "submitted_at <= cutoff; NaN if there is none."),
    Column("max_score", FLOAT, "Points available for the lesson (from lessons)."),
    Column("first_passed", "bool", "first_score >= pass mark (pass_fraction x max_score); False when first_score "
           "is NaN."),
    Column("passed", "bool", "best_score >= pass mark; False when best_score is NaN."),
    Column("passed_at", TIME, "submitted_at of the earliest attempt that reached the pass mark; NaT if none."),
    Column("attempts_to_pass", FLOAT, "Attempts until passing: the 1-based position, in attempt order, of that "
           "attempt among the counted ones; NaN if not passed."),
    Column("failed_attempts", INT, "Graded attempts (as for best_score) below the pass mark."),
)

CUMULATIVE_COLUMNS: tuple[Column, ...] = (
    Column("date", TIME, "A UTC calendar day (midnight), daily from the day the first lesson opens."),
    Column("series", "category", "'plan' or 'actual' (categories in that order)."),
    Column("lessons_completed", INT, "Cohort total by the end of that day. plan: number of rows of the pacing "
           "table whose (personal) target_at falls on or before the day; actual: number of student x lesson "
           "first submissions (first_submitted_at) on or before the day. 'actual' stops at as_of's day "
           "(default: the day of the last first submission); 'plan' runs to the last target day."),
)


def to_instant(when: dt.datetime | str) -> pd.Timestamp:
    """An aware datetime or ISO 8601 text with an offset, as a UTC nanosecond Timestamp."""
    stamp = pd.Timestamp(when)
    if stamp.tz is None:
        raise ValueError(f"{when!r} has no time zone; pass an aware datetime or ISO 8601 text with an offset")
    return stamp.tz_convert("UTC").as_unit("ns")


def resolve_as_of(tables: CourseTables, *, as_of: dt.datetime | str | None = None, now: dt.datetime | None = None) -> pd.Timestamp:
    """The analysis instant: ``as_of`` if given (aware datetime or ISO 8601 text with an offset),
    else the latest ``submitted_at`` in ``tables``, else ``now`` (default: the current time)."""
    if as_of is not None:
        return to_instant(as_of)
    latest = tables.submissions["submitted_at"].max()
    if pd.notna(latest):
        return latest
    return to_instant(now if now is not None else dt.datetime.now(dt.timezone.utc))


def pacing_table(tables: CourseTables, *, as_of: dt.datetime | str, pass_fraction: float = 0.5,
                 include_withdrawn: bool = False) -> pd.DataFrame:
    """One row per student x lesson, sorted by student_id then order.

    Students who have not submitted a lesson still get its row (submitted =
    False). Students enrolled after ``as_of`` are left out; so are those who
    withdrew at or before it unless ``include_withdrawn`` (the funnel, the
    persistence curve and the withdrawn label need them).
    """
    as_of = to_instant(as_of)
    if not 0.0 <= pass_fraction <= 1.0:
        raise ValueError(f"pass_fraction must be between 0 and 1, not {pass_fraction}")
    now = as_of.value
    enrollments = tables.enrollments
    enrolled, withdrawn = ns(enrollments["enrolled_at"]), ns(enrollments["withdrawn_at"])
    gone = (withdrawn != NAT) & (withdrawn <= now)
    members = (enrolled <= now) & (include_withdrawn | ~gone)
    cohort = enrollments.loc[members].assign(withdrawn_at=utc_times(np.where(gone, withdrawn, NAT)[members]))
    cohort = cohort.sort_values("student_id", kind="stable")
    lessons = tables.lessons.sort_values("order", kind="stable")
    n_students, n_lessons = len(cohort), len(lessons)
    student = np.repeat(np.arange(n_students), n_lessons)
    lesson = np.tile(np.arange(n_lessons), n_students)
    left = ns(cohort["withdrawn_at"])
    cutoff = np.where(left != NAT, left, now)[student]
    opens, target, due = _personal_dates(tables, cohort=cohort, lessons=lessons)
    max_score = lessons["max_score"].to_numpy(dtype=np.float64)[lesson]

    work = _attempt_outcomes(tables, cohort=cohort, lessons=lessons, as_of=now, pass_fraction=pass_fraction)
    first = work["first"]
    submitted = first != NAT
    status = np.select(
        [submitted & (first <= target), submitted, cutoff > target],
        [0, 1, 2],
        default=3,
    )
    best = work["best"]
    pass_mark = pass_fraction * max_score
    with np.errstate(invalid="ignore", divide="ignore"):
        procrastination = days_between(first, opens) / days_between(target, opens)
    procrastination[target == opens] = np.nan
    # copy=False: the arrays are this function's own, and stacking a million rows of each dtype into one
    # block copied all of them.
    table = pd.DataFrame(copy=False, data={
        "student_id": cohort["student_id"].array.take(student),
        "lesson_id": lessons["lesson_id"].array.take(lesson),
        "order": lessons["order"].to_numpy()[lesson],
        "enrolled_at": utc_times(ns(cohort["enrolled_at"])[student]),
        "withdrawn_at": utc_times(left[student]),
        "opens_at": utc_times(opens),
        "target_at": utc_times(target),
        "due_at": utc_times(due),
        "submitted": submitted,
        "first_submitted_at": utc_times(first),
        "last_submitted_at": utc_times(work["last"]),
        "days_open_to_first": days_between(first, opens),
        "days_vs_target": days_between(first, target),
        "procrastination": procrastination,
        "status": pd.Categorical.from_codes(status, dtype=STATUS_DTYPE),
        "attempts": work["attempts"],
        "first_score": work["first_score"],
        "best_score": best,
        "max_score": max_score,
        "first_passed": work["first_score"] >= pass_mark,
        "passed": best >= pass_mark,
        "passed_at": utc_times(work["passed_at"]),
        "attempts_to_pass": work["attempts_to_pass"],
        "failed_attempts": work["failed"],
    })
    table = typed(table, PACING_COLUMNS, categories={"status": STATUS_DTYPE})
    ids = pd.Index(cohort["student_id"])
    if ids.is_unique:  # one cohort's ids (tables with several are analysed cohort by cohort)
        remember_codes(table["student_id"], student, ids)
    return table


def _personal_dates(tables: CourseTables, *, cohort: pd.DataFrame, lessons: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """(opens, target, due) per grid row as int64 ns: the lesson's dates, overridden by timelines."""
    n_students = len(cohort)
    dates = [np.tile(ns(lessons[column]), n_students) for column in ("opens_at", "target_at", "due_at")]
    timelines = tables.timelines
    if timelines is not None and len(timelines):
        student = positions(cohort["student_id"], timelines["student_id"])
        lesson = positions(lessons["lesson_id"], timelines["lesson_id"])
        listed = (student >= 0) & (lesson >= 0)  # timelines of students outside the cohort do not matter here
        row = student[listed] * len(lessons) + lesson[listed]
        for values, column in zip(dates, ("opens_at", "target_at", "due_at")):
            values[row] = ns(timelines[column])[listed]
    return tuple(dates)


def _attempt_outcomes(tables: CourseTables, *, cohort: pd.DataFrame, lessons: pd.DataFrame, as_of: int,
                      pass_fraction: float) -> dict[str, np.ndarray]:
    """Per grid row (student-major, lesson order): what the counted attempts add up to.

    Attempts are sorted by grid row, then attempt number, so each student x
    lesson is one contiguous run and every aggregate is a ``reduceat``.
    """
    n_lessons = len(lessons)
    size = len(cohort) * n_lessons
    out = {
        "first": np.full(size, NAT), "last": np.full(size, NAT), "passed_at": np.full(size, NAT),
        "attempts": np.zeros(size, dtype=np.int64), "failed": np.zeros(size, dtype=np.int64),
        "first_score": np.full(size, np.nan), "best": np.full(size, np.nan), "attempts_to_pass": np.full(size, np.nan),
    }
    subs = tables.submissions
    student = positions(cohort["student_id"], subs["student_id"])
    lesson = positions(lessons["lesson_id"], subs["lesson_id"])
    at = ns(subs["submitted_at"])
    left = ns(cohort["withdrawn_at"])
    cutoff = np.where(left != NAT, left, as_of)
    # An attempt of someone outside the cohort (student -1) reads the appended NaT cutoff: it never counts.
    counted = (at <= np.append(cutoff, NAT)[student]) & (lesson >= 0)
    if not counted.any():
        return out
    row = student[counted] * n_lessons + lesson[counted]
    attempt = subs["attempt"].to_numpy(dtype=np.int64)[counted]
    top = int(attempt.max()) + 1
    if top <= 2**62 // (int(row.max()) + 1):  # one integer per (row, attempt), distinct: validated
        order = sorted_keys(row * top + attempt)
    else:
        order = np.lexsort((attempt, row))
    row, at = row[order], at[counted][order]
    known = equal_to(subs["status"], "graded")[counted][order]
    net = (subs["score"].to_numpy(dtype=np.float64) - subs["late_penalty"].to_numpy(dtype=np.float64))[counted][order]
    net = np.where(known, net, np.nan)
    mark = pass_fraction * lessons["max_score"].to_numpy(dtype=np.float64)[row % n_lessons]
    passing, failing = known & (net >= mark), known & (net < mark)

    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    ends = np.r_[starts[1:], len(row)]
    cells = row[starts]
    # Attempts are numbered in the order of submitted_at (validated): a run's last attempt is its latest,
    # and its first passing attempt is its earliest pass.
    out["first"][cells] = at[starts]
    out["last"][cells] = at[ends - 1]
    out["attempts"][cells] = ends - starts
    out["first_score"][cells] = net[starts]
    with np.errstate(invalid="ignore"):
        out["best"][cells] = np.fmax.reduceat(net, starts)
    first_pass = np.minimum.reduceat(np.where(passing, np.arange(len(row)), _NEVER), starts)
    passed = first_pass != _NEVER
    out["passed_at"][cells[passed]] = at[first_pass[passed]]
    out["attempts_to_pass"][cells[passed]] = first_pass[passed] - starts[passed] + 1
    failed = np.r_[0, np.cumsum(failing)]
    out["failed"][cells] = failed[ends] - failed[starts]
    return out


def cumulative_completions(pacing: pd.DataFrame, tables: CourseTables, *, as_of: dt.datetime | str | None = None) -> pd.DataFrame:
    """Plan vs actual cumulative lesson completions of the cohort, one row per day and series.

    The plan counts the rows of ``pacing`` by their (personal) ``target_at``,
    the actual by ``first_submitted_at``; ``tables.lessons`` gives the first
    day. Sorted by series (plan first), then date.
    """
    lesson_targets = _utc_days(tables.lessons["target_at"])
    if len(lesson_targets) == 0:
        return empty(CUMULATIVE_COLUMNS, categories={"series": SERIES_DTYPE})
    target_days, done_days = _utc_days(pacing["target_at"]), _utc_days(pacing["first_submitted_at"])
    target_days, done_days = target_days[target_days != NAT], done_days[done_days != NAT]
    last_target = max(lesson_targets.max(), target_days.max()) if len(target_days) else lesson_targets.max()
    start = min(_utc_days(tables.lessons["opens_at"]).min(), done_days.min() if len(done_days) else last_target)
    if as_of is not None:
        actual_end = _utc_days(pd.Series([to_instant(as_of)]))[0]
    else:
        actual_end = done_days.max() if len(done_days) else start
    days = start + DAY_NS * np.arange((max(last_target, actual_end) - start) // DAY_NS + 1)
    actual_days = days[days <= actual_end]
    frame = pd.DataFrame({
        "date": utc_times(np.concatenate([days, actual_days])),
        "series": ["plan"] * len(days) + ["actual"] * len(actual_days),
        "lessons_completed": np.concatenate([_by_day(target_days, start=start, days=len(days)),
                                             _by_day(done_days, start=start, days=len(actual_days))]),
    })
    return typed(frame, CUMULATIVE_COLUMNS, categories={"series": SERIES_DTYPE})


def _by_day(values: np.ndarray, *, start: int, days: int) -> np.ndarray:
    """How many of ``values`` (UTC days as int64 ns) fall on or before each of ``days`` days from ``start``:
    one count per day and a running sum, no sort of a million days. Days before ``start`` count from the
    first day; days after the last are not counted."""
    index = np.clip((values - start) // DAY_NS, 0, days)
    return np.cumsum(np.bincount(index, minlength=days + 1)[:days])


def _utc_days(times: pd.Series) -> np.ndarray:
    """UTC calendar days (midnight) as int64 nanoseconds; NaT stays NaT (the int64 minimum)."""
    # Integer arithmetic on the nanoseconds (NumPy's % floors towards the past, as Timestamp.floor does):
    # the Series .dt route took a second for the million rows of a big pacing table.
    values = ns(times)
    return np.where(values == NAT, NAT, values - values % DAY_NS)


document(pacing_table, PACING_COLUMNS)
document(cumulative_completions, CUMULATIVE_COLUMNS)
