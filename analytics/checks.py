"""The value checks of :func:`analytics.tables.validate_tables`: keys, references and impossible values.

Every check raises :class:`~analytics.errors.TableError` through :func:`fail_if`,
which names the rows, each row's student and value, and the other value the
row was checked against (the enrolment a submission precedes, the max_score a
score exceeds). With a ``cohort`` column, ids are scoped by cohort: the same
student id in two cohorts is two enrolments (a student who repeats the course).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import TableError
from .keys import all_distinct, attempt_rows, factorized, positions

COHORT = "cohort"
_SEPARATOR = "\x1f"  # cannot occur in an id read from CSV or Parquet text in practice, and never shown


def scoped(frame: pd.DataFrame, column: str, *, by_cohort: bool = True) -> pd.Series:
    """``column`` as a key: prefixed by the row's cohort when the frame has one (and ``by_cohort``)."""
    if by_cohort and COHORT in frame.columns:
        return frame[COHORT].str.cat(frame[column], sep=_SEPARATOR)
    return frame[column]


def fail_if(mask: pd.Series, table: str, column: str, problem: str, values: pd.Series | None = None, *,
            frame: pd.DataFrame | None = None, others: pd.Series | None = None, per_row: bool = True) -> None:
    """Raise a :class:`TableError` listing the rows where ``mask`` is true (NA counts as false).

    ``values`` are the offending values shown before ``problem``; ``frame``
    (with a ``student_id`` column) names each row's student; ``others`` are the
    values the rows were checked against, shown after ``problem``. With
    ``per_row=False`` the problem is the column's, said once before the rows.
    """
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return
    rows = mask.index[mask]
    shown = rows[:10]

    def pick(series: pd.Series | None) -> Sequence[object]:
        return () if series is None else series.loc[shown].tolist()

    students = frame["student_id"] if frame is not None and "student_id" in frame.columns else None
    raise TableError(table, column, problem, rows=rows.tolist(), values=pick(values), students=pick(students),
                     others=pick(others), per_row=per_row)


def check_cohorts(frames: dict[str, pd.DataFrame]) -> None:
    """With cohorts, every table but ``lessons`` needs the column (lessons without it are one plan for all
    cohorts), and each cohort with students has lessons when lessons are per cohort."""
    enrollments, lessons = frames["enrollments"], frames["lessons"]
    if COHORT not in enrollments.columns:
        for name, frame in frames.items():
            if frame is not None and COHORT in frame.columns:
                raise TableError(name, COHORT, "is set but enrollments has no cohort column (say which cohort "
                                 "each student is in there)")
        return
    for name, frame in frames.items():
        if frame is not None and COHORT not in frame.columns and name != "lessons":
            raise TableError(name, None, "missing column cohort (enrollments has one: every table but lessons "
                             "needs it, so that ids match within their cohort)")
    if COHORT in lessons.columns:
        fail_if(~enrollments[COHORT].isin(lessons[COHORT]), "enrollments", COHORT, "has no lessons in lessons",
                enrollments[COHORT], frame=enrollments)


def check_lessons(lessons: pd.DataFrame) -> None:
    fail_if(scoped(lessons, "lesson_id").duplicated(keep=False), "lessons", "lesson_id",
            "is duplicated" + (" within its cohort" if COHORT in lessons.columns else ""), lessons["lesson_id"])
    fail_if(lessons["order"] < 1, "lessons", "order", "must be 1 or more", lessons["order"])
    order = lessons[[COHORT, "order"]] if COHORT in lessons.columns else lessons[["order"]]
    fail_if(order.duplicated(keep=False), "lessons", "order", "is duplicated", lessons["order"])
    fail_if(lessons["max_score"] < 0, "lessons", "max_score", "is negative", lessons["max_score"])
    fail_if(lessons["target_at"] < lessons["opens_at"], "lessons", "target_at", "is before opens_at",
            lessons["target_at"], others=lessons["opens_at"])
    fail_if(lessons["due_at"] < lessons["target_at"], "lessons", "due_at", "is before target_at", lessons["due_at"],
            others=lessons["target_at"])


def check_enrollments(enrollments: pd.DataFrame) -> None:
    ids = enrollments["student_id"]
    fail_if(scoped(enrollments, "student_id").duplicated(keep=False), "enrollments", "student_id",
            "is duplicated" + (" within its cohort" if COHORT in enrollments.columns else ""), ids)
    withdrawn = enrollments["withdrawn_at"]
    fail_if(withdrawn < enrollments["enrolled_at"], "enrollments", "withdrawn_at", "is before their enrolled_at",
            withdrawn, frame=enrollments, others=enrollments["enrolled_at"])


