"""Run the progress notebooks with papermill and render them as HTML.

Three notebooks in ``analytics/notebooks/`` hold the narrative and stay thin;
the numbers come from the analytics API:

- ``cohort_progress.ipynb`` -> ``<output_dir>/cohort_progress.html``
- ``student_progress.ipynb`` (parameter ``student_id``) -> ``<output_dir>/students/<student_id>.html``
- ``lesson_report.ipynb`` (parameter ``lesson_id``) -> ``<output_dir>/lessons/<lesson_id>.html``

``output_dir`` defaults to ``<course_dir>/analytics/reports``. The executed
``.ipynb`` is written next to each HTML file. Reports hide code
(``exclude_input``): their readers want the charts, not the calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import nbformat
import pandas as pd
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from .errors import AnalyticsError, ReportBatchError, ReportError, UnknownIdError
from .progress import Progress, Silent
from .tables import CourseTables, load_tables

COHORT_NOTEBOOK = "cohort_progress.ipynb"
STUDENT_NOTEBOOK = "student_progress.ipynb"
LESSON_NOTEBOOK = "lesson_report.ipynb"
KERNEL = "python3"


@dataclass(frozen=True)
class ReportResult:
    """Where the executed notebook and its HTML rendering were written."""

    notebook: Path
    html: Path


def run_cohort_report(
    *,
    course_dir: Path,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str = "Cohort progress",
    past_tables_dirs: Sequence[Path] = (),
    timeout: int = 600,
) -> ReportResult:
    """Execute the cohort progress notebook for one course and write ``.ipynb`` and ``.html``.

    The kernel (``python3``) runs with ``course_dir`` as its working directory
    and must be able to import ``analytics`` (install paceline in the kernel's
    environment). ``tables_dir`` defaults to ``<course_dir>/exports``, ``as_of``
    (timezone-aware) to the latest submission, ``output_dir`` to
    ``<course_dir>/analytics/reports``. At-risk thresholds come from the
    ``[at_risk]`` table of ``<course_dir>/course.toml`` if there is one.
    ``past_tables_dirs``, the exports of two or more past cohorts, add a
    logistic risk model fitted on them and its evaluation against the rules
    (:func:`~analytics.comparison.compare_with_rules`).
    ``timeout`` is seconds per cell.

    Raises :class:`ReportError` naming the failing cell if the notebook fails;
    the partly executed notebook is still written for inspection.
    """
    course_dir, output_dir = _directories(course_dir, output_dir, as_of=as_of)
    if len(past_tables_dirs) == 1:
        raise ReportError(f"one past cohort ({past_tables_dirs[0]}) is not enough for the risk model: it needs at "
                          "least 2, one to evaluate it on and one to fit it on")
    executed = output_dir / COHORT_NOTEBOOK
    past = [str(Path(directory).resolve()) for directory in past_tables_dirs]
    return _run(COHORT_NOTEBOOK, executed, course_dir=course_dir, timeout=timeout, title=title,
                parameters=_common(course_dir, tables_dir, as_of) | {"title": title, "past_tables_dirs": past})


run_report = run_cohort_report  # what `paceline report` has called since the cohort report came first


def run_student_report(
    *,
    course_dir: Path,
    student_id: str,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str | None = None,
    timeout: int = 600,
) -> ReportResult:
    """Execute the student progress notebook for ``student_id``; writes ``<output_dir>/students/<id>.html``.

    The report names no other student, so it can be handed to the student.
    ``title`` defaults to ``"Progress of <student_id>"``; the other options are
    as for :func:`run_cohort_report`. Raises :class:`ReportError` if the
    student is not in the tables (checked before a kernel starts).
    """
    course_dir, output_dir = _directories(course_dir, output_dir, as_of=as_of)
    _check_ids("student", [student_id], known=_tables(course_dir, tables_dir).enrollments["student_id"])
    return _student_report(course_dir, student_id, tables_dir=tables_dir, as_of=as_of, output_dir=output_dir,
                           title=title, timeout=timeout)


def run_student_reports(
    *,
    course_dir: Path,
    student_ids: Sequence[str] | None = None,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    timeout: int = 600,
    progress: Progress = Silent(),
) -> tuple[ReportResult, ...]:
    """:func:`run_student_report` for each of ``student_ids`` (default: every student enrolled and not
    withdrawn at ``as_of``, or at the latest submission), one kernel after another, through ``progress``.

    All ids are checked before the first report runs. A report that fails
    does not stop the others: once all have run, :class:`ReportBatchError`
    lists every failure (and holds the reports that were written).
    """
    course_dir, output_dir = _directories(course_dir, output_dir, as_of=as_of)
    tables = _tables(course_dir, tables_dir)
    if student_ids is None:
        student_ids = _enrolled(tables, as_of=as_of)
    _check_ids("student", student_ids, known=tables.enrollments["student_id"])
    results: list[ReportResult] = []
    failures: list[tuple[str, ReportError]] = []
    for student_id in progress.track(student_ids, description="Student reports", total=len(student_ids)):
        try:
            results.append(_student_report(course_dir, student_id, tables_dir=tables_dir, as_of=as_of,
                                           output_dir=output_dir, title=None, timeout=timeout))
        except ReportError as error:
            failures.append((student_id, error))
    if failures:
        raise ReportBatchError("student reports", total=len(student_ids), failures=failures, results=results)
    return tuple(results)


def run_lesson_report(
    *,
    course_dir: Path,
    lesson_id: str,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str | None = None,
    timeout: int = 600,
) -> ReportResult:
    """Execute the lesson report notebook for ``lesson_id``; writes ``<output_dir>/lessons/<id>.html``.

    ``title`` defaults to ``"Lesson <lesson_id>: <lesson title>"``; the other
    options are as for :func:`run_cohort_report`. Raises :class:`ReportError`
    if the lesson is not in the tables (checked before a kernel starts).
    """
    course_dir, output_dir = _directories(course_dir, output_dir, as_of=as_of)
    lessons = _tables(course_dir, tables_dir).lessons
    _check_ids("lesson", [lesson_id], known=lessons["lesson_id"])
    if title is None:
        lesson_title = lessons.loc[lessons["lesson_id"] == lesson_id, "title"].iloc[0]
        title = f"Lesson {lesson_id}: {lesson_title}"
    executed = output_dir / "lessons" / f"{_file_stem('lesson', lesson_id)}.ipynb"
    return _run(LESSON_NOTEBOOK, executed, course_dir=course_dir, timeout=timeout, title=title,
                parameters=_common(course_dir, tables_dir, as_of) | {"lesson_id": lesson_id, "title": title})


def _student_report(course_dir: Path, student_id: str, *, tables_dir: Path | None, as_of: dt.datetime | None,
                    output_dir: Path, title: str | None, timeout: int) -> ReportResult:
    title = title if title is not None else f"Progress of {student_id}"
    executed = output_dir / "students" / f"{_file_stem('student', student_id)}.ipynb"
    return _run(STUDENT_NOTEBOOK, executed, course_dir=course_dir, timeout=timeout, title=title,
                parameters=_common(course_dir, tables_dir, as_of) | {"student_id": student_id, "title": title})


def _directories(course_dir: Path, output_dir: Path | None, *, as_of: dt.datetime | None) -> tuple[Path, Path]:
    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise ReportError(f"course directory {course_dir} does not exist")
    if as_of is not None and as_of.tzinfo is None:
        raise ReportError(f"as_of {as_of} has no time zone")
    return course_dir, Path(output_dir) if output_dir is not None else course_dir / "analytics" / "reports"


def _common(course_dir: Path, tables_dir: Path | None, as_of: dt.datetime | None) -> dict[str, str | None]:
    # Papermill parameters must be JSON: paths and times travel as text.
    return {
        "course_dir": str(course_dir),
        "tables_dir": str(Path(tables_dir).resolve()) if tables_dir is not None else None,
        "as_of": as_of.isoformat() if as_of is not None else None,
    }


def _tables(course_dir: Path, tables_dir: Path | None) -> CourseTables:
    try:
        return load_tables(Path(tables_dir) if tables_dir is not None else course_dir / "exports")
    except (AnalyticsError, OSError, ValueError) as error:  # a TableError, or a file Parquet/CSV cannot read
        raise ReportError(f"cannot read the tables: {error}") from error


def _enrolled(tables: CourseTables, *, as_of: dt.datetime | None) -> list[str]:
    enrollments = tables.enrollments
    if as_of is None:
        latest = tables.submissions["submitted_at"].max()
        as_of = dt.datetime.now(dt.timezone.utc) if pd.isna(latest) else latest
    present = (enrollments["enrolled_at"] <= as_of) & ~(enrollments["withdrawn_at"] <= as_of)
    return sorted(enrollments.loc[present, "student_id"])


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


def _run(name: str, executed: Path, *, course_dir: Path, timeout: int, title: str,
         parameters: dict[str, str | list[str] | None]) -> ReportResult:
    executed.parent.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("analytics") / "notebooks" / name) as source:
        try:
            papermill.execute_notebook(
                source,
                executed,
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(course_dir),
                progress_bar=False,
                execution_timeout=timeout,
                # ipykernel warns about unencrypted TCP at every start; the kernel is this
                # machine's own, on loopback, and the warning only alarms the reader.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except PapermillExecutionError as error:
            raise ReportError(
                f"{name} cell {error.cell_index} (execution count {error.exec_count}) failed: "
                f"{error.ename}: {error.evalue}; the partial notebook is {executed}",
                cell_index=error.cell_index,
            ) from error
    html = executed.with_suffix(".html")
    html.write_text(_render_html(executed, title=title), encoding="utf-8")
    return ReportResult(notebook=executed, html=html)


def _render_html(notebook: Path, *, title: str) -> str:
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4), resources={"metadata": {"name": title}})
    return body
