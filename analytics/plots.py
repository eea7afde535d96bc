"""Figures for the cohort report: each function takes a tidy table and returns a Figure.

Figures are built with :class:`matplotlib.figure.Figure` rather than pyplot, so
the library keeps no global figure state (nothing to close, nothing shown
behind the caller's back); Jupyter displays a returned Figure like any other.
Colours are the Okabe-Ito palette, readable with colour-vision deficiencies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

BLUE, ORANGE, GREEN, GREY = "#0072B2", "#D55E00", "#009E73", "#8C8C8C"
_PALETTE = (BLUE, ORANGE, GREEN, "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
_SIZE = (9.0, 4.5)


def time_axis(ax: Axes, times: pd.Series, *, course_start: pd.Timestamp | None, axis: str = "x") -> object:
    """Plot positions for ``times`` on ``ax``: course days since ``course_start`` (axis labelled "course
    day") when given, else dates (UTC), with a concise date axis."""
    if course_start is not None:
        getattr(ax, f"set_{axis}label")("course day (days since the course start)")
        return (times - pd.Timestamp(course_start)) / pd.Timedelta(days=1)
    locator = AutoDateLocator()
    getattr(ax, f"{axis}axis").set_major_locator(locator)
    getattr(ax, f"{axis}axis").set_major_formatter(ConciseDateFormatter(locator))
    getattr(ax, f"set_{axis}label")("date (UTC)")
    return times.dt.tz_convert("UTC").dt.tz_localize(None)


def plot_plan_vs_actual(cumulative: pd.DataFrame, *, course_start: pd.Timestamp | None = None,
                        title: str = "Cumulative lesson completions: plan vs actual") -> Figure:
    """Step lines of :func:`analytics.cumulative_completions` output: plan dashed, actual solid; by
    course day when ``course_start`` is given, else by date."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    styles = {"plan": {"color": GREY, "linestyle": "--"}, "actual": {"color": BLUE, "linewidth": 2.2}}
    for series, style in styles.items():
        rows = cumulative.loc[cumulative["series"] == series]
        ax.plot(time_axis(ax, rows["date"], course_start=course_start), rows["lessons_completed"],
                drawstyle="steps-post", label=series, **style)
    ax.set_ylabel("lessons completed (cohort total)")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(title, loc="left")
    return figure


def plot_days_vs_target(pacing: pd.DataFrame, *, max_points: int = 300, seed: int = 0,
                        title: str = "First submission relative to the target date") -> Figure:
    """Per lesson (in course order): a box of ``days_vs_target`` over first submissions,
    with up to ``max_points`` sampled students drawn as dots; 0 is the target date."""
    days = pacing["days_vs_target"].to_numpy(dtype=np.float64)
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    _box_and_dots(ax, pacing, np.where(pacing["submitted"].to_numpy(dtype=bool), days, np.nan), max_points=max_points,
                  seed=seed)
    ax.axhline(0.0, color=ORANGE, linewidth=1.2)
    ax.annotate("target", xy=(1.0, 0.0), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                textcoords="offset points", ha="right", color=ORANGE)
    ax.set_ylabel("days after target (negative = early)")
    ax.set_title(title, loc="left")
    return figure


def plot_score_distribution(pacing: pd.DataFrame, *, pass_fraction: float = 0.5, max_points: int = 300,
                            seed: int = 0, title: str = "Best score per lesson (after late penalty)") -> Figure:
    """Per lesson (in course order): a box of ``best_score / max_score`` in percent over graded
    student x lesson rows, sampled dots on top, and the pass mark as a line."""
    best, top = pacing["best_score"].to_numpy(dtype=np.float64), pacing["max_score"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = 100 * best / np.where(top > 0, top, np.nan)
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    _box_and_dots(ax, pacing, percent, max_points=max_points, seed=seed)
    ax.axhline(100 * pass_fraction, color=ORANGE, linewidth=1.2)
    ax.annotate("pass mark", xy=(1.0, 100 * pass_fraction), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                textcoords="offset points", ha="right", color=ORANGE)
    ax.set_ylim(-3, 103)
    ax.set_ylabel("best score (% of max)")
    ax.set_title(title, loc="left")
    return figure


def plot_pace_gap(students: pd.DataFrame, *, title: str = "Pace gap: lessons passed minus lessons due") -> Figure:
    """Bars of how many enrolled students (label not 'withdrawn') have each ``pace_gap``; behind in
    orange, on pace in grey, ahead in green. Readable for 5 or 50 000 students. The title counts the
    students behind pace (pace_gap < 0) and splits them by label, as the headline counts them: those
    still active ('behind') and those gone quiet ('inactive')."""
    enrolled = students.loc[students["label"] != "withdrawn"]
    counts = enrolled["pace_gap"].value_counts().sort_index()
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    colours = np.select([counts.index < 0, counts.index > 0], [ORANGE, GREEN], default=GREY)
    bars = ax.bar(counts.index, counts.to_numpy(), color=colours, width=0.8)
    ax.bar_label(bars, padding=2, fontsize=9, fmt="{:,.0f}")
    ax.set_xticks(counts.index)
    ax.set_xlabel("lessons passed minus lessons whose target has passed (negative = behind)")
    ax.set_ylabel("students")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    behind = enrolled.loc[enrolled["pace_gap"] < 0, "label"]
    labels = ", ".join(f"{int(behind.eq(label).sum()):,} {words}" for label, words in (
        ("behind", "labelled behind (active)"), ("inactive", "inactive"), ("on_track", "on track")) if behind.eq(label).any())
    ax.set_title(f"{title}: {len(behind):,} of {len(enrolled):,} enrolled behind pace"
                 + (f"\n({labels})" if labels else ""), loc="left")
    return figure


def plot_cramming(pacing: pd.DataFrame, *, window_days: float = 7.0, cram_hours: float = 48.0,
                  title: str = "When first submissions arrive, relative to the target") -> Figure:
    """Histogram of first submissions by hours before (negative) or after the student's target, in
    6-hour bins over +-``window_days`` (beyond that, piled into the end bins); the ``cram_hours``
    before the target are shaded."""
    hours = 24 * pacing.loc[pacing["submitted"], "days_vs_target"].to_numpy()
    limit = 24 * window_days
    edges = np.arange(-limit, limit + 6, 6.0)
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    ax.axvspan(-cram_hours, 0, color=ORANGE, alpha=0.12, linewidth=0)
    ax.hist(np.clip(hours, -limit + 1e-9, limit - 1e-9), bins=edges, color=BLUE, alpha=0.85)
    ax.axvline(0.0, color=ORANGE, linewidth=1.2)
    ax.annotate(f"last {cram_hours:g} h before the target", xy=(-cram_hours / 2, 1.0), xycoords=("data", "axes fraction"),
                xytext=(0, -4), textcoords="offset points", ha="center", va="top", color=ORANGE, fontsize=9)
    ax.set_xticks(np.arange(-limit, limit + 1, 24.0), [f"{int(d):+d}" for d in np.arange(-window_days, window_days + 1)])
    ax.set_xlabel("days relative to the target (end bins include everything beyond)")
    ax.set_ylabel("first submissions")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.grid(axis="y", alpha=0.3)
    share = np.mean((hours >= -cram_hours) & (hours <= 0)) if len(hours) else np.nan
    ax.set_title(f"{title}: {share:.0%} of first submissions in the last {cram_hours:g} h" if len(hours) else title,
                 loc="left")
    return figure


def plot_funnel(funnel: pd.DataFrame, *, title: str = "Completion funnel: share of students reaching each lesson") -> Figure:
    """Bars of ``share_reached`` per lesson of :func:`analytics.completion_funnel`, each labelled
    with the hazard of stopping there."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(funnel))
    bars = ax.bar(positions, 100 * funnel["share_reached"].fillna(0).to_numpy(), color=BLUE, width=0.7)
    labels = [f"{reached:,}" + (f"\nstop {hazard:.0%}" if pd.notna(hazard) and stopped else "")
              for reached, hazard, stopped in zip(funnel["reached"], funnel["hazard"], funnel["stopped"])]
    ax.bar_label(bars, labels=labels, padding=2, fontsize=8)
    ax.set_xticks(positions, funnel["lesson_id"], rotation=0 if len(funnel) <= 10 else 45, fontsize=9)
    ax.set_ylim(0, 118)
    ax.set_ylabel("students who reached the lesson (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, loc="left")
    return figure


def plot_persistence(survival: pd.DataFrame, *, inactive_days: float = 14.0, inactivity: str | None = None,
                     since: str = "enrolment", title: str | None = None) -> Figure:
    """The Kaplan-Meier step curve of :func:`analytics.kaplan_meier` with a 95% band (+-1.96
    standard errors, clipped to 0-100%); a stop is becoming inactive (``inactivity`` in words, default
    ``inactive_days`` days without a submission) or withdrawing. ``since`` names the time axis's origin
    ("enrolment" or "course_start", as in :func:`analytics.persistence_times`)."""
    origin = "enrolling" if since == "enrolment" else "the course start"
    title = title or f"Persistence: students still going, by days since {origin}"
    inactivity = inactivity or f"{inactive_days:g} days without a submission"
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    days, survival_pct = survival["days"].to_numpy(), 100 * survival["survival"].to_numpy()
    band = 196 * survival["std_error"].fillna(0).to_numpy()
    ax.fill_between(days, np.clip(survival_pct - band, 0, 100), np.clip(survival_pct + band, 0, 100), step="post",
                    color=BLUE, alpha=0.15, linewidth=0)
    ax.step(days, survival_pct, where="post", color=BLUE, linewidth=2.2)
    ax.set_ylim(0, 103)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"days since {origin}")
    ax.set_ylabel("still going (%)")
    ax.grid(alpha=0.3)
    stops = int(survival["stopped"].sum())
    ax.set_title(f"{title}\n({stops:,} stopped; inactive = {inactivity})", loc="left", fontsize=10)
    return figure


def plot_cohort_survival(survival: pd.DataFrame, *, since: str = "enrolment",
                         title: str = "Persistence by cohort") -> Figure:
    """One Kaplan-Meier step curve per cohort, from :func:`analytics.cohorts.cohort_table` of ``"survival"``
    (columns ``cohort`` plus those of :func:`analytics.kaplan_meier`)."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    for index, (cohort, curve) in enumerate(survival.groupby("cohort", sort=False)):
        ax.step(curve["days"], 100 * curve["survival"], where="post", linewidth=1.8,
                color=_PALETTE[index % len(_PALETTE)], label=str(cohort))
    ax.set_ylim(0, 103)
    ax.set_xlim(left=0)
    ax.set_xlabel("days since " + ("enrolling" if since == "enrolment" else "the course start"))
    ax.set_ylabel("still going (%)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, ncols=2)
    ax.set_title(title, loc="left")
    return figure


def plot_cohort_lessons(lessons: pd.DataFrame, *, column: str = "median_days_vs_target",
                        title: str = "Median first submission relative to the target, by cohort") -> Figure:
    """Grouped bars of one column of per-cohort lesson metrics (:func:`analytics.cohorts.cohort_table` of
    ``"lessons"``): each lesson's figure in every cohort, side by side."""
    wide = lessons.pivot_table(index=["order", "lesson_id"], columns="cohort", values=column, sort=True, dropna=False)
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.subplots()
    width = 0.8 / max(wide.shape[1], 1)
    for index, cohort in enumerate(wide.columns):
        ax.bar(np.arange(len(wide)) + (index - (wide.shape[1] - 1) / 2) * width, wide[cohort].to_numpy(), width=width,
               color=_PALETTE[index % len(_PALETTE)], label=str(cohort))
    ax.set_xticks(np.arange(len(wide)), [lesson for _, lesson in wide.index], rotation=0 if len(wide) <= 10 else 45,
                  fontsize=9)
    ax.axhline(0.0, color="#333333", linewidth=0.8)
    ax.set_ylabel(column.replace("_", " "))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=8, ncols=2)
    ax.set_title(title, loc="left")
    return figure


