"""What the ``paceline`` command prints: consoles, progress bars, and the tables of status, release, grade and
export, each readable whole in an 80-column terminal (ids and dates are never cut).

Rendering only: the numbers come from the library (``graders.operations.status`` and the stages). rich
itself loads when a command first prints through it (a third of a second here), so ``--help`` and a
command that succeeds quietly never pay for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.table import Table

    from analytics import CohortStatus

    from .course.plan import CourseConfig
    from .operations.status import CohortOverview, StudentRecord

T = TypeVar("T")


class _Console:
    """A rich ``Console`` made the first time something is printed through it."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console = None

    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console(), name)


out = _Console(stderr=False)
err = _Console(stderr=True)


def escape(text: str) -> str:
    """``text`` shown as it is inside rich markup (a student's ``[x]`` is not a style)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class RichProgress:
    """Progress bars on stderr, so stdout stays a clean summary."""

    def track(self, items: Iterable[T], *, description: str, total: int | None = None) -> Iterator[T]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err.console(), transient=True) as bar:
            task = bar.add_task(description, total=total if total is not None else len(items))
            for item in items:
                yield item
                bar.advance(task)


def plain_table(*headers: str, title: str | None = None) -> Table:
    # rich's tables (and progress bars) load when a command prints one: `--help` and `new` never do.
    from rich.table import Table

    return Table(*headers, title=title)


def print_progress(document: dict) -> None:
    """A progress document as the student's panel shows it, in tables that stay readable at 80 columns."""
    summary, grace = document["summary"], document["student"]["grace_days"]
    finish = (f"Finished on {summary['finished_on']}" if summary.get("finished_on")
              else f"Projected finish {summary['projected_finish'] or '—'}")
    out.print(f"Pace: {summary['pace_text']}. {finish} "
              f"(course end {summary['course_end']}). Grace days: {grace['used']} of {grace['total']} used, "
              f"{grace['left']} left.", highlight=False)
    out.print(f"Next: {escape(summary['next']['text'])}", highlight=False)
    lessons = plain_table(title="Lessons")
    lessons.add_column("lesson", no_wrap=True)
    lessons.add_column("status", ratio=3)
    lessons.add_column("due", ratio=2)
    lessons.add_column("score", no_wrap=True)
    notes: list[str] = []
    for lesson in document["lessons"]:
        due = lesson["due"] or lesson["target"]
        due_cell = (due[:16].replace("T", " ") if due else "—") + (f"\n{lesson['due_text']}" if lesson["due_text"] else "")
        score = ("—" if lesson["grade_score"] is None else
                 f"{lesson['grade_score']:g}/{lesson['max_score']:g}" + (
                     f"\nbest {lesson['best_score']:g}" if lesson["best_score"] != lesson["grade_score"] else ""))
        lessons.add_row(lesson["id"], lesson["state_text"], due_cell, score)
        if lesson["extension"]:
            reason = f": {lesson['extension']['reason']}" if lesson["extension"]["reason"] else ""
            notes.append(f"{lesson['id']}: extended to {lesson['extension']['due'][:16].replace('T', ' ')}{reason}")
        if lesson["late_penalty"]:
            notes.append(f"{lesson['id']}: {lesson['late_penalty']['text']}")
    out.print(lessons)
    for note in notes:
        out.print(escape(note), highlight=False)
    attempts = plain_table("lesson", "#", "received", "result", "counts for", title="Attempts")
    for lesson in document["lessons"]:
        for a in lesson["attempts"]:
            result = ({"grading": "grading…", "failed": "not graded"}.get(a["state"])
                      or ("awaiting marks" if a["awaiting_manual_grading"] else f"{a['score']:g}/{a['max_score']:g}"))
            if a["points_deducted"]:
                result += f" (-{a['points_deducted']:g} late)"
            counts = ", ".join(what for what, flag in (("grade", a["counts_for_grade"]), ("unlock", a["counts_for_unlock"]))
                               if flag)
            attempts.add_row(lesson["id"], str(a["number"]), a["received_at"][:16].replace("T", " "), result, counts)
    out.print(attempts if attempts.row_count else "No attempts yet.")


def narrow_table(title: str, columns: Sequence[tuple[str, bool]], *, caption: str | None = None) -> Table:
    """A table that fits an 80-column terminal: no vertical rules; ``(header, whole)`` columns, where a whole
    column (ids, dates) is never wrapped or cut and the others give way."""
    from rich import box

    table = plain_table(title=title)
    # Two spaces between columns and none at the edges: a rule under the headers is the only line drawn.
    table.box, table.show_edge, table.pad_edge, table.collapse_padding = box.SIMPLE_HEAD, False, False, True
    table.caption = caption
    for header, whole in columns:
        table.add_column(header, no_wrap=whole)
    return table


def plan_date(value: dt.datetime | None, timezone: ZoneInfo) -> str:
    """A planned date as course.toml writes it: the day alone when it ends at 23:59, else with its time."""
    if value is None:
        return "—"
    local = value.astimezone(timezone)
    return f"{local:%Y-%m-%d}" if (local.hour, local.minute) == (23, 59) else f"{local:%Y-%m-%d %H:%M}"




def print_cohort(cohort: CohortStatus, *, course: CourseConfig) -> None:
    """The cohort summary: headline numbers, one row per lesson, the top of the at-risk list."""
    headline, lessons, at_risk = cohort_tables(cohort, course=course)
    out.print(headline)
    out.print(lessons)
    out.print(at_risk if len(cohort.at_risk) else "Nobody is at risk.")


