"""Run the progress notebooks with papermill and render them as HTML anyone can open.

Three notebooks in ``analytics/notebooks/`` hold the narrative and stay thin;
the numbers come from the analytics API (:mod:`analytics.context` prepares
what they show):

- ``cohort_progress.ipynb`` -> ``<output_dir>/cohort_progress.html``
- ``student_progress.ipynb`` (parameter ``student_id``) -> ``<output_dir>/students/<student_id>.html``
- ``lesson_report.ipynb`` (parameter ``lesson_id``) -> ``<output_dir>/lessons/<lesson_id>.html``

:func:`report_from_tables` needs only a folder of tables and
:class:`~analytics.settings.ReportSettings` (``python -m analytics report``
calls it); the ``run_*_report`` functions read a paceline course folder (its
``exports/`` and ``course.toml``). Reports hide code (``exclude_input``) and
load nothing from the network (:func:`~analytics.present.offline_html`). The
executed ``.ipynb`` is kept next to the HTML only with ``keep_notebook`` (and
after a failure, for inspection).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

import papermill
from nbformat import NotebookNode
from papermill.exceptions import PapermillExecutionError

from .context import ReportContext, prepare_report, save_report
from .errors import AnalyticsError, ReportBatchError, ReportError, UnknownIdError
from .present import offline_html
from .progress import Progress, Silent
from .settings import ReportSettings, load_settings
from .tables import CourseTables, load_tables

COHORT_NOTEBOOK = "cohort_progress.ipynb"
STUDENT_NOTEBOOK = "student_progress.ipynb"
LESSON_NOTEBOOK = "lesson_report.ipynb"
KERNEL = "python3"

When = dt.datetime | float | None
"""An as-of: an aware datetime, a course day (days after the course start: each cohort's own), or None
(the latest submission)."""


@dataclass(frozen=True)
class ReportResult:
    """Where the HTML report was written, and the executed notebook if it was kept."""

    html: Path
    notebook: Path | None = None


def report_from_tables(
    tables_dir: Path,
    *,
    output_dir: Path,
    settings: ReportSettings = ReportSettings(),
    as_of: When = None,
    student_id: str | None = None,
    cohort: str | None = None,
    lesson_id: str | None = None,
    all_students: bool = False,
    past_tables_dirs: Sequence[Path] = (),
    keep_notebook: bool = False,
    timeout: int = 600,
    progress: Progress = Silent(),
) -> tuple[ReportResult, ...]:
    """Render reports from a folder of tables alone: the cohort report, or one student's (``student_id``),
    one lesson's (``lesson_id``), or every enrolled student's (``all_students``).

    ``settings`` give the title, time zone, course start (day offsets and the
    course-day axes), pass mark and at-risk thresholds. ``as_of`` is an aware
    datetime, a number of days after the course start (each cohort's own), or
    None for the latest submission. ``past_tables_dirs`` (two or more) add
    the risk model to the cohort report. In tables with several cohorts a
    student's report goes to ``students/<cohort>/<id>.html``, and ``cohort``
    says which one where the id recurs in several. The tables are read and ids checked
    before any kernel starts; problems raise :class:`ReportError`.
    """
    if sum((student_id is not None, lesson_id is not None, all_students)) > 1:
        raise ReportError("give at most one of student_id, lesson_id and all_students")
    if past_tables_dirs and (student_id is not None or lesson_id is not None or all_students):
        raise ReportError("past_tables_dirs are for the cohort report only")
    _check_past(past_tables_dirs)
    tables_dir, output_dir = Path(tables_dir).resolve(), Path(output_dir)
    _check_as_of(as_of, settings)
    tables = _tables(tables_dir, settings)
    job = _Job(tables_dir=tables_dir, tables=tables, output_dir=output_dir, settings=settings, as_of=as_of,
               keep_notebook=keep_notebook, timeout=timeout)
    if student_id is not None:
        _check_ids("student", [student_id], known=tables.enrollments["student_id"])
        if tables.cohorts:
            cohorts = tables.enrollments.loc[tables.enrollments["student_id"] == student_id, "cohort"].tolist()
            if cohort is None and len(cohorts) > 1:
                raise ReportError(f"student {student_id!r} is in several cohorts ({', '.join(cohorts)}): give cohort")
            cohort = cohort if cohort is not None else cohorts[0]
            if cohort not in cohorts:
                raise ReportError(str(UnknownIdError("student", student_id, detail=f" in cohort {cohort!r}")))
        return (job.student(student_id, cohort=cohort),)
    if lesson_id is not None:
        _check_ids("lesson", [lesson_id], known=tables.lessons["lesson_id"])
        return (job.lesson(lesson_id),)
    if all_students:
        return job.students(_enrolled(tables, as_of=as_of), progress=progress, cohorts=_cohorts_of(tables, as_of))
    return (job.cohort(past_tables_dirs),)


def run_cohort_report(
    *,
    course_dir: Path,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str = "Cohort progress",
    past_tables_dirs: Sequence[Path] = (),
    keep_notebook: bool = False,
    timeout: int = 600,
) -> ReportResult:
    """The cohort report of a paceline course folder: tables from ``tables_dir`` (default
    ``<course_dir>/exports``), settings from ``<course_dir>/course.toml`` if there is one (its time zone,
    ``[at_risk]`` thresholds and ``[gating]`` pass mark), output to ``output_dir`` (default
    ``<course_dir>/analytics/reports``). ``past_tables_dirs``, the exports of two or more past cohorts,
    add a logistic risk model fitted on them and its evaluation against the rules. ``timeout`` is
    seconds per cell.

    Raises :class:`ReportError` naming the failing cell if the notebook fails;
    the partly executed notebook is then kept for inspection.
    """
    _check_past(past_tables_dirs)
    job = _course_job(course_dir, tables_dir, as_of, output_dir, keep_notebook, timeout, title=title)
    return job.cohort(past_tables_dirs)


run_report = run_cohort_report  # what `paceline report` has called since the cohort report came first


def run_student_report(
    *,
    course_dir: Path,
    student_id: str,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str | None = None,
    keep_notebook: bool = False,
    timeout: int = 600,
) -> ReportResult:
    """Execute the student progress notebook for ``student_id``; writes ``<output_dir>/students/<id>.html``.

    The report names no other student, so it can be handed to the student.
    ``title`` defaults to ``"Progress of <student_id>"``; the other options are
    as for :func:`run_cohort_report`. Raises :class:`ReportError` if the
    student is not in the tables (checked before a kernel starts).
    """
    job = _course_job(course_dir, tables_dir, as_of, output_dir, keep_notebook, timeout)
    _check_ids("student", [student_id], known=job.tables.enrollments["student_id"])
    return job.student(student_id, title=title)


def run_student_reports(
    *,
    course_dir: Path,
    student_ids: Sequence[str] | None = None,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    keep_notebook: bool = False,
    timeout: int = 600,
    progress: Progress = Silent(),
) -> tuple[ReportResult, ...]:
    """:func:`run_student_report` for each of ``student_ids`` (default: every student enrolled and not
    withdrawn at ``as_of``, or at the latest submission), one kernel after another, through ``progress``.

    All ids are checked before the first report runs. A report that fails
    does not stop the others: once all have run, :class:`ReportBatchError`
    lists every failure (and holds the reports that were written).
    """
    job = _course_job(course_dir, tables_dir, as_of, output_dir, keep_notebook, timeout)
    tables = job.tables
    ids = list(student_ids) if student_ids is not None else _enrolled(tables, as_of=as_of)
    _check_ids("student", ids, known=tables.enrollments["student_id"])
    return job.students(ids, progress=progress)


def run_lesson_report(
    *,
    course_dir: Path,
    lesson_id: str,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str | None = None,
    keep_notebook: bool = False,
    timeout: int = 600,
) -> ReportResult:
    """Execute the lesson report notebook for ``lesson_id``; writes ``<output_dir>/lessons/<id>.html``.

    ``title`` defaults to ``"Lesson <lesson_id>: <lesson title>"``; the other
    options are as for :func:`run_cohort_report`. Raises :class:`ReportError`
    if the lesson is not in the tables (checked before a kernel starts).
    """
    job = _course_job(course_dir, tables_dir, as_of, output_dir, keep_notebook, timeout)
    _check_ids("lesson", [lesson_id], known=job.tables.lessons["lesson_id"])
    return job.lesson(lesson_id, title=title)


@dataclass(frozen=True)
class _Job:
    """One set of reports: the tables (read and validated once, here), where reports go, and how to run
    the kernels.

    The analysis is made here too, once per report set (once per cohort for students' reports), and handed
    to each notebook kernel as a prepared report (:func:`~analytics.context.save_report`): reading and
    analysing big tables again in every kernel cost more than everything the notebook shows.
    """

    tables_dir: Path
    tables: CourseTables
    output_dir: Path
    settings: ReportSettings
    as_of: When
    keep_notebook: bool
    timeout: int
    prepared: dict[str | None, ReportContext] = field(default_factory=dict, compare=False, repr=False)

    def cohort(self, past_tables_dirs: Sequence[Path]) -> ReportResult:
        past = [str(Path(directory).resolve()) for directory in past_tables_dirs]
        return self._run(COHORT_NOTEBOOK, Path("cohort_progress"), title=self.settings.title,
                         parameters={"past_tables_dirs": past}, context=self._context())

    def student(self, student_id: str, *, title: str | None = None, cohort: str | None = None) -> ReportResult:
        title = title if title is not None else f"Progress of {student_id}"
        folder = Path("students") if cohort is None else Path("students") / _file_stem("cohort", cohort)
        return self._run(STUDENT_NOTEBOOK, folder / _file_stem("student", student_id), title=title,
                         parameters={"student_id": student_id, "cohort": cohort},
                         context=self._context(student_id=student_id, cohort=cohort))

    def students(self, student_ids: Sequence[str], *, progress: Progress,
                 cohorts: dict[str, list[str]] | None = None) -> tuple[ReportResult, ...]:
        """Each student's report; ``cohorts`` lists each id's cohorts in tables that have them."""
        pairs = [(student_id, cohort) for student_id in student_ids
                 for cohort in ((cohorts or {}).get(student_id) or [None])]
        results: list[ReportResult] = []
        failures: list[tuple[str, ReportError]] = []
        labels = {student_id if cohort is None else f"{student_id} [{cohort}]": (student_id, cohort)
                  for student_id, cohort in pairs}
        for label in progress.track(list(labels), description="Student reports", total=len(labels)):
            student_id, cohort = labels[label]
            try:
                results.append(self.student(student_id, cohort=cohort))
            except ReportError as error:
                failures.append((label, error))
        if failures:
            raise ReportBatchError("student reports", total=len(pairs), failures=failures, results=results)
        return tuple(results)

    def lesson(self, lesson_id: str, *, title: str | None = None) -> ReportResult:
        if title is None:
            lessons = self.tables.lessons
            lesson_title = lessons.loc[lessons["lesson_id"] == lesson_id, "title"].iloc[0]
            title = f"Lesson {lesson_id}: {lesson_title}"
        return self._run(LESSON_NOTEBOOK, Path("lessons") / _file_stem("lesson", lesson_id), title=title,
                         parameters={"lesson_id": lesson_id}, context=self._context())

    def _context(self, *, student_id: str | None = None, cohort: str | None = None) -> ReportContext:
        """The analysis a report shows: every cohort and all pooled, or (for a student in tables with
        cohorts) the student's cohort alone; made once per report set and cohort."""
        if student_id is not None and self.tables.cohorts:
            found = self.tables.enrollments.loc[self.tables.enrollments["student_id"] == student_id, "cohort"]
            cohort = cohort if cohort is not None else (found.iloc[0] if found.nunique() == 1 else None)
            key = f"cohort {cohort}" if cohort is not None else None
        else:
            key = ""
        if key is not None and key in self.prepared:
            return self.prepared[key]
        try:
            context = prepare_report(
                self.tables, tables_dir=self.tables_dir, settings=self.settings,
                as_of=self.as_of if isinstance(self.as_of, dt.datetime) else None,
                course_day=float(self.as_of) if isinstance(self.as_of, (int, float)) else None,
                student_id=student_id, cohort=cohort)
        except AnalyticsError as error:
            raise ReportError(str(error)) from error
        if key is not None:
            self.prepared[key] = context
        return context

    def _run(self, name: str, stem: Path, *, title: str, parameters: dict[str, Any],
             context: ReportContext) -> ReportResult:
        html = self.output_dir / stem.with_suffix(".html")
        html.parent.mkdir(parents=True, exist_ok=True)
        kept = html.with_suffix(".ipynb")
        # Papermill parameters must be JSON: paths, times and settings travel as text and plain values.
        common = {
            "tables_dir": str(self.tables_dir),
            "as_of": self.as_of.isoformat() if isinstance(self.as_of, dt.datetime) else None,
            "course_day": float(self.as_of) if isinstance(self.as_of, (int, float)) else None,
            "settings": self.settings.to_json(),
            "title": title,
        }
        with tempfile.TemporaryDirectory(prefix="paceline-report-") as scratch:
            prepared = Path(scratch) / "report.pickle"
            save_report(context, prepared)
            common["report_file"] = str(prepared)
            executed = kept if self.keep_notebook else Path(scratch) / name
            # The kernel runs in an empty folder: nothing there can shadow the analytics package.
            notebook = _execute(name, executed, kept=kept, cwd=Path(scratch), timeout=self.timeout,
                                parameters=common | parameters)
            html.write_text(offline_html(notebook, title=title), encoding="utf-8")
        return ReportResult(html=html, notebook=kept if self.keep_notebook else None)


def _course_job(course_dir: Path, tables_dir: Path | None, as_of: dt.datetime | None, output_dir: Path | None,
                keep_notebook: bool, timeout: int, *, title: str | None = None) -> _Job:
    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise ReportError(f"course directory {course_dir} does not exist")
    course_toml = course_dir / "course.toml"
    try:
        settings = load_settings(course_toml) if course_toml.is_file() else ReportSettings()
    except AnalyticsError as error:
        raise ReportError(str(error)) from error
    settings = settings.replace(title=title)
    _check_as_of(as_of, settings)
    tables_dir = Path(tables_dir).resolve() if tables_dir is not None else course_dir / "exports"
    return _Job(tables_dir=tables_dir, tables=_tables(tables_dir, settings),
                output_dir=Path(output_dir) if output_dir is not None else course_dir / "analytics" / "reports",
                settings=settings, as_of=as_of, keep_notebook=keep_notebook, timeout=timeout)


def _check_past(past_tables_dirs: Sequence[Path]) -> None:
    if len(past_tables_dirs) == 1:
        raise ReportError(f"one past cohort ({past_tables_dirs[0]}) is not enough for the risk model: it needs "
                          "at least 2, one to evaluate it on and one to fit it on")


def _check_as_of(as_of: When, settings: ReportSettings) -> None:
    if isinstance(as_of, dt.datetime) and as_of.tzinfo is None:
        raise ReportError(f"as_of {as_of} has no time zone")
    if isinstance(as_of, bool) or (as_of is not None and not isinstance(as_of, (dt.datetime, int, float))):
        raise ReportError(f"as_of must be an aware datetime or a course day (a number), not {as_of!r}")


def _tables(tables_dir: Path, settings: ReportSettings) -> CourseTables:
    try:
        return load_tables(tables_dir, course_start=settings.day_zero)
    except (AnalyticsError, OSError, ValueError) as error:  # a TableError, or a file Parquet/CSV cannot read
        notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", []))
        raise ReportError(f"cannot read the tables: {error}{notes}") from error


def _enrolled(tables: CourseTables, *, as_of: When) -> list[str]:
    enrollments = tables.enrollments
    if not isinstance(as_of, dt.datetime):  # a course day is each cohort's own instant: take who is enrolled now
        latest = tables.submissions["submitted_at"].max()
        as_of = dt.datetime.now(dt.timezone.utc) if pd.isna(latest) else latest
    present = (enrollments["enrolled_at"] <= as_of) & ~(enrollments["withdrawn_at"] <= as_of)
    return sorted(set(enrollments.loc[present, "student_id"]))


def _cohorts_of(tables: CourseTables, as_of: When) -> dict[str, list[str]] | None:
    """Each enrolled student's cohorts (one unless the id recurs), for tables with cohorts; else None."""
    if not tables.cohorts:
        return None
    present = tables.enrollments.loc[tables.enrollments["student_id"].isin(_enrolled(tables, as_of=as_of))]
    return present.groupby("student_id", sort=False)["cohort"].agg(list).to_dict()


def _check_ids(kind: str, wanted: Sequence[str], *, known: pd.Series) -> None:
    known_ids = set(known)
    for identifier in wanted:
        if identifier not in known_ids:
            raise ReportError(str(UnknownIdError(kind, identifier)))
        _file_stem(kind, identifier)


def _file_stem(kind: str, identifier: str) -> str:
    """The id itself as a file name, refused if it could leave the reports folder or hide the file."""
    if not identifier or identifier.startswith(".") or any(char in identifier for char in "/\\\0:"):
        raise ReportError(f"{kind} id {identifier!r} cannot be used as a file name")
    return identifier


def _execute(name: str, executed: Path, *, kept: Path, cwd: Path, timeout: int,
             parameters: dict[str, Any]) -> NotebookNode:
    """Run the report notebook; the executed notebook is written to ``executed`` once, at the end (or at a
    failure, with the error marked) and returned."""
    with resources.as_file(resources.files("analytics") / "notebooks" / name) as source:
        try:
            return papermill.execute_notebook(
                source,
                executed,
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(cwd),
                progress_bar=False,
                execution_timeout=timeout,
                # Papermill otherwise writes (and validates) the whole notebook, figures and all, before
                # and after every cell: about sixty writes of a megabyte for a cohort report.
                request_save_on_cell_execute=False,
                # ipykernel warns about unencrypted TCP at every start; the kernel is this
                # machine's own, on loopback, and the warning only alarms the reader.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except PapermillExecutionError as error:
            if executed != kept and executed.is_file():
                kept.write_bytes(executed.read_bytes())  # the partial notebook, kept for inspection
            raise ReportError(
                f"{name} cell {error.cell_index} (execution count {error.exec_count}) failed: "
                f"{error.ename}: {error.evalue}; the partial notebook is {kept}",
                cell_index=error.cell_index,
            ) from error
