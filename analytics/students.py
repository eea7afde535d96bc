"""Per-student metrics: pace, activity, timing habits and a projected finish, one row per student.

:func:`student_metrics` reduces a :func:`~analytics.pacing.pacing_table`
(built with ``include_withdrawn=True`` to see withdrawn students too) plus the
submissions log to one row per student, with vectorised group-bys only::

    pacing = pacing_table(tables, as_of=as_of, include_withdrawn=True)
    students = pacing.pipe(student_metrics, tables.submissions, as_of=as_of)

Each student is measured up to their *cutoff*: ``withdrawn_at`` if they have
withdrawn, else ``as_of``; and from their *start*: the later of enrolment and
the first lesson opening for them (nobody is idle before there is work).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .columns import DAY_NS, NAT, days_between, document, empty, ns, typed, utc_times
from .errors import RulesError
from .grouping import Groups, sorted_pairs, sorted_within
from .keys import factorized, positions, remember_codes
from .pacing import to_instant
from .tables import FLOAT, INT, STR, TIME, Column

LABELS = ("finished", "on_track", "behind", "inactive", "withdrawn")
#: The longest inactivity threshold, in days (a century): beyond it no one is ever inactive, and
#: times past it overflow pandas' nanosecond clock.
MAX_INACTIVE_DAYS = 36_500.0
_NEVER = np.iinfo(np.int64).max
LABEL_DTYPE = pd.CategoricalDtype(LABELS)

STUDENT_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (one row per student in the pacing table, sorted)."),
    Column("enrolled_at", TIME, "When the student enrolled."),
    Column("withdrawn_at", TIME, "When the student withdrew, if at or before as_of; else NaT."),
    Column("first_opens_at", TIME, "The student's course start: the earliest opens_at of their lessons."),
    Column("started_at", TIME, "Start: max(enrolled_at, first_opens_at)."),
    Column("lessons", INT, "Lessons in the course (rows of the pacing table for the student)."),
    Column("lessons_submitted", INT, "Lessons with at least one attempt (submitted)."),
    Column("lessons_passed", INT, "Lessons passed by the cutoff (passed)."),
    Column("lessons_expected", INT, "Lessons whose target_at <= cutoff (cutoff = withdrawn_at, else as_of)."),
    Column("pace_gap", INT, "Pace gap: lessons_passed - lessons_expected; negative = behind, positive = ahead."),
    Column("next_lesson_id", STR, "The first lesson in course order not passed yet; null if all are passed."),
    Column("days_behind", FLOAT, "max(0, cutoff - target_at of next_lesson_id) in days; 0 if all are passed."),
    Column("furthest_order", INT, "Highest course order among submitted lessons; 0 if none."),
    Column("next_target_at", TIME, "The student's target_at of the lesson after furthest_order in course order (the "
           "one they would submit next going on); NaT if they submitted the last lesson."),
    Column("last_activity", TIME, "Latest submitted_at of any attempt up to the cutoff; NaT if none."),
    Column("days_silent", FLOAT, "(cutoff - max(last_activity, started_at)) in days, at least 0."),
    Column("finished_at", TIME, "When the last lesson was passed (max passed_at) if all are passed; else NaT."),
    Column("inactive_days", FLOAT, "tau, this student's inactivity threshold in days: the inactive_days option; "
           "or, with inactive_gap_multiple m, m x g where g is the gap between the student's consecutive targets "
           "around their quiet start q = max(last_activity, started_at): g = t_next - t_prev with t_next the first "
           "target after q (the last target if none is) and t_prev the target before t_next (first_opens_at if "
           "none); inactive_days where g is 0. At most 36,500."),
    Column("inactive_since", TIME, "q + tau (see inactive_days), if that is not after the cutoff and some lesson is "
           "not passed yet (no submission for tau days); else NaT. Finishers are never inactive."),
    Column("label", "category", "'finished' if every lesson is passed by the cutoff; else 'withdrawn' if "
           "withdrawn_at is set; else 'inactive' if inactive_since is set; else 'behind' if pace_gap <= -behind_by; "
           "else 'on_track'. Categories: finished, on_track, behind, inactive, withdrawn."),
    Column("cramming_share", FLOAT, "Per student: the share of this student's submitted lessons first submitted in "
           "the cram_hours (48) before the target, target_at - cram_hours <= first_submitted_at <= target_at; NaN "
           "if none submitted. (The share over all first submissions, per submission, is in cohort_headline.)"),
    Column("relative_timing", FLOAT, "Mean over submitted lessons of the percentile of the student's "
           "procrastination index among everyone in the table who submitted that lesson, (rank - 0.5) / n with "
           "ties sharing their average rank: 0 = earliest, 1 = latest, 0.5 = typical; NaN if none."),
    Column("active_week_share", FLOAT, "Share of the weeks from started_at to the cutoff (or finished_at) in "
           "which the student submitted anything: distinct floor((submitted_at - started_at) / 7 days) over "
           "ceil(span / 7 days), at least one week."),
    Column("gap_cv", FLOAT, "Coefficient of variation (population std / mean) of the gaps between the "
           "student's consecutive submissions (all attempts); NaN with fewer than two gaps or a zero mean."),
    Column("projected_finish", TIME, "finished_at if finished; else the finish at the student's own pace so "
           "far. p = busy time / (lessons_passed, + 1 if a lesson is open and not passed at the cutoff), where busy "
           "time is the time since started_at with a lesson open and not passed yet; the lessons left (in opening "
           "order) then take p each, one after another, none before it opens and the first not before the cutoff: "
           "f_1 = max(cutoff, max(last passed_at, opens_at_1) + p), f_i = max(f_(i-1), opens_at_i) + p. NaT if "
           "nothing is passed yet."),
    Column("course_end", TIME, "The end of the student's course: the latest of their due_at and target_at."),
    Column("projected_late", "bool", "projected_finish > course_end while the course is still running (cutoff <= "
           "course_end); False without a projection, and after the course end, when it is no longer a forecast."),
)


def student_metrics(pacing: pd.DataFrame, submissions: pd.DataFrame, *, as_of: dt.datetime | str,
                    inactive_days: float = 14.0, inactive_gap_multiple: float | None = None, behind_by: int = 1,
                    cram_hours: float = 48.0) -> pd.DataFrame:
    """One row per student of ``pacing`` (a :func:`~analytics.pacing.pacing_table` computed with the same
    ``as_of``), sorted by student_id; ``submissions`` is the log (every attempt) for the regularity measures.

    ``inactive_days`` is tau, the silence after which a student with lessons
    left is inactive; ``inactive_gap_multiple``, if given, makes tau that
    multiple of the gap between the student's targets instead (a course whose
    targets are weeks apart is not abandoned after two quiet weeks);
    ``behind_by`` how many lessons behind counts as behind. Thresholds out of
    range raise :class:`~analytics.errors.RulesError`.
    """
    now = to_instant(as_of).value
    _check_threshold("inactive_days", inactive_days, high=MAX_INACTIVE_DAYS)
    if inactive_gap_multiple is not None:
        _check_threshold("inactive_gap_multiple", inactive_gap_multiple, high=100.0)
    _check_threshold("cram_hours", cram_hours, high=24 * 365.0)
    if isinstance(behind_by, bool) or not isinstance(behind_by, (int, np.integer)) or behind_by < 1:
        raise RulesError("behind_by", f"must be a whole number of lessons, at least 1, not {behind_by!r}")
    if pacing.empty:
        return empty(STUDENT_COLUMNS, categories={"label": LABEL_DTYPE})
    rows, student, ids = _by_student(pacing)
    starts = np.flatnonzero(np.r_[True, student[1:] != student[:-1]])
    per = _PerStudent(starts)
    left = ns(rows["withdrawn_at"])[starts]
    cutoff = np.where(left != NAT, left, now)
    opens, target, first = ns(rows["opens_at"]), ns(rows["target_at"]), ns(rows["first_submitted_at"])
    submitted, passed = rows["submitted"].to_numpy(), rows["passed"].to_numpy()
    first_opens = np.minimum.reduceat(opens, starts)
    started = np.maximum(ns(rows["enrolled_at"])[starts], first_opens)
    lessons, lessons_passed = np.diff(np.r_[starts, len(rows)]), per.sum(passed)
    finished = lessons_passed == lessons

    last = np.maximum.reduceat(ns(rows["last_submitted_at"]), starts)  # NaT is the int64 minimum: max skips it
    quiet_from = np.maximum(last, started)
    tau = np.full(len(starts), float(inactive_days))
    if inactive_gap_multiple is not None:
        gap = _target_gap(target, student=student, starts=starts, quiet_from=quiet_from, first_opens=first_opens)
        tau = np.where(gap > 0, np.minimum(inactive_gap_multiple * gap, MAX_INACTIVE_DAYS), tau)
    inactive_since = quiet_from + (tau * DAY_NS).astype(np.int64)  # tau <= a century: no overflow
    inactive_since = np.where(~finished & (inactive_since <= cutoff), inactive_since, NAT)
    pace_gap = lessons_passed - per.sum(target <= cutoff[student])
    label = np.select([finished, left != NAT, inactive_since != NAT, pace_gap <= -behind_by], [0, 4, 3, 2], default=1)
    finished_at = np.where(finished, np.maximum.reduceat(ns(rows["passed_at"]), starts), NAT)

    # The first lesson not passed, in course order: rows are in course order within each student.
    open_rows = np.flatnonzero(~passed)
    next_row = np.full(len(starts), -1)
    firsts = open_rows[np.r_[True, student[open_rows][1:] != student[open_rows][:-1]]] if len(open_rows) else open_rows
    next_row[student[firsts]] = firsts
    has_next = next_row >= 0
    next_target = np.where(has_next, target[next_row], NAT)
    window = int(cram_hours * 3600 * 10**9)
    crammed = np.where(submitted, (first >= target - window) & (first <= target), np.nan)
    course_end = np.maximum.reduceat(np.where(ns(rows["due_at"]) != NAT, ns(rows["due_at"]), target), starts)
    projected = np.where(finished, finished_at, _projected_finish(
        rows, student=student, per=per, started=started, cutoff=cutoff, lessons_passed=lessons_passed))
    furthest = np.maximum.reduceat(np.where(submitted, rows["order"].to_numpy(), 0), starts)
    weeks, gap_cv = _regularity(submissions, ids=ids, started=started, cutoff=cutoff,
                                finished_at=finished_at)
    metrics = pd.DataFrame(copy=False, data={  # this function's own arrays: no stacked copy of them
        "student_id": ids.array,
        "enrolled_at": utc_times(ns(rows["enrolled_at"])[starts]),
        "withdrawn_at": utc_times(left),
        "first_opens_at": utc_times(first_opens),
        "started_at": utc_times(started),
        "lessons": lessons,
        "lessons_submitted": per.sum(submitted),
        "lessons_passed": lessons_passed,
        "lessons_expected": lessons_passed - pace_gap,
        "pace_gap": pace_gap,
        # take() on the column's own array: to_numpy() would first make a Python string of every row's id.
        "next_lesson_id": pd.Series(rows["lesson_id"].array.take(np.maximum(next_row, 0))).where(has_next),
        "days_behind": np.where(has_next, np.maximum(0.0, days_between(cutoff, next_target)), 0.0),
        "furthest_order": furthest,
        "next_target_at": utc_times(_next_target(rows, target, student=student, per=per, furthest=furthest)),
        "last_activity": utc_times(last),
        "days_silent": np.maximum(0.0, days_between(cutoff, quiet_from)),
        "finished_at": utc_times(finished_at),
        "inactive_days": tau,
        "inactive_since": utc_times(inactive_since),
        "label": pd.Categorical.from_codes(label, dtype=LABEL_DTYPE),
        "cramming_share": per.mean(crammed),
        "relative_timing": per.mean(_peer_percentile(rows)),
        "active_week_share": weeks,
        "gap_cv": gap_cv,
        "projected_finish": utc_times(projected),
        "course_end": utc_times(course_end),
        "projected_late": (projected != NAT) & (projected > course_end) & (cutoff <= course_end),
    })
    metrics = typed(metrics, STUDENT_COLUMNS, categories={"label": LABEL_DTYPE})
    # Row i is the student ids[i]: risk_reasons and at_risk_list find students by these codes, hashing no texts.
    remember_codes(metrics["student_id"], np.arange(len(ids)), ids)
    return metrics


def _by_student(pacing: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.Index]:
    """``pacing`` sorted by student_id then order, each row's student as 0, 0, ..., 1, 1, ..., and the
    students' ids in that order.

    A pacing table comes sorted that way: checked on the (remembered) codes of its ids, sorting a million
    rows by text again is skipped; and the ids are then the very Index its codes refer to, so that
    matching other columns against them reuses what matched them before (:func:`~analytics.keys.positions`).
    """
    codes, ids = factorized(pacing["student_id"])
    order = pacing["order"].to_numpy()
    same = codes[1:] == codes[:-1]
    in_order = ids.is_monotonic_increasing and bool(
        np.all((codes[1:] > codes[:-1]) | (same & (order[1:] > order[:-1]))))
    if in_order and len(codes) and codes[0] == 0 and np.count_nonzero(~same) + 1 == len(ids):  # codes 0, 1, ...
        return pacing, codes, ids
    rows = pacing.sort_values(["student_id", "order"], kind="stable")
    codes, ids = pd.factorize(rows["student_id"], sort=False)
    return rows, codes, pd.Index(ids, dtype=rows["student_id"].dtype)


def _check_threshold(name: str, value: float, *, high: float) -> None:
    """A threshold must be a finite number above 0 and at most ``high``: a clear error, never an overflow."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RulesError(name, f"must be a number, not {value!r}")
    if not 0 < value <= high:
        raise RulesError(name, f"must be above 0 and at most {high:,g}, not {value:,g}")