def cohort_tables(cohort: CohortStatus, *, course: CourseConfig) -> tuple[Table, Table, Table]:
    """Headline numbers, lessons and the at-risk list, each readable whole in 80 columns."""
    tz = course.timezone
    headline = narrow_table(f"{course.title}, as of {cohort.as_of.astimezone(tz):%Y-%m-%d %H:%M %Z}",
                             [("measure", False), ("value", True)])
    for row in cohort.headline.itertuples():
        headline.add_row(row.measure, "—" if row.value != row.value else f"{row.value:g}")
    # "late" here is pacing's: a first submission after the student's target. Late penalties (after the
    # due date, extensions and grace days counted) are what `paceline grade` and `status STUDENT` count.
    lessons = narrow_table("Lessons", [("lesson", True), ("target", True), ("sub-\nmitted", False),
                                        ("by\ntarget", False), ("after\ntarget", False), ("missing", False),
                                        ("pass\nrate", False), ("mean\nattempts", False)],
                            caption="First submissions by / after each student's target date (pacing, not penalties).")
    for column in lessons.columns[2:]:
        column.justify = "right"
    for row in cohort.lessons.itertuples():
        lessons.add_row(row.lesson_id, plan_date(row.target_at, tz), str(row.submitted), str(row.on_time),
                        str(row.late), str(row.missing), "—" if row.pass_rate != row.pass_rate else f"{row.pass_rate:.0%}",
                        "—" if row.mean_attempts != row.mean_attempts else f"{row.mean_attempts:.1f}")
    at_risk = narrow_table(f"At risk (top {len(cohort.at_risk)})", [("#", True), ("student", True), ("status", True),
                                                                      ("passed", True), ("reasons", False)])
    for row in cohort.at_risk.itertuples():
        at_risk.add_row(str(row.rank), row.student_id, str(row.label).replace("_", " "),
                        f"{row.lessons_passed}/{row.lessons}", row.reasons)
    return headline, lessons, at_risk


def print_cohort_overview(overview: CohortOverview, *, course: CourseConfig) -> None:
    """``paceline status``: the cohort summary, then every counting attempt still waiting for a teacher's marks
    (a to-do list: as it is now, whatever date the summary is as of)."""
    print_cohort(overview.status, course=course)
    for student, lesson, attempt in overview.awaiting_manual:
        out.print(f"[yellow]Awaiting manual grading now:[/] {student} / {lesson} attempt {attempt}", highlight=False)


def print_student_status(report: StudentRecord, *, course: CourseConfig) -> None:
    """``paceline status STUDENT``: the student's progress document as their panel shows it (pace and
    projected finish included), then what only the instructor sees (extensions with who and why,
    timestamps, failures, refusals, attempts awaiting manual grading)."""
    tz = course.timezone

    def when(value: dt.datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"

    s = report.student
    out.print(f"[bold]{escape(s.name)}[/] ({s.id}, {s.email}), enrolled {when(s.enrolled_at)}"
              + (f", withdrew {when(s.withdrawn_at)}" if s.withdrawn_at else "") + f"  [dim]times in {tz.key}[/]")
    out.print(f"[dim]What {s.id} sees in JupyterLab (their progress document):[/]")
    print_progress(report.document)
    out.print("[dim]For the instructor only:[/]")
    for lesson in report.lessons:
        for a in lesson.attempts:
            if a.id in report.awaiting_manual:
                out.print(f"[yellow]Awaiting manual grading:[/] {a.lesson_id} attempt {a.attempt} (formgrader)", highlight=False)
            if a.origin == "imported":
                out.print(f"{a.lesson_id} attempt {a.attempt}: imported from nbgrader, submitted {when(a.received_at)}",
                          highlight=False)
    from .exchange.ledger import ExtensionRevoked

    for e in report.extensions:
        if isinstance(e, ExtensionRevoked):
            out.print(f"Extension {e.lesson_id} revoked (due {when(e.planned_due_at)} as planned) by {e.revoked_by} "
                      f"on {when(e.revoked_at)}: {escape(e.reason)}", highlight=False)
            continue
        shared = "shared with the student" if e.shareable else "not shared"
        out.print(f"Extension {e.lesson_id}: due {when(e.due_at)}, granted by {e.granted_by} on {when(e.granted_at)}: "
                  f"{escape(e.reason)} ({shared})", highlight=False)
    claims = [(a.lesson_id, a.attempt, a.claimed_at) for lesson in report.lessons for a in lesson.attempts
              if a.claimed_at and abs((a.claimed_at - a.received_at).total_seconds()) > 60]
    for lesson_id, number, claimed in claims:
        out.print(f"{lesson_id} attempt {number}: the student's own timestamp says {when(claimed)} (not trusted)")
    for lesson in report.lessons:
        for a in lesson.attempts:
            if a.status == "failed" and a.error:
                out.print(f"[red]Failed[/] {a.lesson_id} attempt {a.attempt}: {escape(a.error)}", highlight=False)
            if a.feedback_error:
                out.print(f"[red]Feedback not released[/] {a.lesson_id} attempt {a.attempt}: {escape(a.feedback_error)}",
                          highlight=False)
    for name, seen, why in report.refused:
        out.print(f"[red]Refused[/] {when(seen)}: {escape(why)}", highlight=False)
    # Analytics' view (regularity, at-risk rules, peers) needs the whole cohort's tables: seconds, not a glance.
    out.print(f"[dim]At-risk reasons and regularity: `paceline status` (the cohort), "
              f"`paceline report --student {s.id}`.[/]", highlight=False)
