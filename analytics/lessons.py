"""Per-lesson metrics: timing, attempts and scores, the completion funnel, and the hardest tests.

All are vectorised group-bys over the pacing table (one row per student x
lesson), the student metrics, or the optional ``cell_scores`` table::

    lessons = pacing.pipe(lesson_metrics)
    funnel = students.pipe(completion_funnel, lessons=tables.lessons, as_of=as_of)
    hardest = cell_pass_rates(tables, as_of=as_of)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .columns import NAT, document, empty, ns, typed
from .pacing import to_instant
from .grouping import Groups
from .keys import attempt_rows, equal_to, factorized
from .tables import FLOAT, INT, STR, Column, CourseTables

LESSON_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson (every lesson in the pacing table, in course order)."),
    Column("order", INT, "The lesson's course order."),
    Column("students", INT, "Rows of the pacing table for the lesson (students)."),
    Column("submitted", INT, "Students who submitted it (submitted)."),
    Column("on_time", INT, "Students whose status is 'on_time'."),
    Column("late", INT, "Students whose status is 'late'."),
    Column("missing", INT, "Students whose status is 'missing'."),
    Column("median_days_vs_target", FLOAT, "Median slack f - d in days over submitters; NaN if none."),
    Column("median_procrastination", FLOAT, "Median procrastination index over submitters; NaN if none."),
    Column("mean_attempts", FLOAT, "Mean attempts over submitters; NaN if none."),
    Column("first_attempt_pass_rate", FLOAT, "first_passed / students with a graded first attempt (first_score "
           "not NaN); NaN if none."),
    Column("pass_rate", FLOAT, "passed / submitted; NaN if nobody submitted."),
    Column("median_score_share", FLOAT, "Median of best_score / max_score over students with a best_score; NaN "
           "if none (or max_score is 0)."),
    Column("median_attempts_to_pass", FLOAT, "Median attempts_to_pass over students who passed; NaN if none."),
)

FUNNEL_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson (every lesson in lessons, in course order)."),
    Column("order", INT, "The lesson's course order k."),
    Column("students", INT, "Students in the students table (the same for every lesson)."),
    Column("reached", INT, "Students whose furthest submitted lesson is k or later (furthest_order >= k)."),
    Column("share_reached", FLOAT, "reached / students; NaN without students."),
    Column("stopped", INT, "Students who stopped at this lesson (they never submitted lesson k): furthest_order = "
           "k - 1 and either label 'withdrawn', or label 'inactive' and lesson k's target has passed for them "
           "(next_target_at <= as_of): a student who went quiet early, before lesson k was due, has not stopped "
           "at it yet."),
    Column("still_working", INT, "Students at this lesson who have not stopped: furthest_order = k - 1 and not "
           "stopped (censored: they may yet reach it)."),
    Column("hazard", FLOAT, "Hazard of stopping at lesson k: stopped / (stopped + reached), among the students "
           "whose outcome at k is known; NaN if there are none."),
)

ATTEMPT_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson."),
    Column("order", INT, "The lesson's course order."),
    Column("attempts", INT, "A number of attempts, from 1 to the most anyone made at the lesson."),
    Column("students", INT, "Submitters of the lesson with exactly that many attempts."),
    Column("share", FLOAT, "students / submitters of the lesson."),
)

CELL_PASS_COLUMNS: tuple[Column, ...] = (
    Column("lesson_id", STR, "The lesson."),
    Column("notebook", STR, "The notebook within the lesson."),
    Column("grade_id", STR, "The graded cell (test)."),
    Column("max_score", FLOAT, "Points the cell is worth (the largest seen)."),
    Column("attempts", INT, "Graded attempts with a score for the cell (submitted_at <= as_of)."),
    Column("pass_rate", FLOAT, "Share of those attempts with full points (score >= max_score)."),
    Column("first_attempts", INT, "Of those, first attempts (attempt = 1)."),
    Column("first_attempt_pass_rate", FLOAT, "Share of first attempts with full points; NaN if none."),
    Column("mean_score_share", FLOAT, "Mean of score / max_score over the attempts; NaN if max_score is 0."),
)


def lesson_metrics(pacing: pd.DataFrame) -> pd.DataFrame:
    """One row per lesson of a :func:`~analytics.pacing.pacing_table`, in course order."""
    if pacing.empty:
        return empty(LESSON_COLUMNS)
    # Grouped by the integer order alone (one per lesson), the lesson id taken from each lesson's first row:
    # grouping by the text ids too cost a factorize of every row's.
    lessons = Groups(pacing["order"].to_numpy())
    submitted = pacing["submitted"].to_numpy(dtype=bool)
    status = pacing["status"]
    first_known = ~np.isnan(pacing["first_score"].to_numpy(dtype=np.float64))
    top = pacing["max_score"].to_numpy(dtype=np.float64)
    submitters, first_tries = lessons.sum(submitted), lessons.sum(first_known)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "lesson_id": pacing["lesson_id"].array.take(lessons.first()),
            "order": lessons.keys,
            "students": lessons.size,
            "submitted": submitters,
            **{name: lessons.sum(status.eq(name).to_numpy()) for name in ("on_time", "late", "missing")},
            "median_days_vs_target": lessons.median(pacing["days_vs_target"].to_numpy(dtype=np.float64)),
            "median_procrastination": lessons.median(pacing["procrastination"].to_numpy(dtype=np.float64)),
            "mean_attempts": lessons.sum(np.where(submitted, pacing["attempts"].to_numpy(), 0)) / submitters,
            "first_attempt_pass_rate": lessons.sum(first_known & pacing["first_passed"].to_numpy(dtype=bool))
            / np.where(first_tries > 0, first_tries, np.nan),
            "pass_rate": lessons.sum(pacing["passed"].to_numpy(dtype=bool)) / np.where(submitters > 0, submitters, np.nan),
            "median_score_share": lessons.median(pacing["best_score"].to_numpy(dtype=np.float64)
                                                 / np.where(top > 0, top, np.nan)),
            "median_attempts_to_pass": lessons.median(pacing["attempts_to_pass"].to_numpy(dtype=np.float64)),
        })
    return typed(table, LESSON_COLUMNS)


def completion_funnel(students: pd.DataFrame, *, lessons: pd.DataFrame, as_of: dt.datetime | str) -> pd.DataFrame:
    """How far students get: per lesson of ``lessons`` (the lessons table), from a
    :func:`~analytics.students.student_metrics` table computed at ``as_of`` (built with withdrawn
    students included, or they cannot count as stopping). A lesson nobody reached has reached = 0."""
    now = to_instant(as_of).value
    order = lessons.sort_values("order")
    k = order["order"].to_numpy()
    furthest = students["furthest_order"].to_numpy()
    # Course orders need not be 1..n: a student who submitted nothing is "before" the first lesson.
    position = np.searchsorted(k, furthest, side="right")  # lessons reached, counting from the first
    due = ns(students["next_target_at"])
    stopped = (students["label"].eq("withdrawn").to_numpy()
               | (students["label"].eq("inactive").to_numpy() & (due != NAT) & (due <= now)))
    reached = np.cumsum(np.bincount(position, minlength=len(k) + 1)[::-1])[::-1][1:]
    waiting = np.bincount(position, weights=stopped, minlength=len(k) + 1)[:-1].astype(np.int64)
    at_lesson = np.bincount(position, minlength=len(k) + 1)[:-1]
    total = len(students)
    with np.errstate(invalid="ignore", divide="ignore"):
        funnel = pd.DataFrame({
            "lesson_id": order["lesson_id"].to_numpy(),
            "order": k,
            "students": total,
            "reached": reached,
            "share_reached": reached / total if total else np.full(len(k), np.nan),
            "stopped": waiting,
            "still_working": at_lesson - waiting,
            "hazard": waiting / np.where(waiting + reached > 0, waiting + reached, np.nan),
        })
    return typed(funnel, FUNNEL_COLUMNS)


def attempt_distribution(pacing: pd.DataFrame) -> pd.DataFrame:
    """How many attempts submitters needed, per lesson (course order) and number of attempts; numbers
    of attempts that nobody made, up to each lesson's most, have students = 0."""
    submitted = np.flatnonzero(pacing["submitted"].to_numpy(dtype=bool))
    if not len(submitted):
        return empty(ATTEMPT_COLUMNS)
    # Counted on integers: one code per (lesson, number of attempts), not a group-by of the text lesson ids.
    by_lesson = Groups(pacing["order"].to_numpy(dtype=np.int64)[submitted])
    orders, first, lesson = by_lesson.keys, by_lesson.first(), by_lesson.codes
    attempts = pacing["attempts"].to_numpy()[submitted]
    top = int(attempts.max())
    counts = np.bincount(lesson * (top + 1) + attempts, minlength=len(orders) * (top + 1)).reshape(len(orders), -1)
    most = top - np.argmax(counts[:, ::-1] > 0, axis=1)  # each lesson's most attempts
    lessons, numbers = np.nonzero((np.arange(top + 1) >= 1) & (np.arange(top + 1) <= most[:, None]))
    students = counts[lessons, numbers]
    table = pd.DataFrame({
        "lesson_id": pacing["lesson_id"].array.take(submitted[first[lessons]]),
        "order": orders[lessons],
        "attempts": numbers,
        "students": students,
        "share": students / counts.sum(axis=1)[lessons],
    })
    return typed(table, ATTEMPT_COLUMNS)