def _box_and_dots(ax: Axes, pacing: pd.DataFrame, values: np.ndarray, *, max_points: int, seed: int) -> None:
    """One box per lesson of ``pacing`` (course order, empty lessons kept) over ``values`` (one per row of
    ``pacing``, NaN = not shown), dots for a sample of them.

    Rows are matched to lessons by their integer ``order`` (one per lesson), not by lesson id: grouping a
    million text ids cost more than drawing the figure.
    """
    order = pacing["order"].to_numpy(dtype=np.int64)
    if len(order) and -2**15 <= order.min() and order.max() < 2**15:
        # 16-bit keys: numpy's stable sorts (here and below) are then radix sorts, and give the same order.
        order = order.astype(np.int16)
    orders, first_rows = np.unique(order, return_index=True)
    lessons = pacing["lesson_id"].take(first_rows).tolist()  # not every row's id as a Python string
    shown = np.flatnonzero(~np.isnan(values))
    lesson, values = np.searchsorted(orders, order[shown]), values[shown]  # each shown row's lesson, 0-based
    lesson = lesson.astype(np.int16) if len(orders) < 2**15 else lesson
    by_lesson = np.argsort(lesson, kind="stable")
    counts = np.bincount(lesson, minlength=len(lessons))
    data = np.split(values[by_lesson], np.cumsum(counts)[:-1])
    ax.boxplot(data, positions=range(1, len(lessons) + 1), widths=0.6, showfliers=False,
               medianprops={"color": BLUE, "linewidth": 2}, boxprops={"color": "#333333"})
    # A fixed-size random sample per lesson keeps the dots legible and the figure small at any cohort size:
    # the first max_points of each lesson in one random permutation of the rows (DataFrame.sample's).
    shuffled = np.random.RandomState(seed).permutation(len(values))
    grouped = np.argsort(lesson[shuffled], kind="stable")
    rank = np.arange(len(grouped)) - np.repeat(np.cumsum(counts) - counts, counts)
    dots = shuffled[np.sort(grouped[rank < max_points])]
    jitter = np.random.default_rng(seed).uniform(-0.18, 0.18, size=len(dots))
    ax.scatter(lesson[dots] + 1 + jitter, values[dots], s=9, alpha=0.35, color=BLUE, linewidths=0)
    ax.set_xticks(range(1, len(lessons) + 1),
                  [f"{name}\nn={count:,}" for name, count in zip(lessons, counts)],
                  rotation=0 if len(lessons) <= 10 else 45, fontsize=9)
    ax.set_xlim(0.4, len(lessons) + 0.6)
    ax.grid(axis="y", alpha=0.3)