def _target_gap(target: np.ndarray, *, student: np.ndarray, starts: np.ndarray, quiet_from: np.ndarray,
                first_opens: np.ndarray) -> np.ndarray:
    """Per student, t_next - t_prev in days around quiet_from (see STUDENT_COLUMNS' inactive_days)."""
    after = np.minimum.reduceat(np.where(target > quiet_from[student], target, _NEVER), starts)
    t_next = np.where(after == _NEVER, np.maximum.reduceat(target, starts), after)
    before = np.maximum.reduceat(np.where(target < t_next[student], target, NAT), starts)
    t_prev = np.where(before == NAT, first_opens, before)
    return days_between(t_next, t_prev)


def _next_target(rows: pd.DataFrame, target: np.ndarray, *, student: np.ndarray, per: _PerStudent,
                 furthest: np.ndarray) -> np.ndarray:
    """The target of the lesson after ``furthest`` in course order (rows are in course order per student)."""
    count = per.sum(rows["order"].to_numpy() <= furthest[student])
    lessons = np.diff(np.r_[per.starts, len(rows)])
    has_next = count < lessons
    return np.where(has_next, target[np.minimum(per.starts + count, len(rows) - 1)], NAT)


class _PerStudent:
    """Sums and NaN-skipping means over each student's contiguous run of rows."""

    def __init__(self, starts: np.ndarray) -> None:
        self.starts = starts

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.asarray(values, dtype=np.int64), self.starts)

    def mean(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        known = ~np.isnan(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.add.reduceat(np.where(known, values, 0.0), self.starts) / np.add.reduceat(known, self.starts)


def _peer_percentile(rows: pd.DataFrame) -> np.ndarray:
    """(rank - 0.5) / n of each row's procrastination among rows of the same lesson; ties share their mean rank."""
    # The same numbers as groupby("order")["procrastination"].rank(method="average"), without its general
    # machinery (a second on a million rows): sort each lesson's values, and give each run of ties the mean
    # of its positions (so the order within a tie does not matter). order is unique per lesson, and an integer.
    lesson, value = rows["order"].to_numpy(dtype=np.int64), rows["procrastination"].to_numpy(dtype=np.float64)
    percentile = np.full(len(value), np.nan)
    if not len(value):
        return percentile
    # Lesson by lesson: a few sorts of tens of thousands of numbers beat one sort of a million (by lesson,
    # then value), and a lesson's rows come from a radix sort of the lesson codes.
    lessons = Groups(lesson)
    for group in range(len(lessons.keys)):
        members = lessons.rows(group)
        values = value[members]
        known = ~np.isnan(values)
        members, values = members[known], values[known]
        if not len(members):
            continue
        order = np.argsort(values)
        members, values = members[order], values[order]
        new_tie = np.r_[True, values[1:] != values[:-1]]
        tie_first = np.flatnonzero(new_tie)
        tie_last = np.r_[tie_first[1:], len(values)] - 1
        # Ranks count from 1; the sum of first and last position over 2 is exact in floating point.
        rank = ((tie_first + tie_last)[np.cumsum(new_tie) - 1] + 2) / 2
        percentile[members] = (rank - 0.5) / len(values)
    return percentile


def _projected_finish(rows: pd.DataFrame, *, student: np.ndarray, per: _PerStudent, started: np.ndarray,
                      cutoff: np.ndarray, lessons_passed: np.ndarray) -> np.ndarray:
    """Finish at the student's own pace (see STUDENT_COLUMNS), as int64 ns; NaT without a passed lesson.

    Lessons left, in opening order, take p each, one after another, none
    before it opens, starting from the last pass f_0 and not finishing the
    first before the cutoff: f_1 = max(cutoff, max(f_0, o_1) + p),
    f_i = max(f_(i-1), o_i) + p, which unrolls to
    f_m = (m - 1) p + max(f_1, max_(j>=2) (o_j - (j - 2) p)).
    """
    opens, passed_at = ns(rows["opens_at"]), ns(rows["passed_at"])
    passed = rows["passed"].to_numpy()
    begin = np.maximum(opens, started[student])
    end = np.where(passed, passed_at, cutoff[student])
    order = sorted_within(student, begin)  # the union below does not depend on the order of equal begins
    begin, end, owner = begin[order], end[order], student[order]
    reach = pd.Series(end).groupby(owner).cummax().to_numpy()
    before = np.r_[NAT, reach[:-1]]
    before[np.r_[True, owner[1:] != owner[:-1]]] = NAT  # nothing before a student's first span
    busy = per.sum(np.maximum(0, end - np.maximum(begin, before)))  # spans sorted by begin: this is their union
    # The lesson in progress counts as done now: its time so far is a lower bound on what it takes, and
    # leaving it out would charge an unfinished spell to the lessons already passed.
    in_progress = per.sum(~passed & (opens <= cutoff[student])) > 0
    pace = busy / np.maximum(lessons_passed + in_progress, 1)  # ns per lesson; masked below without a pass

    left = np.flatnonzero(~passed)
    left = left[sorted_within(student[left], opens[left])]
    who = student[left]
    first_left = np.r_[True, who[1:] != who[:-1]] if len(left) else np.zeros(0, dtype=bool)
    position = np.arange(len(left)) - np.maximum.accumulate(np.where(first_left, np.arange(len(left)), 0)) + 1
    last_pass = np.maximum.reduceat(passed_at, per.starts).astype(np.float64)
    f1 = np.full(len(started), -np.inf)
    f1[who[first_left]] = np.maximum(cutoff[who[first_left]].astype(np.float64),
                                     np.maximum(last_pass[who[first_left]], opens[left][first_left]) + pace[who[first_left]])
    later = np.full(len(started), -np.inf)
    rest = ~first_left
    np.maximum.at(later, who[rest], opens[left][rest] - (position[rest] - 2) * pace[who[rest]])
    remaining = np.bincount(who, minlength=len(started))
    finish = (remaining - 1) * pace + np.maximum(f1, later)
    ok = (lessons_passed > 0) & (remaining > 0) & np.isfinite(finish)
    return np.where(ok, np.where(ok, finish, 0).astype(np.int64), NAT)


def _regularity(submissions: pd.DataFrame, *, ids: pd.Index, started: np.ndarray, cutoff: np.ndarray,
                finished_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(active_week_share, gap_cv) per student, from every attempt up to the student's cutoff."""
    students = len(ids)
    who = positions(ids, submissions["student_id"])
    at = ns(submissions["submitted_at"])
    keep = who >= 0
    keep[keep] &= at[keep] <= cutoff[who[keep]]
    who, at = who[keep], at[keep]
    who, at = sorted_pairs(who, at)  # by student, then time

    end = np.where(finished_at != NAT, finished_at, cutoff)
    span_weeks = np.maximum(1, np.ceil((end - started) / (7 * DAY_NS))).astype(np.int64)
    week = np.maximum(0, (at - started[who]) // (7 * DAY_NS))
    in_span = week < span_weeks[who]
    # Sorted by student and time, a student's weeks come in order: each week's first submission marks it.
    new_week = np.ones(len(who), dtype=bool)
    new_week[1:] = (who[1:] != who[:-1]) | (week[1:] != week[:-1])
    share = np.bincount(who[new_week & in_span], minlength=students) / span_weeks

    same = np.zeros(len(who), dtype=bool)
    same[1:] = who[1:] == who[:-1]
    gaps = (np.diff(at, prepend=0)[same] / DAY_NS).astype(np.float64)
    owner = who[same]
    count = np.bincount(owner, minlength=students)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(owner, weights=gaps, minlength=students) / count
        variance = np.bincount(owner, weights=(gaps - mean[owner]) ** 2, minlength=students) / count
        cv = np.where((count >= 2) & (mean > 0), np.sqrt(variance) / mean, np.nan)
    return share, cv


document(student_metrics, STUDENT_COLUMNS)
