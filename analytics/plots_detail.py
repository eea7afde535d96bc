"""Figures for the student and lesson reports: each takes a tidy table and returns a Figure.

Like :mod:`analytics.plots`, built on :class:`matplotlib.figure.Figure`
(no pyplot state) in the Okabe-Ito palette. Student figures take only that
student's rows, so a student report cannot show anyone else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from .plots import BLUE, GREEN, GREY, ORANGE, time_axis

RED = "#CC79A7"
_SIZE = (9.0, 4.5)


def plot_student_timeline(lessons: pd.DataFrame, attempts: pd.DataFrame, *, as_of: pd.Timestamp,
                          pass_fraction: float = 0.5, course_start: pd.Timestamp | None = None,
                          title: str = "Lessons against the personal plan") -> Figure:
    """One row per lesson (``lessons``: :data:`analytics.status.STUDENT_LESSON_COLUMNS`): a grey bar from
    opening to target, the target as an orange diamond, the due date as a tick, and each attempt
    (``attempts``: :data:`analytics.status.ATTEMPT_LOG_COLUMNS`) as a dot, green if it reached the pass
    mark, orange if it did not, hollow while ungraded; the dashed line is ``as_of``. By course day when
    ``course_start`` is given, else by date."""
    figure = Figure(figsize=(9.0, 1.2 + 0.45 * max(len(lessons), 2)), layout="constrained")
    ax = figure.subplots()
    y = {lesson: position for position, lesson in enumerate(lessons["lesson_id"])}

    def naive(times: pd.Series) -> pd.Series:
        return time_axis(ax, times, course_start=course_start)

    opens, target, due = naive(lessons["opens_at"]), naive(lessons["target_at"]), naive(lessons["due_at"])
    rows = np.arange(len(lessons))
    ax.barh(rows, target - opens, left=opens, height=0.5, color=GREY, alpha=0.25)
    ax.scatter(target, rows, marker="D", color=ORANGE, s=36, zorder=3)
    ax.scatter(due, rows, marker="|", color=RED, s=180, zorder=3)
    rows_of = attempts["lesson_id"].map(y).to_numpy(dtype=float)
    mark = pass_fraction * attempts["max_score"]
    graded = attempts["score"].notna()
    passed = graded & (attempts["score"] >= mark)
    when = naive(attempts["submitted_at"])
    ax.scatter(when[passed], rows_of[passed], color=GREEN, s=42, zorder=4)
    ax.scatter(when[graded & ~passed], rows_of[graded & ~passed], color=ORANGE, s=42, zorder=4)
    ax.scatter(when[~graded], rows_of[~graded], facecolors="none", edgecolors=BLUE, s=42, zorder=4)
    ax.axvline(naive(pd.Series([pd.Timestamp(as_of)]).astype("datetime64[ns, UTC]")).iloc[0], color="#333333",
               linestyle="--", linewidth=1)
    ax.set_yticks(rows, lessons["lesson_id"], fontsize=9)
    ax.set_ylim(max(len(lessons), 1) - 0.4, -0.6)
    ax.grid(axis="x", alpha=0.3)
    legend = [
        Line2D([], [], color=GREY, alpha=0.4, linewidth=6, label="open until target"),
        Line2D([], [], marker="D", color=ORANGE, linestyle="", label="target"),
        Line2D([], [], marker="|", color=RED, linestyle="", markersize=12, label="due"),
        Line2D([], [], marker="o", color=GREEN, linestyle="", label="attempt: passed"),
        Line2D([], [], marker="o", color=ORANGE, linestyle="", label="attempt: below pass mark"),
        Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor=BLUE, linestyle="", label="not graded yet"),
        Line2D([], [], color="#333333", linestyle="--", label="now"),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=4, frameon=False, fontsize=8)
    ax.set_title(title, loc="left")
    return figure


def plot_lesson_timing(pacing: pd.DataFrame, *, title: str = "First submissions relative to the target") -> Figure:
    """Histogram, in one-day bins, of ``days_vs_target`` over the submitted rows of ``pacing`` (one
    lesson's rows of a pacing table); 0 is each student's own target."""
    days = pacing.loc[pacing["submitted"], "days_vs_target"].to_numpy()
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    if len(days):
        ax.hist(days, bins=np.arange(np.floor(days.min()), np.ceil(days.max()) + 1.0), color=BLUE, alpha=0.85)
    ax.axvline(0.0, color=ORANGE, linewidth=1.2)
    ax.annotate("target", xy=(0.0, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -4),
                textcoords="offset points", va="top", color=ORANGE)
    ax.set_xlabel("days after the target (negative = early)")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"{title} (n = {len(days):,})", loc="left")
    return figure


def plot_attempt_counts(attempts: pd.DataFrame, *, title: str = "Attempts per student") -> Figure:
    """Bars of how many submitters made each number of attempts (one lesson's rows of
    :func:`analytics.attempt_distribution`)."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    bars = ax.bar(attempts["attempts"], attempts["students"], color=BLUE, width=0.7)
    ax.bar_label(bars, labels=[f"{share:.0%}" for share in attempts["share"]], padding=2, fontsize=9)
    ax.set_xticks(attempts["attempts"])
    ax.set_xlabel("attempts")
    ax.set_ylabel("students")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, loc="left")
    return figure


def plot_score_histogram(pacing: pd.DataFrame, *, pass_fraction: float = 0.5,
                         title: str = "Best score (after late penalty)") -> Figure:
    """Histogram of ``best_score / max_score`` in percent (10-point bins) over one lesson's graded
    rows of a pacing table, with the pass mark as a line."""
    graded = pacing.loc[pacing["best_score"].notna() & (pacing["max_score"] > 0)]
    percent = 100 * graded["best_score"] / graded["max_score"]
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    ax.hist(percent, bins=np.arange(0, 110, 10), color=BLUE, alpha=0.85)
    ax.axvline(100 * pass_fraction, color=ORANGE, linewidth=1.2)
    ax.annotate("pass mark", xy=(100 * pass_fraction, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -4),
                textcoords="offset points", va="top", color=ORANGE)
    ax.set_xlim(0, 100)
    ax.set_xlabel("best score (% of max)")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"{title} (n = {len(percent):,})", loc="left")
    return figure


def plot_cell_pass_rates(cells: pd.DataFrame, *, max_cells: int = 25,
                         title: str = "Pass rate per test (full points), hardest first") -> Figure:
    """Horizontal bars of ``pass_rate`` (all attempts) with ``first_attempt_pass_rate`` as a dot, for up
    to ``max_cells`` rows of :func:`analytics.cell_pass_rates`, hardest at the top."""
    shown = cells.head(max_cells)
    figure = Figure(figsize=(9.0, 1.2 + 0.32 * max(len(shown), 2)), layout="constrained")
    ax = figure.subplots()
    rows = np.arange(len(shown))
    several = shown["notebook"].nunique() > 1 or shown["lesson_id"].nunique() > 1
    names = (shown["lesson_id"] + " / " + shown["notebook"] + " / " + shown["grade_id"]) if several else shown["grade_id"]
    ax.barh(rows, 100 * shown["pass_rate"], color=BLUE, height=0.6, label="all attempts")
    ax.scatter(100 * shown["first_attempt_pass_rate"], rows, color=ORANGE, zorder=3, s=30, label="first attempts")
    ax.set_yticks(rows, names, fontsize=8)
    ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("attempts with full points (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title(title, loc="left")
    return figure
