"""Paceline analytics: pacing and progress of a self-paced cohort, from three tidy tables.

Reads only the tables described in :mod:`analytics.tables` (``lessons``,
``enrollments``, ``submissions``), so it works on ``paceline export`` output
and on a log exported from another system alike.
"""

from .errors import AnalyticsError, ReportError, TableError
from .pacing import (
    CUMULATIVE_COLUMNS,
    HEADLINE_COLUMNS,
    PACING_COLUMNS,
    STATUSES,
    SUMMARY_COLUMNS,
    cohort_headline,
    cumulative_completions,
    pacing_table,
    resolve_as_of,
    student_summary,
)
from .plots import plot_ahead_behind, plot_days_vs_target, plot_plan_vs_actual, plot_score_distribution
from .report import ReportResult, run_report
from .synthetic import synthetic_tables
from .tables import (
    ENROLLMENTS_COLUMNS,
    LESSONS_COLUMNS,
    SUBMISSION_STATUSES,
    SUBMISSIONS_COLUMNS,
    Column,
    CourseTables,
    describe_columns,
    load_tables,
    validate_tables,
    write_tables,
)

__all__ = [
    "AnalyticsError",
    "CUMULATIVE_COLUMNS",
    "Column",
    "CourseTables",
    "ENROLLMENTS_COLUMNS",
    "HEADLINE_COLUMNS",
    "LESSONS_COLUMNS",
    "PACING_COLUMNS",
    "ReportError",
    "ReportResult",
    "STATUSES",
    "SUBMISSIONS_COLUMNS",
    "SUBMISSION_STATUSES",
    "SUMMARY_COLUMNS",
    "TableError",
    "cohort_headline",
    "cumulative_completions",
    "describe_columns",
    "load_tables",
    "pacing_table",
    "plot_ahead_behind",
    "plot_days_vs_target",
    "plot_plan_vs_actual",
    "plot_score_distribution",
    "resolve_as_of",
    "run_report",
    "student_summary",
    "synthetic_tables",
    "validate_tables",
    "write_tables",
]
