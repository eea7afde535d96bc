"""Who needs a nudge now, and why: transparent at-risk rules with thresholds from ``course.toml``.

Each rule looks at one thing an instructor can act on and words it plainly;
the thresholds live in the ``[at_risk]`` table of ``course.toml``::

    [at_risk]
    behind_lessons = 2        # "3 lessons behind pace"
    inactive_days = 14        # "no submission for 16 days" (tau)
    inactive_gap_multiple = 1.5  # or: tau = 1.5 x the student's gap between consecutive targets
    failed_attempts = 2       # "failed lesson 04-pandas twice" (and not passed yet)
    first_try_share = 0.5     # "passed 1 of 4 graded lessons on the first attempt"
    first_try_min_lessons = 3 #   ... once this many lessons have a graded first attempt
    projected_late = true     # "projected finish 2026-11-20, 12 days after the course end (2026-11-08)"
    pass_fraction = 0.5       # the pass mark, as a share of a lesson's points

Only students still enrolled at ``as_of`` with lessons left are listed: a
withdrawn student can no longer be nudged (they show in the funnel and the
persistence curve), and a student who has passed every lesson has finished.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .columns import document, empty, ns, typed
from .errors import RulesError
from .keys import factorized, positions, remember_codes
from .tables import FLOAT, INT, STR, TIME, Column

RULES = ("behind", "inactive", "failing", "first_tries", "projected_late")
RULE_DTYPE = pd.CategoricalDtype(RULES)


@dataclass(frozen=True)
class AtRiskRules:
    """Thresholds of the at-risk rules (the ``[at_risk]`` table of ``course.toml``)."""

    behind_lessons: int = 2
    """Flag a student this many lessons behind pace or more (pace_gap <= -behind_lessons); >= 1."""
    inactive_days: float = 14.0
    """tau: flag a student with lessons left and no submission for this many days; > 0, at most 36,500."""
    failed_attempts: int = 2
    """Flag each lesson not passed yet with this many failed graded attempts or more; >= 1."""
    first_try_share: float = 0.5
    """Flag a student who passed fewer than this share of lessons on the first attempt; 0 to 1 (0 = off)."""
    first_try_min_lessons: int = 3
    """... counted only once this many lessons have a graded first attempt; >= 1."""
    projected_late: bool = True
    """Flag a projected finish after the course end."""
    pass_fraction: float = 0.5
    """The pass mark, as a share of a lesson's max_score; 0 to 1."""
    inactive_gap_multiple: float | None = None
    """If set, tau is this multiple of the student's gap between consecutive targets instead of
    inactive_days (see student_metrics); > 0, at most 100."""


# (type, lowest, highest, inclusive low) per field: the ranges the field docs above state.
_RANGES: dict[str, tuple[type, float, float, bool]] = {
    "behind_lessons": (int, 1, np.inf, True),
    "inactive_days": (float, 0, 36_500, False),
    "failed_attempts": (int, 1, np.inf, True),
    "first_try_share": (float, 0, 1, True),
    "first_try_min_lessons": (int, 1, np.inf, True),
    "projected_late": (bool, 0, 1, True),
    "pass_fraction": (float, 0, 1, True),
    "inactive_gap_multiple": (float, 0, 100, False),
}

REASON_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (enrolled at as_of, not withdrawn, not finished)."),
    Column("rule", "category", "Which rule: 'behind' (pace_gap <= -behind_lessons), 'inactive' (lessons left and "
           "days_silent >= the student's tau, inactive_days of student_metrics), 'failing' (a lesson not passed with failed_attempts >= the threshold), "
           "'first_tries' (first-attempt passes / lessons with a graded first attempt < first_try_share, with at "
           "least first_try_min_lessons such lessons), 'projected_late' (projected_late). Categories in that order."),
    Column("lesson_id", STR, "The lesson, for 'failing'; null for the other rules."),
    Column("value", FLOAT, "The number the rule tested: lessons behind, days silent, failed attempts, "
           "first-attempt pass share, or days from course_end to projected_finish."),
    Column("reason", STR, "The reason in plain words, e.g. '3 lessons behind pace'."),
)