def check_submissions(submissions: pd.DataFrame, *, lessons: pd.DataFrame, enrollments: pd.DataFrame,
                      statuses: Sequence[str]) -> None:
    table, subs = "submissions", submissions
    status = subs["status"]
    fail_if(~status.isin(statuses), table, "status", f"must be one of {', '.join(statuses)}", status, frame=subs)
    per_cohort_lessons = COHORT in lessons.columns
    # Ids become positions in lessons and enrollments once (one factorize each): every later check, the
    # duplicate key, the enrolment of each row and the attempt order, then works on integers.
    lesson = positions(scoped(lessons, "lesson_id"), scoped(subs, "lesson_id", by_cohort=per_cohort_lessons))
    fail_if(pd.Series(lesson < 0, index=subs.index), table, "lesson_id",
            "is not a lesson_id in lessons" + (" of its cohort" if per_cohort_lessons else ""), subs["lesson_id"],
            frame=subs)
    student = positions(scoped(enrollments, "student_id"), scoped(subs, "student_id"))
    fail_if(pd.Series(student < 0, index=subs.index), table, "student_id",
            "is not a student_id in enrollments" + (" of its cohort" if COHORT in subs.columns else ""),
            subs["student_id"], frame=subs)
    fail_if(subs["attempt"] < 1, table, "attempt", "must be 1 or more", subs["attempt"], frame=subs)
    cell = student.astype(np.int64) * max(len(lessons), 1) + lesson  # one code per student x lesson
    attempt = subs["attempt"].to_numpy(dtype=np.int64)
    top = int(attempt.max()) if len(attempt) else 0
    if 0 < top < 2**62 // max(int(cell.max()) + 1, 1):
        # One integer per (student x lesson, attempt): a MultiIndex factorized both arrays again.
        unique = all_distinct(cell * (top + 1) + attempt)  # attempts are >= 1 (checked above)
    else:
        unique = pd.MultiIndex.from_arrays([cell, attempt]).is_unique
    if not unique:
        pairs = pd.MultiIndex.from_arrays([cell, attempt])
        fail_if(pd.Series(pairs.duplicated(keep=False), index=subs.index), table, "attempt",
                "is duplicated for the same student_id and lesson_id", subs["attempt"], frame=subs)
    fail_if(subs["max_score"] < 0, table, "max_score", "is negative", subs["max_score"], frame=subs)
    fail_if(subs["score"] < 0, table, "score", "is negative", subs["score"], frame=subs)
    fail_if(subs["score"] > subs["max_score"], table, "score", "is greater than max_score", subs["score"], frame=subs,
            others=subs["max_score"])
    fail_if(subs["score"].isna() & status.eq("graded"), table, "score", "is empty for a graded attempt", frame=subs)
    fail_if(subs["late_penalty"] < 0, table, "late_penalty", "is negative", subs["late_penalty"], frame=subs)
    fail_if(subs["late_penalty"].isna() & subs["score"].notna(), table, "late_penalty",
            "is empty although score is set", frame=subs)
    # Every student is known by now: take each row's enrolment by position (a datetime take, no Timestamps).
    enrolled_at = pd.Series(enrollments["enrolled_at"].array.take(student), index=subs.index)
    fail_if(subs["submitted_at"] < enrolled_at, table, "submitted_at", "is before their enrolled_at",
            subs["submitted_at"], frame=subs, others=enrolled_at)
    order = np.lexsort((attempt, cell))
    at = subs["submitted_at"].array.asi8[order]
    same = np.r_[False, cell[order][1:] == cell[order][:-1]]
    early = np.zeros(len(subs), dtype=bool)
    early[order[same & (at < np.r_[at[:1], at[:-1]])]] = True
    fail_if(pd.Series(early, index=subs.index), table, "attempt", "is numbered out of the order of submitted_at",
            subs["attempt"], frame=subs)


def check_cell_scores(cells: pd.DataFrame, *, submissions: pd.DataFrame) -> np.ndarray:
    """Check cell_scores; return each cell's row in submissions (:func:`~analytics.keys.attempt_rows`)."""
    table = "cell_scores"
    row = attempt_rows(cells.assign(student_id=scoped(cells, "student_id")),
                       submissions.assign(student_id=scoped(submissions, "student_id")))
    fail_if(pd.Series(row < 0, index=cells.index), table, "attempt",
            "is not an attempt in submissions (by student_id, lesson_id, attempt)", cells["attempt"], frame=cells)
    # Remembered (factorized): cell_pass_rates groups the same cells by the same codes.
    notebook, notebooks = factorized(cells["notebook"])
    grade, grades = factorized(cells["grade_id"])
    cell = (row * max(len(notebooks), 1) + notebook) * max(len(grades), 1) + grade
    if not all_distinct(cell):  # the cheap question first: which rows only when some are duplicated
        fail_if(pd.Series(cell, index=cells.index).duplicated(keep=False), table, "grade_id",
                "is duplicated for the same attempt and notebook", cells["grade_id"], frame=cells)
    fail_if(cells["max_score"] < 0, table, "max_score", "is negative", cells["max_score"], frame=cells)
    fail_if(cells["score"] < 0, table, "score", "is negative", cells["score"], frame=cells)
    fail_if(cells["score"] > cells["max_score"], table, "score", "is greater than max_score", cells["score"],
            frame=cells, others=cells["max_score"])
    return row


def check_timelines(timelines: pd.DataFrame, *, lessons: pd.DataFrame, enrollments: pd.DataFrame) -> None:
    table = "timelines"
    fail_if(~scoped(timelines, "student_id").isin(scoped(enrollments, "student_id")), table, "student_id",
            "is not a student_id in enrollments", timelines["student_id"], frame=timelines)
    per_cohort_lessons = COHORT in lessons.columns
    fail_if(~scoped(timelines, "lesson_id", by_cohort=per_cohort_lessons).isin(scoped(lessons, "lesson_id")), table,
            "lesson_id", "is not a lesson_id in lessons", timelines["lesson_id"], frame=timelines)
    key = [column for column in (COHORT, "student_id", "lesson_id") if column in timelines.columns]
    fail_if(timelines.duplicated(key, keep=False), table, "lesson_id", "is duplicated for the same student_id",
            timelines["lesson_id"], frame=timelines)
    fail_if(timelines["target_at"] < timelines["opens_at"], table, "target_at", "is before opens_at",
            timelines["target_at"], frame=timelines, others=timelines["opens_at"])
    fail_if(timelines["due_at"] < timelines["target_at"], table, "due_at", "is before target_at",
            timelines["due_at"], frame=timelines, others=timelines["target_at"])

