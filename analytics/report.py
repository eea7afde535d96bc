"""Run the cohort progress notebook with papermill and render it as HTML for an instructor.

The notebook (``analytics/notebooks/cohort_progress.ipynb``) holds the
narrative and stays thin; the numbers come from the analytics API. The report
hides code (``exclude_input``): its reader wants the charts, not the calls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from .errors import ReportError

NOTEBOOK = "cohort_progress.ipynb"
KERNEL = "python3"


@dataclass(frozen=True)
class ReportResult:
    """Where the executed notebook and its HTML rendering were written."""

    notebook: Path
    html: Path


def run_report(
    *,
    course_dir: Path,
    tables_dir: Path | None = None,
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    title: str = "Cohort progress",
    timeout: int = 600,
) -> ReportResult:
    """Execute the cohort progress notebook for one course and write ``.ipynb`` and ``.html``.

    The kernel (``python3``) runs with ``course_dir`` as its working directory
    and must be able to import ``analytics`` (install paceline in the kernel's
    environment). ``tables_dir`` defaults to ``<course_dir>/exports``, ``as_of``
    (timezone-aware) to the latest submission, ``output_dir`` to
    ``<course_dir>/analytics/reports``. ``timeout`` is seconds per cell.

    Raises :class:`ReportError` naming the failing cell if the notebook fails;
    the partly executed notebook is still written for inspection.
    """
    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise ReportError(f"course directory {course_dir} does not exist")
    if as_of is not None and as_of.tzinfo is None:
        raise ReportError(f"as_of {as_of} has no time zone")
    output_dir = Path(output_dir) if output_dir is not None else course_dir / "analytics" / "reports"
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / NOTEBOOK
    html = executed.with_suffix(".html")
    # Papermill parameters must be JSON: paths and times travel as text.
    parameters = {
        "course_dir": str(course_dir),
        "tables_dir": str(Path(tables_dir).resolve()) if tables_dir is not None else None,
        "as_of": as_of.isoformat() if as_of is not None else None,
        "title": title,
    }
    with resources.as_file(resources.files("analytics") / "notebooks" / NOTEBOOK) as source:
        try:
            papermill.execute_notebook(
                source,
                executed,
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(course_dir),
                progress_bar=False,
                execution_timeout=timeout,
            )
        except PapermillExecutionError as error:
            raise ReportError(
                f"{NOTEBOOK} cell {error.cell_index} (execution count {error.exec_count}) failed: "
                f"{error.ename}: {error.evalue}; the partial notebook is {executed}",
                cell_index=error.cell_index,
            ) from error
    html.write_text(_render_html(executed, title=title), encoding="utf-8")
    return ReportResult(notebook=executed, html=html)


def _render_html(notebook: Path, *, title: str) -> str:
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4), resources={"metadata": {"name": title}})
    return body
