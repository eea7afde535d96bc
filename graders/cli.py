"""The ``paceline`` command: each command parses its arguments, calls one
library function, and prints a one-screen summary. No logic lives here.

Commands import their pipeline stage when they run, so that ``paceline --help``
does not pay for importing nbgrader, pandas and the Jupyter stack."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import click

from analytics.errors import AnalyticsError

from .course.plan import CourseConfig, load_course
from .course.toml_reader import parse_local_datetime
from .errors import BatchError, PacelineError
from .terminal import (
    RichProgress,
    err,
    escape,
    narrow_table,
    out,
    plain_table,
    print_cohort_overview,
    print_student_status,
)



def _course(ctx: click.Context) -> CourseConfig:
    return load_course(ctx.obj["course_dir"])


def _refresh_progress(course: CourseConfig, *, student_ids: Sequence[str] | None = None) -> None:
    """What students see changed: rewrite their progress documents (a student's failure is reported, not fatal)."""
    from .operations.progress_files import refresh_progress_documents

    for problem in refresh_progress_documents(course, student_ids=student_ids).problems:
        err.print(f"[yellow]warning:[/] {escape(str(problem))}", highlight=False)


def _writing(ctx: click.Context, course: CourseConfig, *, no_wait: bool) -> contextlib.AbstractContextManager[None]:
    """The course lock, for a command that writes the course: wait for another writer (saying who), or refuse."""
    from .course.lock import course_lock

    def waiting(holder) -> None:
        who = holder.describe(course.timezone) if holder is not None else "another paceline command"
        err.print(f"waiting for {who}…", highlight=False, markup=False)

    return course_lock(course.layout, command=f"paceline {ctx.info_name}", timezone=course.timezone,
                       wait=not no_wait, on_wait=waiting)


no_wait_option = click.option(
    "--no-wait", "no_wait", is_flag=True,
    help="If another paceline command is writing this course, exit 1 at once instead of waiting for it.")


def _fail_on(problems: Sequence[PacelineError], what: str) -> None:
    if problems:
        raise BatchError(what, list(problems))


class PacelineGroup(click.Group):
    """Turns library errors into a message and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (PacelineError, AnalyticsError) as exc:
            # Messages quote names students chose: "[/]" in one must print, not be taken for markup.
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(1)


@click.group(cls=PacelineGroup)
@click.option("--course", "course_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              envvar="PACELINE_COURSE", show_default=True, help="Course folder (holds course.toml).")
@click.pass_context
def main(ctx: click.Context, course_dir: Path) -> None:
    """Paceline: self-paced Jupyter courses on nbgrader, with pacing analytics."""
    warnings.filterwarnings("ignore")  # SQLAlchemy and traitlets chatter is not for instructors
    ctx.obj = {"course_dir": course_dir}


@main.command()
@click.argument("lesson_ids", nargs=-1)
@click.option("--due", "due", is_flag=True, help="Release every lesson that has opened and changed since its last release (for cron).")
@click.option("--now", "early", multiple=True, metavar="LESSON",
              help="Publish LESSON now, before it opens (repeat for several); alone, publishes only these.")
@no_wait_option
@click.pass_context
def release(ctx: click.Context, lesson_ids: tuple[str, ...], due: bool, early: tuple[str, ...], no_wait: bool) -> None:
    """Generate student versions and publish the lessons that have opened (gated lessons: per student, on unlock)."""
    from .exchange.release import release_due_lessons, release_lessons

    course = _course(ctx)
    if due and (lesson_ids or early):
        raise click.UsageError("--due picks the lessons itself: name no lessons and no --now with it")
    with _writing(ctx, course, no_wait=no_wait):
        if due:
            report = release_due_lessons(course, progress=RichProgress())
        else:
            report = release_lessons(course, lesson_ids=list(lesson_ids), early=list(early), progress=RichProgress())
        _refresh_progress(course)
    from rich.text import Text  # file names as they are, never read as markup

    table = narrow_table(f"Released to {course.exchange_root}", [("lesson", True), ("files published", False),
                                                                   ("points", True), ("to", False)])
    for lesson in report.released:
        table.add_row(lesson.lesson_id, Text("\n".join(lesson.files)), f"{lesson.max_score:g}",
                      "students who unlock it" if lesson.gated else "everyone")
    out.print(table if report.released else "Nothing new to release.")
    for lesson in report.released:
        if lesson.kept_home:
            out.print(f"{lesson.lesson_id}: not published (course.toml's include/exclude decide): "
                      f"{', '.join(lesson.kept_home)}", highlight=False, markup=False)
    if report.unchanged:
        out.print(f"Unchanged since their last release: {', '.join(report.unchanged)}")
    if report.held_back:
        out.print("Not open yet, left as they are (`paceline release --now LESSON` publishes one early):", highlight=False)
        for held in report.held_back:
            out.print(f"  {held.lesson_id} opens {held.opens_at.astimezone(course.timezone):%Y-%m-%d %H:%M %Z}",
                      highlight=False)
    if report.withdrawn:
        out.print(f"Taken back with unrelease, so not released (name one to release it again): "
                  f"{', '.join(report.withdrawn)}", highlight=False)
    for student_id, lesson_id in report.unlocked:
        out.print(f"Unlocked {lesson_id} for {student_id}")
    _fail_on(report.problems, "lesson releases")


@main.command()
@click.argument("lesson_id")
@click.option("--by", "by", default=None, help="Who takes it back, for the record (default: your login name).")
@no_wait_option
@click.pass_context
def unrelease(ctx: click.Context, lesson_id: str, by: str | None, no_wait: bool) -> None:
    """Take a released lesson back from the exchange (everyone's and personal copies); say who has it already."""
    from .exchange.unrelease import unrelease_lesson

    course = _course(ctx)
    with _writing(ctx, course, no_wait=no_wait):
        report = unrelease_lesson(course, lesson_id=lesson_id, by=by)
        _refresh_progress(course)
    where = ["the exchange's outbound folder"] if report.from_outbound else []
    if report.personal_copies:
        where.append(f"the personal folders of {len(report.personal_copies)} student(s) who had unlocked it "
                     f"({', '.join(report.personal_copies)})")
    out.print(f"Took {report.lesson_id} back from {' and '.join(where)}: nobody can fetch it now. "
              f"`paceline release {report.lesson_id}` publishes it again.", highlight=False)
    out.print("Paceline cannot tell who fetched it already: nbgrader's fetch copies a lesson into the student's "
              "own home folder and records nothing, and those copies cannot be recalled.", highlight=False)
    if report.submitted:
        out.print(f"{len(report.submitted)} student(s) submitted it, so they certainly have it: "
                  f"{', '.join(report.submitted)} (their attempts and grades are kept).", highlight=False)
    else:
        out.print("Nobody has submitted it.", highlight=False)


@main.command()
@no_wait_option
@click.pass_context
def collect(ctx: click.Context, no_wait: bool) -> None:
    """Collect every new submission from the exchange (every attempt is kept)."""
    from .exchange.collect import collect_submissions

    course = _course(ctx)
    with _writing(ctx, course, no_wait=no_wait):
        report = collect_submissions(course, progress=RichProgress())
        _refresh_progress(course)
    out.print(f"Collected {len(report.collected)} new attempt(s); {report.already_collected} already collected.")
    _fail_on(report.problems, "submissions could not be collected and")


@main.command()
@click.argument("lesson_ids", nargs=-1)
@click.option("--all", "regrade", is_flag=True, help="Regrade every attempt, not only new ones.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="Grade on this Dask cluster instead of a local one.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Local worker processes (default: one per core, plus one).")
@click.option("--unsafe-no-sandbox", "unsafe", is_flag=True,
              help="DANGEROUS: run student code unsandboxed, as your own user, able to read solutions and other students' work.")
@no_wait_option
@click.pass_context
def grade(ctx: click.Context, lesson_ids: tuple[str, ...], regrade: bool, scheduler: str | None,
          workers: int | None, unsafe: bool, no_wait: bool) -> None:
    """Autograde collected attempts with nbgrader, sandboxed and in parallel (new attempts only, unless --all)."""
    if unsafe:
        err.print("[bold red]WARNING: grading WITHOUT the sandbox: student code runs as you, with your access.[/]")
    course = _course(ctx)
    with _writing(ctx, course, no_wait=no_wait):  # before the seconds of importing nbgrader and Dask
        from .grading.grade import GradingInterrupted, grade_attempts

        try:
            report = grade_attempts(course, lesson_ids=list(lesson_ids), regrade=regrade, sandboxed=not unsafe,
                                    scheduler=scheduler, workers=workers, progress=RichProgress())
        except GradingInterrupted as stopped:
            _refresh_progress(course)  # the attempts graded before Ctrl-C are the students' to see
            failed = f" ({stopped.failed} could not be graded)" if stopped.failed else ""
            err.print(f"interrupted: {stopped.graded} of {stopped.planned} graded{failed}; "
                      "run paceline grade again to finish", highlight=False, markup=False, soft_wrap=True)
            sys.exit(130)  # the shell's code for a command ended by Ctrl-C
        _refresh_progress(course)
    # "late" as nbgrader penalises it: after the student's due date, extensions and grace days counted.
    table = narrow_table("Grading", [("lesson", True), ("attempts\ngraded", False), ("mean score", True),
                                      ("penalised\nlate", False)],
                          caption="Penalised late: received after the student's due date (extensions, grace days counted).")
    by_lesson: dict[str, list] = {}
    for graded in report.graded:
        by_lesson.setdefault(graded.attempt.lesson_id, []).append(graded)
    for lesson_id, items in by_lesson.items():
        mean = sum(g.score - g.late_penalty for g in items) / len(items)
        late = sum(1 for g in items if g.late_penalty > 0)
        table.add_row(lesson_id, str(len(items)), f"{mean:.2f} / {items[0].max_score:g}", str(late))
    # "Nothing new" would be wrong when every attempt tried failed: the error below lists them.
    if report.graded or not report.problems:
        out.print(table if report.graded else "Nothing new to grade.")
    _fail_on(report.problems, "attempts could not be graded and")


@main.command()
@click.argument("lesson_ids", nargs=-1)
@no_wait_option
@click.pass_context
def feedback(ctx: click.Context, lesson_ids: tuple[str, ...], no_wait: bool) -> None:
    """Generate HTML feedback for graded submissions and release it to students."""
    from .feedback.release import release_feedback

    course = _course(ctx)
    with _writing(ctx, course, no_wait=no_wait):
        report = release_feedback(course, lesson_ids=list(lesson_ids), progress=RichProgress())
        _refresh_progress(course)
    rendered = sum(report.rendered.values())
    out.print(f"Feedback pages rendered again for {rendered} attempt(s) whose grades or comments changed; "
              f"{report.up_to_date} up to date." if rendered else
              f"No feedback page out of date ({report.up_to_date} up to date): nothing rendered.", highlight=False)
    for lesson_id, count in sorted(report.released.items()):
        out.print(f"{lesson_id}: feedback released for {count} attempt(s)")
    if not report.released:
        out.print("No new feedback to release.")
    _fail_on(report.problems, "feedback releases")


@main.command(name="export")
@click.option("--to", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: <course>/exports).")
@no_wait_option
@click.pass_context
def export_cmd(ctx: click.Context, directory: Path | None, no_wait: bool) -> None:
    """Write grades and the lessons / enrollments / submissions tables (CSV and Parquet)."""
    from .operations.export import export_tables

    course = _course(ctx)
    with _writing(ctx, course, no_wait=no_wait):
        result = export_tables(course, directory=directory)
    table = narrow_table(f"Exported to {result.directory}", [("table", True), ("rows", True), ("files", False)])
    for name, rows in result.rows.items():
        table.add_row(name, str(rows), ", ".join(p.name for p in result.files[name]))
    out.print(table)


def parse_as_of(course: CourseConfig, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_local_datetime(value, timezone=course.timezone, end_of_day=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--id", "course_id", required=True, help="Course id (letters, digits, . _ - @).")
@click.option("--title", required=True, help="Course title.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone the course's dates are written in.")
def init(directory: Path, course_id: str, title: str, timezone: str) -> None:
    """Create a new course in DIRECTORY with one example lesson."""
    from .authoring.scaffold import init_course

    root = init_course(directory, course_id=course_id, title=title, timezone=timezone)
    out.print(f"Created course {course_id!r} in {root}. Next: cd {root} && paceline new LESSON --title '...'")


@main.command(name="import")
@click.argument("nbgrader_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--into", "into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="New course folder (default: NBGRADER_DIR-paceline beside it); must be new or empty.")
def import_cmd(nbgrader_dir: Path, into: Path | None) -> None:
    """Turn an nbgrader course into a paceline course: lessons, dates, students, settings, submissions, grades."""
    from .operations.nbimport import import_nbgrader_course

    report = import_nbgrader_course(nbgrader_dir, into=into)
    out.print(f"Imported {report.course_id!r} into {report.root}: {len(report.lessons)} lesson(s) "
              f"({', '.join(report.lessons)}), {report.students} student(s), {report.attempts} attempt(s) "
              f"({report.grades_kept} with nbgrader's grades kept).", highlight=False)
    for item in report.unmapped:
        out.print(f"[yellow]Not imported:[/] {escape(item)}", highlight=False)
    out.print(f"Next: paceline --course {report.root} check")
    _fail_on(report.problems, "submitted folders could not be imported and")


@main.command()
@click.argument("lesson_id")
@click.option("--title", required=True, help="Lesson title.")
@click.pass_context
def new(ctx: click.Context, lesson_id: str, title: str) -> None:
    """Add a lesson from the template and schedule it in course.toml."""
    from .authoring.scaffold import new_lesson

    notebook = new_lesson(ctx.obj["course_dir"], lesson_id, title=title)
    out.print(f"Created {notebook}; edit it, adjust its dates in course.toml, then run `paceline check {lesson_id}`.")


@main.command()
@click.argument("lesson_ids", nargs=-1)
@click.option("--source", "source_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Check any nbgrader source folder instead of this course's lessons.")
@click.option("--timeout", type=int, default=30, show_default=True, help="Seconds per cell (with --source).")
@click.pass_context
def check(ctx: click.Context, lesson_ids: tuple[str, ...], source_dir: Path | None, timeout: int) -> None:
    """Lint lessons before release: metadata, execution, and whether tests can fail."""
    from .authoring.check import check_course, check_source_tree

    if source_dir is not None:
        report = check_source_tree(source_dir, lesson_ids=list(lesson_ids), timeout=timeout, progress=RichProgress())
    else:
        report = check_course(_course(ctx), lesson_ids=list(lesson_ids), progress=RichProgress())
    if report.sandboxed is False:
        err.print("[yellow]![/] the grading sandbox is not set up here (`make sandbox`): notebooks ran as plain kernels, "
                  "with the network, so a lesson that downloads its data passes here and fails in grading", highlight=False)
    for problem in report.problems:
        out.print(f"[red]✗[/] {problem}  [dim]\\[{problem.code}][/]", highlight=False)
    from rich.text import Text

    for warning in report.warnings:  # quoted test code is not markup
        out.print(Text.assemble(("! ", "yellow"), str(warning), (f"  [{warning.code}]", "dim")))
    summary = (f"{report.lessons} lesson(s), {report.notebooks} notebook(s), "
               f"{report.graded_cells} graded cell(s), {report.points:g} point(s)")
    if not report.ok:
        raise PacelineError(f"{len(report.problems)} problem(s) in {summary}")
    warned = f" ({len(report.warnings)} warning(s) above)" if report.warnings else ""
    out.print(f"[green]✓[/] {summary}: ready to release{warned}")


@main.group()
def environment() -> None:
    """The course environment ([environment] in course.toml) that check, grading and students' servers use."""


@environment.command(name="build")
@click.pass_context
def environment_build(ctx: click.Context) -> None:
    """Build the course environment from its requirements (skipped when they have not changed)."""
    from .course.environment import build_environment

    course = _course(ctx)
    with err.status("Building the course environment..."):
        built = build_environment(course)
    verb = "Built" if built.built else "Up to date:"
    out.print(f"{verb} {built.location} (kernels: {', '.join(built.kernels)})", highlight=False, soft_wrap=True)


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

    from .operations.status import at_risk_rules

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
    course = _course(ctx)
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
    from .operations.simulate import run_simulation

    course = _course(ctx)
    with _writing(ctx, course, no_wait=no_wait):
        report = run_simulation(course, students=students, seed=seed, until=parse_as_of(course, until),
                                progress=RichProgress())
    table = plain_table("persona", "students", title=f"Simulated {report.students} students until {report.until:%Y-%m-%d}")
    for persona, count in sorted(report.personas.items()):
        table.add_row(persona, str(count))
    out.print(table)
    out.print(f"{len(report.submissions)} submissions through the exchange; {report.attempts_collected} attempts collected.")
    _fail_on(report.problems, "simulated submissions could not be collected and")


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
    from .grading.lateness import grant_extension, revoke_extension

    course = _course(ctx)
    tz = course.timezone
    if revoke and (days is not None or until is not None or share_reason):
        raise click.UsageError("--revoke goes back to the planned due date: give no --days, --until or --share-reason with it")
    with _writing(ctx, course, no_wait=no_wait):
        if revoke:
            revoked = revoke_extension(course, student_id=student_id, lesson_id=lesson_id, reason=reason, revoked_by=by)
        else:
            extension = grant_extension(course, student_id=student_id, lesson_id=lesson_id, days=days,
                                        until=parse_as_of(course, until), reason=reason, granted_by=by,
                                        share_reason=share_reason)
        _refresh_progress(course, student_ids=[student_id])
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
    from .operations import status as views

    course = _course(ctx)
    if student_id is None:
        print_cohort_overview(views.cohort_overview(course, as_of=parse_as_of(course, as_of)), course=course)
        return
    print_student_status(views.student_status(course, student_id, as_of=parse_as_of(course, as_of)), course=course)


@main.command()
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Local worker processes (default: one per core, plus one).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="Grade on this Dask cluster instead of a local one.")
@click.option("--unsafe-no-sandbox", "unsafe", is_flag=True,
              help="DANGEROUS: run student code unsandboxed, as your own user.")
@click.pass_context
def watch(ctx: click.Context, interval: float, workers: int | None, scheduler: str | None, unsafe: bool) -> None:
    """Run continuously: release due lessons, collect, grade and release feedback within seconds."""
    import signal
    import threading

    from .operations.watch import watch as watch_course

    course = _course(ctx)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if unsafe:
        err.print("[bold red]WARNING: grading WITHOUT the sandbox: student code runs as you, with your access.[/]")
    from .course.environment import kernel_environment, require_built
    from .engine.isolation import kernel_config

    environment = kernel_environment(course)
    require_built(environment)
    kernel_config(course.grading, sandboxed=not unsafe, environment=environment)  # refuse now, not at the first submission
    out.print(f"Watching {course.id} every {interval:g} s (Ctrl-C to stop)")

    def report(cycle) -> None:
        if not cycle.busy:
            return
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        parts = [f"released {', '.join(cycle.released)}"] if cycle.released else []
        parts += [f"{n} {what}" for n, what in ((cycle.collected, "collected"), (cycle.graded, "graded"),
                                                (cycle.feedback, "feedback released"),
                                                (cycle.progress, "progress document(s) updated")) if n]
        parts += [f"unlocked {lesson} for {student}" for student, lesson in cycle.unlocked]
        out.print(f"{stamp} " + "; ".join(parts), highlight=False)
        for problem in cycle.problems:
            err.print(f"{stamp} [red]problem:[/] {escape(problem)}", highlight=False)

    def waiting(holder) -> None:
        who = holder.describe(course.timezone) if holder is not None else "another paceline command"
        err.print(f"{dt.datetime.now():%H:%M:%S} waiting for {who}…", highlight=False, markup=False)

    watch_course(course, interval=interval, sandboxed=not unsafe, workers=workers, scheduler=scheduler,
                 stop=stop, on_cycle=report, on_wait=waiting)
    out.print("Stopped.")


@main.group(invoke_without_command=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Run `paceline watch` as a hub-managed service (release, collect, grade, feedback).")
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True,
              help="Seconds between the watch service's passes.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="The watch service's grading processes.")
@click.pass_context
def hub(ctx: click.Context, port: int, watch: bool, interval: float, workers: int | None) -> None:
    """Run the course's JupyterHub on 127.0.0.1: a unix account and JupyterLab per student (as root)."""
    if ctx.invoked_subcommand is not None:
        return
    from .hub import serve_hub, watch_service

    course = _course(ctx)
    services = [watch_service(course, interval=interval, workers=workers)] if watch else []
    serve_hub(course, port=port, services=services,
              echo=lambda line: out.print(line, highlight=False, markup=False, soft_wrap=True))


@hub.command("passwords")
@click.option("--reset", "reset", multiple=True, metavar="STUDENT", help="Give this roster student a new password (repeatable).")
@click.pass_context
def hub_passwords(ctx: click.Context, reset: tuple[str, ...]) -> None:
    """Give every active student without a hub password one (and RESET students a new one) now."""
    from .hub.passwords import course_passwords

    changes = course_passwords(_course(ctx), reset=reset)
    for entry in changes.created:
        out.print(f"new password for {entry.student_id} (log in as {entry.account})", highlight=False, markup=False)
    for account in changes.removed:
        out.print(f"removed the password of {account} (no longer active on the roster)", highlight=False, markup=False)
    if changes.created:
        out.print(f"New passwords, to hand out: {changes.csv_path}", highlight=False, markup=False, soft_wrap=True)
    elif not changes.removed:
        out.print("Every active student has a password already.")