def cell_pass_rates(tables: CourseTables, *, as_of: dt.datetime | str) -> pd.DataFrame:
    """Pass rate of every graded cell, hardest first (lowest pass_rate, then course order and
    grade_id); an empty table when ``tables.cell_scores`` is None. Cells awaiting manual grading
    (score null) do not count."""
    if tables.cell_scores is None:
        return empty(CELL_PASS_COLUMNS)
    now = to_instant(as_of).value
    subs = tables.submissions
    counted = (ns(subs["submitted_at"]) <= now) & equal_to(subs["status"], "graded")
    cells = tables.cell_scores
    row = attempt_rows(cells, subs)
    score, top = cells["score"].to_numpy(dtype=np.float64), cells["max_score"].to_numpy(dtype=np.float64)
    # Each cell's attempt's facts by its row, a row of -1 (no such attempt) reading the appended last entry.
    keep = np.append(counted, False)[row] & ~np.isnan(score)
    # Group by integer codes of (lesson, notebook, grade_id): a string group-by over millions of cells is slow.
    # A cell's lesson is its attempt's: factorize the (smaller) submissions' lesson ids, not every cell's.
    sub_lesson, lessons = factorized(subs["lesson_id"])
    code = np.append(sub_lesson, 0)[row]
    notebook, notebooks = factorized(cells["notebook"])
    grade, grades = factorized(cells["grade_id"])
    code *= max(len(notebooks), 1)
    code += notebook
    code *= max(len(grades), 1)
    code += grade
    group, meaning = _counters(code, keep, span=len(lessons) * max(len(notebooks), 1) * max(len(grades), 1))
    groups = len(meaning) + 1
    # One count per counter and combination of three yes/no facts (first attempt, full points, a share to
    # average) gives every count below: one integer bincount instead of one weighted bincount per count.
    first, full, shared = cells["attempt"].to_numpy() == 1, score >= top, top > 0
    combo = group * 8
    combo += (first.view(np.uint8) << 2) | (full.view(np.uint8) << 1) | shared.view(np.uint8)  # bytes: cheap
    combos = np.bincount(combo, minlength=8 * groups).reshape(groups, 2, 2, 2)
    count = combos.sum(axis=(1, 2, 3))[:-1]
    present = np.flatnonzero(count)
    if not len(present):
        return empty(CELL_PASS_COLUMNS)
    codes, combos, count = meaning[present], combos[present], count[present]
    firsts, passes, first_passes = combos[:, 1].sum(axis=(1, 2)), combos[:, :, 1].sum(axis=(1, 2)), combos[:, 1, 1].sum(axis=1)
    share_sum = np.bincount(group, weights=np.divide(score, top, out=np.zeros(len(score)), where=shared),
                            minlength=groups)[present]
    highest = np.full(groups, -np.inf)
    np.maximum.at(highest, group, top)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = pd.DataFrame({
            "lesson_id": lessons.take(codes // (max(len(notebooks), 1) * max(len(grades), 1))),
            "notebook": notebooks.take((codes // max(len(grades), 1)) % max(len(notebooks), 1)),
            "grade_id": grades.take(codes % max(len(grades), 1)),
            "max_score": highest[present],
            "attempts": count,
            "pass_rate": passes / count,
            "first_attempts": firsts,
            "first_attempt_pass_rate": first_passes / np.where(firsts > 0, firsts, np.nan),
            "mean_score_share": share_sum / combos[:, :, :, 1].sum(axis=(1, 2)),
        })
    rates = rates.assign(order=rates["lesson_id"].map(tables.lessons.set_index("lesson_id")["order"]))
    return typed(rates.sort_values(["pass_rate", "order", "notebook", "grade_id"]), CELL_PASS_COLUMNS)


def _counters(code: np.ndarray, keep: np.ndarray, *, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(each row's counter, the code each counter stands for) for the kept rows' codes (0 <= code < span);
    rows not kept count in one more counter, after the others, so no array of millions is filtered first.
    Every possible code has its counter when there are few enough; else only the codes that occur."""
    if span <= 4 * len(code) + 1024:
        return np.where(keep, code, span), np.arange(span)
    meaning, kept = np.unique(code[keep], return_inverse=True)
    counter = np.full(len(code), len(meaning))
    counter[keep] = kept
    return counter, meaning


document(lesson_metrics, LESSON_COLUMNS)
document(completion_funnel, FUNNEL_COLUMNS)
document(attempt_distribution, ATTEMPT_COLUMNS)
document(cell_pass_rates, CELL_PASS_COLUMNS)
