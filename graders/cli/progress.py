"""Students' progress and time: report, simulate, extend, status."""

from __future__ import annotations

from pathlib import Path

import click

from ..course.plan import CourseConfig
from ..terminal import RichProgress, err, out, plain_table, print_cohort_overview, print_student_status
from .base import course_of, fail_on, main, no_wait_option, parse_as_of, refresh_progress, writing


@main.command()
@click.option("--student", "student_id", default=None, help="One student's progress report (can be given to the student).")
@click.option("--lesson", "lesson_id", default=None, help="One lesson's report: timing, attempts, scores, per-test pass rates.")
@click.option("--all-students", "all_students", is_flag=True, help="A progress report for every enrolled student.")
@click.option("--as-of", "as_of", default=None, help="Report as of this date/time (course time zone); default: latest submission.")
@click.option("--to", "output_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: <course>/analytics/reports; with --tables, ./reports).")
@click.option("--past", "past_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="A past cohort's exports folder (repeat, two or more): the cohort report adds a model fitted on "
                   "them, evaluated against the rules.")
@click.option("--tables", "tables_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report from this folder of tables alone (any system's export that passes the validator): "
                   "no course folder needed.")
@click.option("--settings", "settings_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --tables: an analytics settings file ([analytics], [at_risk]) or a course.toml.")
@click.pass_context
def report(ctx: click.Context, student_id: str | None, lesson_id: str | None, all_students: bool, as_of: str | None,
           output_dir: Path | None, past_dirs: tuple[Path, ...], tables_dir: Path | None, settings_path: Path | None) -> None:
    """Run a progress notebook with papermill and render it to HTML (default: the cohort report)."""
    from analytics import report as reports

    from ..operations.status import at_risk_rules

    if sum((student_id is not None, lesson_id is not None, all_students)) > 1:
        raise click.UsageError("give at most one of --student, --lesson and --all-students")
    if past_dirs and (student_id is not None or lesson_id is not None or all_students):
        raise click.UsageError("--past is for the cohort report only")
    if settings_path is not None and tables_dir is None:
        raise click.UsageError("--settings is for --tables: a course's reports read its course.toml")
    if tables_dir is not None:
        from analytics.cli import as_of_from_argument
        from analytics.settings import ReportSettings, load_settings

        settings = load_settings(settings_path) if settings_path is not None else ReportSettings()
        results = reports.report_from_tables(
            tables_dir, output_dir=output_dir if output_dir is not None else Path("reports"), settings=settings,
            as_of=as_of_from_argument(as_of, settings), student_id=student_id, lesson_id=lesson_id,
            all_students=all_students, past_tables_dirs=list(past_dirs), progress=RichProgress())
        for result in results:
            out.print(f"Report: {result.html}", highlight=False, soft_wrap=True)
        return
    course = course_of(ctx)
    at_risk_rules(course)  # a bad [at_risk] is named here, not from inside a notebook (which reads it again)
    when = parse_as_of(course, as_of)
    # The course's own folders (analytics' defaults are for analysts without a course).
    tables, to = course.layout.export_dir, output_dir if output_dir is not None else course.layout.reports_dir
    if all_students:
        results = reports.run_student_reports(course_dir=course.root, tables_dir=tables, as_of=when, output_dir=to,
                                              progress=RichProgress())
    else:
        with err.status("Running the progress notebook..."):
            if student_id is not None:
                result = reports.run_student_report(course_dir=course.root, tables_dir=tables, student_id=student_id,
                                                    as_of=when, output_dir=to)
            elif lesson_id is not None:
                result = reports.run_lesson_report(course_dir=course.root, tables_dir=tables, lesson_id=lesson_id,
                                                   as_of=when, output_dir=to)
            else:
                result = reports.run_cohort_report(course_dir=course.root, tables_dir=tables, as_of=when, output_dir=to,
                                                   title=f"{course.title}: cohort progress", past_tables_dirs=past_dirs)
        results = (result,)
    for result in results:
        out.print(f"Report: {result.html}", highlight=False, soft_wrap=True)


