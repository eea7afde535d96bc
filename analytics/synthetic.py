"""A synthetic but plausible course log, generated with numpy in one pass.

Used by the tests, the report demo and benchmarks (50 000 students is a few
seconds). The cohort is made to exercise every branch of the analysis: weekly
lessons with a target six days after opening, a last lesson without a hard
due date, students who join late, fall behind, drop out or withdraw, several
attempts, late penalties, and attempts that are not graded (yet).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .tables import CourseTables, validate_tables

_SCORES = np.array([10.0, 20.0, 50.0])


def synthetic_tables(*, students: int, lessons: int, seed: int, start: dt.datetime) -> CourseTables:
    """A validated :class:`CourseTables` for ``students`` x ``lessons``, reproducible from ``seed``.

    ``start`` (timezone-aware) is when the first lesson opens; lesson ``k``
    (0-based) opens ``7 k`` days later, has its target 6 days after opening and
    its due date 14 days after the target (none for the last lesson).
    """
    if students < 0 or lessons < 1:
        raise ValueError("need students >= 0 and lessons >= 1")
    origin = pd.Timestamp(start)
    if origin.tz is None:
        raise ValueError(f"start {start} has no time zone")
    origin = origin.tz_convert("UTC").as_unit("ns")
    rng = np.random.default_rng(seed)

    opens = np.arange(lessons) * 7.0  # days from start, as are all times below until the end
    target = opens + 6.0
    due = np.where(np.arange(lessons) == lessons - 1, np.nan, target + 14.0)
    lesson_ids = np.array([f"L{k:0{max(2, len(str(lessons)))}d}" for k in range(1, lessons + 1)])
    max_score = _SCORES[np.arange(lessons) % len(_SCORES)]

    student_ids = np.array([f"s{k:0{max(3, len(str(students)))}d}" for k in range(1, students + 1)])
    late_joiner = rng.random(students) < 0.15
    enrolled = np.where(late_joiner, rng.uniform(0.0, 21.0, students), rng.uniform(-14.0, 0.0, students))
    withdraws = rng.random(students) < 0.08
    withdrawn = np.where(withdraws, enrolled + rng.uniform(3.0, 7.0 * lessons, students), np.nan)

    # Each lesson takes pace x Gamma(2, 2.5) days of work, started when both
    # the lesson is open and the previous one is done: f_i = max(o_i, f_{i-1}) + w_i,
    # which unrolls to f_i = W_i + max_{k<=i}(o_k - W_{k-1}) with W = cumsum(w).
    pace = rng.lognormal(mean=0.0, sigma=0.35, size=students)
    work = pace[:, None] * rng.gamma(shape=2.0, scale=2.5, size=(students, lessons))
    available = np.maximum(opens[None, :], enrolled[:, None])
    total_work = np.cumsum(work, axis=1)
    before = total_work - work
    finish = total_work + np.maximum.accumulate(available - before, axis=1)

    stops_after = rng.geometric(p=rng.beta(1.0, 20.0, size=students).clip(1e-3, 1.0))  # lessons done before stopping
    reached = (np.arange(lessons)[None, :] < stops_after[:, None]) & ~(finish > withdrawn[:, None])
    student_row, lesson_col = np.nonzero(reached)
    first = finish[student_row, lesson_col]

    attempts = 1 + rng.binomial(2, 0.2, size=len(first))
    rows = np.repeat(np.arange(len(first)), attempts)
    block_start = np.repeat(np.cumsum(attempts) - attempts, attempts)
    attempt = np.arange(len(rows)) - block_start + 1
    gap = np.where(attempt == 1, 0.0, rng.exponential(1.0, size=len(rows)))
    elapsed = np.cumsum(gap)
    submitted = first[rows] + elapsed - elapsed[block_start]
    keep = ~(submitted > withdrawn[student_row[rows]])  # later attempts can cross a withdrawal too
    rows, attempt, submitted = rows[keep], attempt[keep], submitted[keep]
    who, which = student_row[rows], lesson_col[rows]

    ability = rng.beta(6.0, 2.0, size=students)
    fraction = np.clip(ability[who] + 0.08 * (attempt - 1) + rng.normal(0.0, 0.1, size=len(rows)), 0.0, 1.0)
    score = np.round(fraction * max_score[which], 1)
    outcome = rng.random(len(rows))
    status = np.where(outcome < 0.02, "failed", np.where(outcome < 0.05, "collected", "graded"))
    graded = status == "graded"
    days_late = np.ceil(submitted - due[which])  # NaN where there is no due date
    penalty = np.where(days_late > 0, np.round(score * np.minimum(0.5, 0.1 * days_late), 2), 0.0)

    def times(days: np.ndarray) -> pd.Series:
        # Whole seconds, like a receipt log; NaN days become NaT.
        return pd.Series(origin + pd.to_timedelta(np.round(days * 86_400), unit="s"))

    tables = CourseTables(
        lessons=pd.DataFrame({
            "lesson_id": lesson_ids,
            "title": [f"Lesson {k}" for k in range(1, lessons + 1)],
            "order": np.arange(1, lessons + 1),
            "opens_at": times(opens),
            "target_at": times(target),
            "due_at": times(due),
            "max_score": max_score,
        }),
        enrollments=pd.DataFrame({
            "student_id": student_ids,
            "enrolled_at": times(enrolled),
            "withdrawn_at": times(withdrawn),
        }),
        submissions=pd.DataFrame({
            "student_id": student_ids[who],
            "lesson_id": lesson_ids[which],
            "attempt": attempt,
            "submitted_at": times(submitted),
            "score": np.where(graded, score, np.nan),
            "max_score": max_score[which],
            "late_penalty": np.where(graded, penalty, np.nan),
            "graded_at": times(np.where(graded, submitted + rng.uniform(0.02, 2.0, size=len(rows)), np.nan)),
            "status": status,
        }),
    )
    return validate_tables(tables)
