"""The pipeline's commands: release, unrelease, collect, grade, feedback, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..terminal import RichProgress, err, narrow_table, out
from .base import course_of, fail_on, main, no_wait_option, refresh_progress, writing


@main.command()
@click.argument("lesson_ids", nargs=-1)
@click.option("--due", "due", is_flag=True, help="Release every lesson that has opened and changed since its last release (for cron).")
@click.option("--now", "early", multiple=True, metavar="LESSON",
              help="Publish LESSON now, before it opens (repeat for several); alone, publishes only these.")
@no_wait_option
@click.pass_context
def release(ctx: click.Context, lesson_ids: tuple[str, ...], due: bool, early: tuple[str, ...], no_wait: bool) -> None:
    """Generate student versions and publish the lessons that have opened (gated lessons: per student, on unlock)."""
    from ..exchange.release import release_due_lessons, release_lessons

    course = course_of(ctx)
    if due and (lesson_ids or early):
        raise click.UsageError("--due picks the lessons itself: name no lessons and no --now with it")
    with writing(ctx, course, no_wait=no_wait):
        if due:
            report = release_due_lessons(course, progress=RichProgress())
        else:
            report = release_lessons(course, lesson_ids=list(lesson_ids), early=list(early), progress=RichProgress())
        refresh_progress(course)
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
    fail_on(report.problems, "lesson releases")


@main.command()
@click.argument("lesson_id")
@click.option("--by", "by", default=None, help="Who takes it back, for the record (default: your login name).")
@no_wait_option
@click.pass_context
def unrelease(ctx: click.Context, lesson_id: str, by: str | None, no_wait: bool) -> None:
    """Take a released lesson back from the exchange (everyone's and personal copies); say who has it already."""
    from ..exchange.unrelease import unrelease_lesson

    course = course_of(ctx)
    with writing(ctx, course, no_wait=no_wait):
        report = unrelease_lesson(course, lesson_id=lesson_id, by=by)
        refresh_progress(course)
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
    from ..exchange.collect import collect_submissions

    course = course_of(ctx)
    with writing(ctx, course, no_wait=no_wait):
        report = collect_submissions(course, progress=RichProgress())
        refresh_progress(course)
    out.print(f"Collected {len(report.collected)} new attempt(s); {report.already_collected} already collected.")
    fail_on(report.problems, "submissions could not be collected and")


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
    course = course_of(ctx)
    with writing(ctx, course, no_wait=no_wait):  # before the seconds of importing nbgrader and Dask
        from ..grading.grade import GradingInterrupted, grade_attempts

        try:
            report = grade_attempts(course, lesson_ids=list(lesson_ids), regrade=regrade, sandboxed=not unsafe,
                                    scheduler=scheduler, workers=workers, progress=RichProgress())
        except GradingInterrupted as stopped:
            refresh_progress(course)  # the attempts graded before Ctrl-C are the students' to see
            failed = f" ({stopped.failed} could not be graded)" if stopped.failed else ""
            err.print(f"interrupted: {stopped.graded} of {stopped.planned} graded{failed}; "
                      "run paceline grade again to finish", highlight=False, markup=False, soft_wrap=True)
            sys.exit(130)  # the shell's code for a command ended by Ctrl-C
        refresh_progress(course)
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
    fail_on(report.problems, "attempts could not be graded and")


@main.command()
@click.argument("lesson_ids", nargs=-1)
@no_wait_option
@click.pass_context
def feedback(ctx: click.Context, lesson_ids: tuple[str, ...], no_wait: bool) -> None:
    """Generate HTML feedback for graded submissions and release it to students."""
    from ..feedback.release import release_feedback

    course = course_of(ctx)
    with writing(ctx, course, no_wait=no_wait):
        report = release_feedback(course, lesson_ids=list(lesson_ids), progress=RichProgress())
        refresh_progress(course)
    rendered = sum(report.rendered.values())
    out.print(f"Feedback pages rendered again for {rendered} attempt(s) whose grades or comments changed; "
              f"{report.up_to_date} up to date." if rendered else
              f"No feedback page out of date ({report.up_to_date} up to date): nothing rendered.", highlight=False)
    for lesson_id, count in sorted(report.released.items()):
        out.print(f"{lesson_id}: feedback released for {count} attempt(s)")
    if not report.released:
        out.print("No new feedback to release.")
    fail_on(report.problems, "feedback releases")


@main.command(name="export")
@click.option("--to", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: <course>/exports).")
@no_wait_option
@click.pass_context
def export_cmd(ctx: click.Context, directory: Path | None, no_wait: bool) -> None:
    """Write grades and the lessons / enrollments / submissions tables (CSV and Parquet)."""
    from ..operations.export import export_tables

    course = course_of(ctx)
    with writing(ctx, course, no_wait=no_wait):
        result = export_tables(course, directory=directory)
    table = narrow_table(f"Exported to {result.directory}", [("table", True), ("rows", True), ("files", False)])
    for name, rows in result.rows.items():
        table.add_row(name, str(rows), ", ".join(p.name for p in result.files[name]))
    out.print(table)