@main.command()
@click.option("--students", type=click.IntRange(1, 5000), required=True, help="How many simulated students.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed: the same seed gives the same cohort.")
@click.option("--until", "until", default=None, help="Stop simulating at this date (course time zone); default: a week after the last due date.")
@no_wait_option
@click.pass_context
def simulate(ctx: click.Context, students: int, seed: int, until: str | None, no_wait: bool) -> None:
    """Simulate a cohort submitting through the real exchange, on a simulated clock (never in a course with real students)."""
    from ..operations.simulate import run_simulation

    course = course_of(ctx)
    with writing(ctx, course, no_wait=no_wait):
        report = run_simulation(course, students=students, seed=seed, until=parse_as_of(course, until),
                                progress=RichProgress())
    table = plain_table("persona", "students", title=f"Simulated {report.students} students until {report.until:%Y-%m-%d}")
    for persona, count in sorted(report.personas.items()):
        table.add_row(persona, str(count))
    out.print(table)
    out.print(f"{len(report.submissions)} submissions through the exchange; {report.attempts_collected} attempts collected.")
    fail_on(report.problems, "simulated submissions could not be collected and")


@main.command()
@click.argument("student_id")
@click.argument("lesson_id")
@click.option("--days", type=int, default=None, help="Days past the student's planned due date.")
@click.option("--until", "until", default=None, help="New due date/time (course time zone).")
@click.option("--revoke", is_flag=True, help="Take back the extension in force: the planned due date applies again.")
@click.option("--reason", required=True, help="Why: kept with the student's record.")
@click.option("--share-reason", "share_reason", is_flag=True,
              help="Let the student read the reason in their progress document (otherwise they see the new date only).")
@click.option("--by", "by", default=None, help="Who decided, for the record (default: your login name).")
@no_wait_option
@click.pass_context
def extend(ctx: click.Context, student_id: str, lesson_id: str, days: int | None, until: str | None, revoke: bool,
           reason: str, share_reason: bool, by: str | None, no_wait: bool) -> None:
    """Move one student's due date for one lesson (works before they submit), or --revoke that."""
    from ..grading.lateness import grant_extension, revoke_extension

    course = course_of(ctx)
    tz = course.timezone
    if revoke and (days is not None or until is not None or share_reason):
        raise click.UsageError("--revoke goes back to the planned due date: give no --days, --until or --share-reason with it")
    with writing(ctx, course, no_wait=no_wait):
        if revoke:
            revoked = revoke_extension(course, student_id=student_id, lesson_id=lesson_id, reason=reason, revoked_by=by)
        else:
            extension = grant_extension(course, student_id=student_id, lesson_id=lesson_id, days=days,
                                        until=parse_as_of(course, until), reason=reason, granted_by=by,
                                        share_reason=share_reason)
        refresh_progress(course, student_ids=[student_id])
    if revoke:
        out.print(f"{student_id} / {lesson_id}: extension revoked, due {revoked.planned_due_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
                  f" as planned (revoked by {revoked.revoked_by}: {revoked.reason})", highlight=False)
        return
    local = extension.due_at.astimezone(tz)
    shared = " (shared with the student)" if extension.shareable else ""
    out.print(f"{student_id} / {lesson_id}: due {local:%Y-%m-%d %H:%M %Z} "
              f"(granted by {extension.granted_by}: {extension.reason}{shared})", highlight=False)


@main.command()
@click.argument("student_id", required=False)
@click.option("--as-of", "as_of", default=None, help="As of this date/time (course time zone); default: the latest submission for the cohort, now for one student.")
@click.pass_context
def status(ctx: click.Context, student_id: str | None, as_of: str | None) -> None:
    """The cohort at a glance (pace, lessons, at-risk list), or one student's dates, attempts and risks."""
    from ..operations import status as views

    course = course_of(ctx)
    if student_id is None:
        print_cohort_overview(views.cohort_overview(course, as_of=parse_as_of(course, as_of)), course=course)
        return
    record = views.student_status(course, student_id, as_of=parse_as_of(course, as_of))
    print_student_status(record, course=course)
    if record.rescored:
        _show_new_marks(ctx, course, student_id)


def _show_new_marks(ctx: click.Context, course: CourseConfig, student_id: str) -> None:
    """A teacher's marks just came into the ledger: the student sees them now, unless that would mean waiting
    for another command (a look at a student never waits)."""
    from ..course.lock import CourseBusy

    try:
        with writing(ctx, course, no_wait=True):
            refresh_progress(course, student_ids=[student_id])
    except CourseBusy as busy:
        who = busy.holder.describe(course.timezone) if busy.holder else "another paceline command"
        err.print(f"note: {student_id}'s new marks are not in their progress document yet: {who} is writing the "
                  "course; the next release, collect, grade, feedback or watch cycle writes it",
                  highlight=False, markup=False)