AT_RISK_COLUMNS: tuple[Column, ...] = (
    Column("rank", INT, "1 = most in need: more reasons first, then further behind (pace_gap), then longer "
           "silent (days_silent), then student_id."),
    Column("student_id", STR, "The student (one row per student with at least one reason)."),
    Column("label", "category", "The student's label (see student_metrics)."),
    Column("reasons", STR, "The reasons in plain words, in rule order, joined by '; '."),
    Column("reason_count", INT, "Number of reasons (each failing lesson counts once)."),
    Column("pace_gap", INT, "lessons_passed - lessons_expected."),
    Column("days_silent", FLOAT, "Days since the last submission (or the start)."),
    Column("lessons_passed", INT, "Lessons passed."),
    Column("lessons", INT, "Lessons in the course."),
    Column("projected_finish", TIME, "Projected finish at the student's own pace; NaT if none."),
)


def rules_from_mapping(mapping: dict[str, Any]) -> AtRiskRules:
    """:class:`AtRiskRules` from a parsed ``[at_risk]`` table; missing keys keep their defaults.

    Raises :class:`RulesError` naming the key for an unknown key, a value of
    the wrong type (an int is fine where a float is expected, a bool never is
    a number) or out of range.
    """
    if not isinstance(mapping, dict):
        raise RulesError(None, f"must be a table, not {type(mapping).__name__}")
    values: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in _RANGES:
            raise RulesError(key, f"unknown key (allowed: {', '.join(_RANGES)})")
        kind, low, high, inclusive = _RANGES[key]
        if kind is bool:
            if not isinstance(value, bool):
                raise RulesError(key, f"must be true or false, not {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise RulesError(key, f"must be {'a number' if kind is float else 'a whole number'}, not {value!r}")
        elif not ((low <= value) if inclusive else (low < value)) or value > high:
            bound = f"{'at least' if inclusive else 'above'} {low:g}" + ("" if high == np.inf else f" and at most {high:,g}")
            raise RulesError(key, f"must be {bound}, not {value!r}")
        values[key] = kind(value)
    return AtRiskRules(**values)


def load_rules(course_toml: Path) -> AtRiskRules:
    """The ``[at_risk]`` table of ``course_toml`` (only that table is read); defaults if it has none."""
    path = Path(course_toml)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RulesError(None, f"cannot read {path}: {error.strerror or error}", source=path) from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RulesError(None, f"not valid TOML: {error}", source=path) from error
    try:
        return rules_from_mapping(raw.get("at_risk", {}))
    except RulesError as error:
        raise RulesError(error.key, error.problem, source=path) from None


def risk_reasons(pacing: pd.DataFrame, students: pd.DataFrame, *, rules: AtRiskRules) -> pd.DataFrame:
    """Every reason every enrolled student is at risk, one row per reason, sorted by student_id then rule.

    ``pacing`` and ``students`` are a :func:`~analytics.pacing.pacing_table` (built with
    ``pass_fraction=rules.pass_fraction``) and its :func:`~analytics.students.student_metrics`.
    """
    is_enrolled = ~students["label"].isin(["withdrawn", "finished"]).to_numpy()
    enrolled, rows = students.loc[is_enrolled], np.flatnonzero(is_enrolled)  # rows: their rows in students
    parts = []

    is_behind = (enrolled["pace_gap"] <= -rules.behind_lessons).to_numpy()
    behind = enrolled.loc[is_behind]
    lessons_behind = -behind["pace_gap"]
    lessons = lessons_behind.astype(str) + np.where(lessons_behind == 1, " lesson", " lessons")
    parts.append(_reasons(rows[is_behind], "behind", lessons_behind, lessons + " behind pace"))

    # tau is the rules' inactive_days, or each student's own with inactive_gap_multiple (student_metrics has it).
    tau = rules.inactive_days if rules.inactive_gap_multiple is None else enrolled["inactive_days"]
    is_silent = (enrolled["days_silent"] >= tau).to_numpy()
    silent = enrolled.loc[is_silent]
    days = np.floor(silent["days_silent"]).astype(int).astype(str)
    limit = "" if rules.inactive_gap_multiple is None else (
        " (limit " + np.ceil(silent["inactive_days"]).astype(int).astype(str)
        + f" days: {rules.inactive_gap_multiple:g} x the gap between targets)")
    parts.append(_reasons(rows[is_silent], "inactive", silent["days_silent"], np.where(
        silent["last_activity"].isna(), "no submission yet, " + days + " days after starting",
        "no submission for " + days + " days") + limit))

    # Per student questions on the (remembered) codes of the pacing table's ids: each distinct id asked once,
    # not a million texts matched or grouped.
    codes, ids = factorized(pacing["student_id"])
    where = positions(ids, students["student_id"])[rows]  # each enrolled student among the pacing ids (-1: absent)
    row_of = np.full(len(ids) + 1, -1)  # per pacing id, its enrolled student's row; -1 at the end for a code of -1
    row_of[where[where >= 0]] = rows[where >= 0]
    pacing_row = row_of[codes]
    is_failing = ((pacing_row >= 0) & ~pacing["passed"].to_numpy()
                  & (pacing["failed_attempts"] >= rules.failed_attempts).to_numpy())
    failing = pacing.loc[is_failing]
    failed = failing["failed_attempts"]
    times = failed.map({1: "once", 2: "twice"}).fillna(failed.astype(str) + " times")
    parts.append(_reasons(pacing_row[is_failing], "failing", failing["failed_attempts"],
                          "failed lesson " + failing["lesson_id"] + " " + times, lesson_id=failing["lesson_id"]))

    known = pacing["first_score"].notna().to_numpy()
    first = known & pacing["first_passed"].to_numpy(dtype=bool)
    graded = np.append(np.bincount(codes[known], minlength=len(ids)), 0)[where]
    passed = np.append(np.bincount(codes[first], minlength=len(ids)), 0)[where]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = passed / np.where(graded > 0, graded, np.nan)
    low = (graded >= rules.first_try_min_lessons) & (share < rules.first_try_share)
    parts.append(_reasons(rows[low], "first_tries", share[low],
                          "passed " + passed[low].astype(str).astype(object) + " of "
                          + graded[low].astype(str).astype(object) + " graded lessons on the first attempt"))

    if rules.projected_late:
        is_late = enrolled["projected_late"].to_numpy(dtype=bool)
        late = enrolled.loc[is_late]
        overrun = (late["projected_finish"] - late["course_end"]).dt.total_seconds() / 86_400
        days = np.ceil(overrun).astype(int)
        parts.append(_reasons(rows[is_late], "projected_late", overrun,
                              "projected finish " + _day(late["projected_finish"]) + ", "
                              + days.astype(str) + np.where(days == 1, " day", " days") + " after the course end ("
                              + _day(late["course_end"]) + ")"))
    return _sorted_reasons(pd.concat(parts, ignore_index=True), students)


def _sorted_reasons(reasons: pd.DataFrame, students: pd.DataFrame) -> pd.DataFrame:
    """The reasons (with each student's row in ``students``) sorted by student_id, rule, lesson_id, on
    integers: the rows of a student_metrics table are in student_id order, and lesson ids are few."""
    row = reasons["row"].to_numpy()
    ids = students["student_id"]
    if ids.is_monotonic_increasing:
        student_rank = np.arange(len(ids))
    else:
        student_rank = np.empty(len(ids), dtype=np.int64)
        student_rank[np.argsort(ids.to_numpy(dtype=object), kind="stable")] = np.arange(len(ids))
    lesson_codes, _ = pd.factorize(reasons["lesson_id"], sort=True)  # null: -1, no lesson
    order = np.lexsort((lesson_codes, reasons["rule"].cat.codes.to_numpy(), student_rank[row]))
    reasons = reasons.iloc[order].assign(student_id=ids.array.take(row[order]))
    reasons = typed(reasons, REASON_COLUMNS, categories={"rule": RULE_DTYPE})
    # at_risk_list finds each reason's student by these codes, not by matching texts again.
    student_codes, student_ids = factorized(ids)
    remember_codes(reasons["student_id"], student_codes[row[order]], student_ids)
    return reasons


def at_risk_list(reasons: pd.DataFrame, students: pd.DataFrame) -> pd.DataFrame:
    """The ranked at-risk list: one row per student in ``reasons`` (from :func:`risk_reasons`), with
    the student's figures from ``students`` (the same :func:`~analytics.students.student_metrics`)."""
    if reasons.empty:
        return empty(AT_RISK_COLUMNS, categories={"label": students["label"].dtype})
    # The reasons in student order (as risk_reasons gives them), joined by one reduceat over Python strings
    # (each but a student's first prefixed with "; "): a pandas string aggregation runs Python per group.
    codes, _ = factorized(reasons["student_id"])
    ordered = reasons if np.all(codes[1:] >= codes[:-1]) else reasons.sort_values("student_id", kind="stable")
    codes, _ = factorized(ordered["student_id"])
    texts = ordered["reason"].to_numpy(dtype=object, copy=True)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    later = np.ones(len(texts), dtype=bool)
    later[starts] = False
    texts[later] = "; " + texts[later]
    where = positions(students["student_id"], ordered["student_id"])[starts]
    if (where < 0).any():
        raise ValueError("reasons name students who are not in students: pass the student_metrics the reasons "
                         "were computed from")
    grouped = pd.DataFrame({"student_id": students["student_id"].array.take(where),
                            "reasons": np.add.reduceat(texts, starts),
                            "reason_count": np.diff(np.r_[starts, len(texts)])})
    table = pd.concat([grouped, students.drop(columns="student_id").iloc[where].reset_index(drop=True)], axis=1)
    table = table.sort_values(["reason_count", "pace_gap", "days_silent", "student_id"],
                              ascending=[False, True, False, True], kind="stable")
    table = table.assign(rank=np.arange(1, len(table) + 1))
    return typed(table, AT_RISK_COLUMNS, categories={"label": students["label"].dtype})


def _day(times: pd.Series) -> np.ndarray:
    """UTC times (no NaT) as YYYY-MM-DD text: NumPy's formatting of whole days, not a strftime per row."""
    return np.datetime_as_string(ns(times).view("M8[ns]"), unit="D").astype(object)


def _reasons(row: np.ndarray, rule: str, value: pd.Series, text: Any, *,
             lesson_id: pd.Series | None = None) -> pd.DataFrame:
    """One rule's reasons, each with its student's row in the students table."""
    return pd.DataFrame({
        "row": np.asarray(row, dtype=np.int64),
        "rule": pd.Categorical.from_codes(np.full(len(row), RULES.index(rule)), dtype=RULE_DTYPE),
        "lesson_id": lesson_id.to_numpy() if lesson_id is not None else np.full(len(row), None, dtype=object),
        "value": np.asarray(value, dtype=np.float64),
        "reason": np.asarray(text, dtype=object),
    })


document(risk_reasons, REASON_COLUMNS)
document(at_risk_list, AT_RISK_COLUMNS)
AtRiskRules.__doc__ = (AtRiskRules.__doc__ or "") + "\n\n" + "\n".join(
    f"    ``{field.name}`` (default {field.default!r})" for field in fields(AtRiskRules))
