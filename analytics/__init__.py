"""Paceline analytics: pacing and progress of a self-paced cohort, from tidy tables.

Reads only the tables described in :mod:`analytics.tables` (``lessons``,
``enrollments``, ``submissions``, and optionally ``cell_scores`` and
``timelines``), so it works on ``paceline export`` output and on a log
exported from another system alike. Every metric is a pure function from
tables to a tidy DataFrame with documented columns; :func:`analyse_cohort`
computes them all with one set of :class:`AtRiskRules`.

The names below load their module on first use: ``import analytics`` (and
``import analytics.errors`` from ``paceline``'s command line) does not import
pandas, matplotlib or papermill until a metric, plot or report is asked for.
"""

from __future__ import annotations

import importlib

# Where each public name lives.
_MODULES: dict[str, tuple[str, ...]] = {
    "cohort": ("AFTER_WITHDRAWAL_COLUMNS", "HEADLINE_COLUMNS", "CohortAnalysis", "analyse_cohort", "cohort_headline", "submissions_after_withdrawal",),
    "cohorts": ("CohortsAnalysis", "analyse_cohorts", "cohort_starts", "cohort_table", "compare_headlines", "split_cohorts",),
    "comparison": ("COMPARISON_COLUMNS", "MODEL_SCORE_COLUMNS", "ModelComparison", "compare_with_rules",),
    "context": ("ReportContext", "load_report", "open_report", "prepare_report", "save_report"),
    "errors": ("AnalyticsError", "ReportBatchError", "ReportError", "RulesError", "SettingsError", "TableError", "UnknownIdError",),
    "lessons": ("ATTEMPT_COLUMNS", "CELL_PASS_COLUMNS", "FUNNEL_COLUMNS", "LESSON_COLUMNS", "attempt_distribution", "cell_pass_rates", "completion_funnel", "lesson_metrics",),
    "model": ("EVALUATION_COLUMNS", "FEATURE_COLUMNS", "RISK_COLUMNS", "RiskModel", "evaluate_risk", "fit_risk_model", "predict_risk", "risk_features", "training_frame",),
    "pacing": ("CUMULATIVE_COLUMNS", "PACING_COLUMNS", "STATUSES", "cumulative_completions", "pacing_table", "resolve_as_of",),
    "persistence": ("DURATION_COLUMNS", "SURVIVAL_COLUMNS", "after_course_end", "kaplan_meier", "median_persistence", "persistence_times",),
    "plots": ("plot_cohort_lessons", "plot_cohort_survival", "plot_cramming", "plot_days_vs_target", "plot_funnel", "plot_pace_gap", "plot_persistence", "plot_plan_vs_actual", "plot_score_distribution",),
    "plots_detail": ("plot_attempt_counts", "plot_cell_pass_rates", "plot_lesson_timing", "plot_score_histogram", "plot_student_timeline",),
    "risk": ("AT_RISK_COLUMNS", "REASON_COLUMNS", "RULES", "AtRiskRules", "at_risk_list", "load_rules", "risk_reasons", "rules_from_mapping",),
    "status": ("ATTEMPT_LOG_COLUMNS", "LESSON_STATUS_COLUMNS", "STUDENT_LESSON_COLUMNS", "STUDENT_SUMMARY_COLUMNS", "CohortStatus", "StudentStatus", "cohort_status", "student_status",),
    "present": ("summarised",),
    "settings": ("ReportSettings", "load_settings", "settings_from_mapping",),
    "students": ("LABELS", "STUDENT_COLUMNS", "student_metrics",),
    "synthetic": ("PERSONA_COLUMNS", "PERSONAS", "SyntheticCourse", "synthetic_course", "synthetic_tables",),
    "tables": ("CELL_SCORES_COLUMNS", "COHORT_COLUMN", "ENROLLMENTS_COLUMNS", "LESSONS_COLUMNS", "SUBMISSION_STATUSES", "SUBMISSIONS_COLUMNS", "TIMELINES_COLUMNS", "Column", "CourseTables", "describe_columns", "load_tables", "validate_tables", "write_tables",),
    # The report runners need papermill and nbconvert, which take seconds to import; the notebooks they
    # run import analytics too.
    "report": ("ReportResult", "report_from_tables", "run_cohort_report", "run_lesson_report", "run_report", "run_student_report", "run_student_reports",),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> object:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'analytics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup does not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AFTER_WITHDRAWAL_COLUMNS", "COHORT_COLUMN", "CohortsAnalysis", "ReportContext", "ReportSettings", "SettingsError",
    "after_course_end", "analyse_cohorts", "cohort_starts", "cohort_table", "compare_headlines", "load_settings",
    "load_report", "open_report", "plot_cohort_lessons", "plot_cohort_survival", "prepare_report", "report_from_tables",
    "save_report", "settings_from_mapping",
    "split_cohorts", "submissions_after_withdrawal", "summarised",
    "ATTEMPT_COLUMNS", "ATTEMPT_LOG_COLUMNS", "AT_RISK_COLUMNS", "AnalyticsError", "AtRiskRules",
    "CELL_PASS_COLUMNS", "CELL_SCORES_COLUMNS", "COMPARISON_COLUMNS", "CUMULATIVE_COLUMNS", "CohortAnalysis",
    "CohortStatus", "Column",
    "CourseTables", "DURATION_COLUMNS", "ENROLLMENTS_COLUMNS", "EVALUATION_COLUMNS", "FEATURE_COLUMNS",
    "FUNNEL_COLUMNS", "HEADLINE_COLUMNS", "LABELS", "LESSONS_COLUMNS", "LESSON_COLUMNS", "LESSON_STATUS_COLUMNS",
    "MODEL_SCORE_COLUMNS", "ModelComparison",
    "PACING_COLUMNS", "PERSONAS", "PERSONA_COLUMNS", "REASON_COLUMNS", "RISK_COLUMNS", "RULES", "ReportBatchError", "ReportError",
    "ReportResult", "RiskModel", "RulesError", "STATUSES", "STUDENT_COLUMNS", "STUDENT_LESSON_COLUMNS",
    "STUDENT_SUMMARY_COLUMNS", "SUBMISSIONS_COLUMNS", "SUBMISSION_STATUSES", "SURVIVAL_COLUMNS", "StudentStatus",
    "SyntheticCourse", "TIMELINES_COLUMNS", "TableError", "UnknownIdError", "analyse_cohort", "at_risk_list",
    "attempt_distribution", "cell_pass_rates", "cohort_headline", "cohort_status", "compare_with_rules",
    "completion_funnel",
    "cumulative_completions", "describe_columns", "evaluate_risk", "fit_risk_model", "kaplan_meier",
    "lesson_metrics", "load_rules", "load_tables", "median_persistence", "pacing_table", "persistence_times",
    "plot_attempt_counts", "plot_cell_pass_rates", "plot_cramming", "plot_days_vs_target", "plot_funnel",
    "plot_lesson_timing", "plot_pace_gap", "plot_persistence", "plot_plan_vs_actual", "plot_score_distribution",
    "plot_score_histogram", "plot_student_timeline", "predict_risk", "resolve_as_of", "risk_features",
    "risk_reasons", "rules_from_mapping", "run_cohort_report", "run_lesson_report", "run_report",
    "run_student_report", "run_student_reports", "student_metrics", "student_status", "synthetic_course",
    "synthetic_tables", "training_frame", "validate_tables", "write_tables",
]
