"""Setting a course up and writing its lessons: init, import, new, check, environment build."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import PacelineError
from ..terminal import RichProgress, err, escape, out
from .base import course_of, fail_on, main


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--id", "course_id", required=True, help="Course id (letters, digits, . _ - @).")
@click.option("--title", required=True, help="Course title.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone the course's dates are written in.")
def init(directory: Path, course_id: str, title: str, timezone: str) -> None:
    """Create a new course in DIRECTORY with one example lesson."""
    from ..authoring.scaffold import init_course

    root = init_course(directory, course_id=course_id, title=title, timezone=timezone)
    out.print(f"Created course {course_id!r} in {root}. Next: cd {root} && paceline new LESSON --title '...'")


@main.command(name="import")
@click.argument("nbgrader_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--into", "into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="New course folder (default: NBGRADER_DIR-paceline beside it); must be new or empty.")
def import_cmd(nbgrader_dir: Path, into: Path | None) -> None:
    """Turn an nbgrader course into a paceline course: lessons, dates, students, settings, submissions, grades."""
    from ..operations.nbimport import import_nbgrader_course

    report = import_nbgrader_course(nbgrader_dir, into=into)
    out.print(f"Imported {report.course_id!r} into {report.root}: {len(report.lessons)} lesson(s) "
              f"({', '.join(report.lessons)}), {report.students} student(s), {report.attempts} attempt(s) "
              f"({report.grades_kept} with nbgrader's grades kept).", highlight=False)
    for item in report.unmapped:
        out.print(f"[yellow]Not imported:[/] {escape(item)}", highlight=False)
    out.print(f"Next: paceline --course {report.root} check")
    fail_on(report.problems, "submitted folders could not be imported and")


@main.command()
@click.argument("lesson_id")
@click.option("--title", required=True, help="Lesson title.")
@click.pass_context
def new(ctx: click.Context, lesson_id: str, title: str) -> None:
    """Add a lesson from the template and schedule it in course.toml."""
    from ..authoring.scaffold import new_lesson

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
    from ..authoring.check import check_course, check_source_tree

    if source_dir is not None:
        report = check_source_tree(source_dir, lesson_ids=list(lesson_ids), timeout=timeout, progress=RichProgress())
    else:
        report = check_course(course_of(ctx), lesson_ids=list(lesson_ids), progress=RichProgress())
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
    from ..course.environment import build_environment

    course = course_of(ctx)
    with err.status("Building the course environment..."):
        built = build_environment(course)
    verb = "Built" if built.built else "Up to date:"
    out.print(f"{verb} {built.location} (kernels: {', '.join(built.kernels)})", highlight=False, soft_wrap=True)
