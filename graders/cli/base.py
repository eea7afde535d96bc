"""The ``paceline`` group, and what its commands share: the course they work on, the course lock, the
progress documents they refresh, and library errors turned into a message and a non-zero exit."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import click

from analytics.errors import AnalyticsError

from ..course.plan import CourseConfig, load_course
from ..course.toml_reader import parse_local_datetime
from ..errors import BatchError, PacelineError
from ..terminal import err, escape


def course_of(ctx: click.Context) -> CourseConfig:
    return load_course(ctx.obj["course_dir"])


def refresh_progress(course: CourseConfig, *, student_ids: Sequence[str] | None = None) -> None:
    """What students see changed: rewrite their progress documents (a student's failure is reported, not fatal)."""
    from ..operations.progress_files import refresh_progress_documents

    for problem in refresh_progress_documents(course, student_ids=student_ids).problems:
        err.print(f"[yellow]warning:[/] {escape(str(problem))}", highlight=False)


def writing(ctx: click.Context, course: CourseConfig, *, no_wait: bool) -> contextlib.AbstractContextManager[None]:
    """The course lock, for a command that writes the course: wait for another writer (saying who), or refuse."""
    from ..course.lock import course_lock

    def waiting(holder) -> None:
        who = holder.describe(course.timezone) if holder is not None else "another paceline command"
        err.print(f"waiting for {who}…", highlight=False, markup=False)

    return course_lock(course.layout, command=f"paceline {ctx.info_name}", timezone=course.timezone,
                       wait=not no_wait, on_wait=waiting)


no_wait_option = click.option(
    "--no-wait", "no_wait", is_flag=True,
    help="If another paceline command is writing this course, exit 1 at once instead of waiting for it.")


def fail_on(problems: Sequence[PacelineError], what: str) -> None:
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



def parse_as_of(course: CourseConfig, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_local_datetime(value, timezone=course.timezone, end_of_day=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None
