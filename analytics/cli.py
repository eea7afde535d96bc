"""``python -m analytics``: reports from a folder of tables, for analysts who never install the instructor side.

::

    python -m analytics report --tables exports --settings analytics.toml --as-of 2014-06-30
    python -m analytics report --tables exports --course-start 2013-10-01 --as-of 240 --student 4821

Each option overrides the settings file (:mod:`analytics.settings`); without
either, every setting has its default. The command parses its arguments,
calls :func:`analytics.report.report_from_tables` and prints where each
report is; errors are one line naming what is wrong, and exit status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import AnalyticsError
from .settings import SINCE, ReportSettings, load_settings, parse_when


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="render the cohort, a student's or a lesson's report as HTML")
    report.add_argument("--tables", type=Path, required=True, help="folder of tables (Parquet or CSV)")
    report.add_argument("--settings", type=Path, help="settings file ([analytics] and [at_risk]), or a course.toml")
    report.add_argument("--to", type=Path, default=Path("reports"), help="output folder (default: ./reports)")
    report.add_argument("--as-of", help="an ISO date or date and time (settings' time zone unless it has an offset), "
                        "or a number: days after each cohort's course start; default: the latest submission")
    which = report.add_mutually_exclusive_group()
    which.add_argument("--student", help="one student's report")
    which.add_argument("--lesson", help="one lesson's report")
    which.add_argument("--all-students", action="store_true", help="every enrolled student's report")
    report.add_argument("--past", type=Path, action="append", default=[],
                        help="a past cohort's tables folder (repeat, two or more): adds the risk model")
    report.add_argument("--keep-notebook", action="store_true", help="keep the executed .ipynb beside the HTML")
    options = report.add_argument_group("settings (override the settings file)")
    options.add_argument("--title")
    options.add_argument("--timezone", help="IANA name, e.g. Europe/London")
    options.add_argument("--course-start", help="day 0 of day-offset times (a date, or date and time)")
    options.add_argument("--pass-fraction", type=float, help="the pass mark, as a share of a lesson's points")
    options.add_argument("--gating-pass-fraction", type=float, help="the instructor side's unlock mark, to show")
    options.add_argument("--persistence-since", choices=SINCE)
    options.add_argument("--inactive-days", type=float)
    options.add_argument("--inactive-gap-multiple", type=float)
    return parser


def settings_from_arguments(arguments: argparse.Namespace) -> ReportSettings:
    """The settings file (if any), then each option given on top of it."""
    settings = load_settings(arguments.settings) if arguments.settings is not None else ReportSettings()
    timezone = arguments.timezone or settings.timezone
    start = (parse_when(arguments.course_start, timezone=timezone, key="--course-start")
             if arguments.course_start else None)
    rules = dataclasses.replace(settings.rules, **{key: value for key, value in (
        ("pass_fraction", arguments.pass_fraction), ("inactive_days", arguments.inactive_days),
        ("inactive_gap_multiple", arguments.inactive_gap_multiple)) if value is not None})
    from .risk import rules_from_mapping  # the rules' ranges are checked where they are defined

    rules = rules_from_mapping({key: value for key, value in dataclasses.asdict(rules).items() if value is not None})
    return settings.replace(title=arguments.title, timezone=arguments.timezone, course_start=start, rules=rules,
                            gating_pass_fraction=arguments.gating_pass_fraction,
                            persistence_since=arguments.persistence_since)


def as_of_from_argument(text: str | None, settings: ReportSettings) -> object:
    """None, a course day (a number), or an aware datetime (a date means the end of that day)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return parse_when(text, timezone=settings.timezone, key="--as-of", end_of_day=True)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        settings = settings_from_arguments(arguments)
        from .report import report_from_tables  # papermill and nbconvert load only when a report runs

        results = report_from_tables(
            arguments.tables, output_dir=arguments.to, settings=settings,
            as_of=as_of_from_argument(arguments.as_of, settings), student_id=arguments.student,
            lesson_id=arguments.lesson, all_students=arguments.all_students, past_tables_dirs=arguments.past,
            keep_notebook=arguments.keep_notebook)
    except AnalyticsError as error:
        notes = "".join(f" ({note})" for note in getattr(error, "__notes__", []))
        print(f"error: {error}{notes}", file=sys.stderr)
        return 1
    for result in results:
        print(f"Report: {result.html}")
        if result.notebook is not None:
            print(f"Notebook: {result.notebook}")
    return 0
