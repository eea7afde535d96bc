"""The cohort report: notebook shape, figures, error mapping, and an end-to-end run with a real kernel."""

from __future__ import annotations

import datetime as dt
import json
import re
import os
from importlib import resources
from pathlib import Path

import nbformat
import pytest
from matplotlib.figure import Figure
from papermill.exceptions import PapermillExecutionError

import analytics
from analytics import (
    CourseTables,
    ReportError,
    cumulative_completions,
    pacing_table,
    plot_ahead_behind,
    plot_days_vs_target,
    plot_plan_vs_actual,
    plot_score_distribution,
    run_report,
    student_summary,
    synthetic_tables,
    write_tables,
)

UTC = dt.timezone.utc
START = dt.datetime(2026, 9, 7, 9, tzinfo=UTC)
AS_OF = dt.datetime(2026, 10, 10, tzinfo=UTC)
REPO = Path(analytics.__file__).resolve().parents[1]


def notebook() -> nbformat.NotebookNode:
    source = resources.files("analytics") / "notebooks" / "cohort_progress.ipynb"
    return nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)


def test_notebook_parameters_cell() -> None:
    cells = [cell for cell in notebook().cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1
    defaults: dict[str, object] = {}
    exec(cells[0].source, {}, defaults)
    assert defaults == {"course_dir": ".", "tables_dir": None, "as_of": None, "title": "Cohort progress"}


def test_notebook_is_saved_clean_and_valid() -> None:
    nb = notebook()
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    headings = [cell.source.splitlines()[0] for cell in nb.cells if cell.cell_type == "markdown"]
    assert all(heading.startswith("## ") for heading in headings)


@pytest.mark.parametrize("submissions", ["some", "none"])
def test_plots_return_figures(submissions: str) -> None:
    tables = synthetic_tables(students=60, lessons=4, seed=2, start=START)
    if submissions == "none":
        tables = CourseTables(tables.lessons, tables.enrollments, tables.submissions.iloc[0:0])
    pacing = pacing_table(tables, as_of=AS_OF)
    summary = student_summary(pacing, as_of=AS_OF)
    figures = [
        plot_plan_vs_actual(cumulative_completions(pacing, tables, as_of=AS_OF)),
        plot_days_vs_target(pacing),
        plot_score_distribution(pacing),
        plot_ahead_behind(summary),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert len(figure.axes) == 1 and figure.axes[0].get_title(loc="left")
        figure.canvas.draw()  # renders without error, labels included
    assert [tick.get_text() for tick in figures[1].axes[0].get_xticklabels()][0].startswith("L01\nn=")


def test_papermill_failure_becomes_report_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise PapermillExecutionError(
            cell_index=2, exec_count=1, source="tables = analytics.load_tables(tables_path)",
            ename="TableError", evalue="submissions.score: is negative in row 4 (-1.0)", traceback=[],
        )

    monkeypatch.setattr(analytics.report.papermill, "execute_notebook", fail)
    with pytest.raises(ReportError, match=r"cohort_progress.ipynb cell 2 .*TableError: submissions.score") as error:
        run_report(course_dir=tmp_path)
    assert error.value.cell_index == 2
    assert isinstance(error.value.__cause__, PapermillExecutionError)


def test_report_rejects_missing_course_dir_and_naive_as_of(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        run_report(course_dir=tmp_path / "nope")
    with pytest.raises(ReportError, match="no time zone"):
        run_report(course_dir=tmp_path, as_of=dt.datetime(2026, 10, 1))


@pytest.fixture
def kernel_can_import_analytics(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a new process started in course_dir: it finds analytics through PYTHONPATH
    # when paceline is not installed in the environment.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_report_end_to_end_on_a_synthetic_log(tmp_path: Path) -> None:
    course = tmp_path / "course"
    write_tables(synthetic_tables(students=150, lessons=6, seed=11, start=START), course / "exports")
    result = run_report(course_dir=course, as_of=AS_OF, title="Synthetic cohort 11")

    assert result.notebook == course / "analytics" / "reports" / "cohort_progress.ipynb"
    assert result.html == course / "analytics" / "reports" / "cohort_progress.html"
    html = result.html.read_text(encoding="utf-8")
    assert "<title>Synthetic cohort 11</title>" in html
    assert re.search(r"<h1[^>]*>Synthetic cohort 11", html)
    assert "As of <strong>2026-10-10 00:00 UTC</strong>" in html
    assert html.count('<img alt="') == html.count('src="data:image/png;base64') == 4
    assert "analytics.pacing_table" not in html  # code is hidden from the instructor
    executed = nbformat.read(result.notebook, as_version=4)
    injected = [cell for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    assert 'as_of = "2026-10-10T00:00:00+00:00"' in injected[0].source


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_report_with_tables_dir_and_output_dir_and_csv_only(tmp_path: Path) -> None:
    tables_dir = tmp_path / "elsewhere"
    write_tables(synthetic_tables(students=40, lessons=3, seed=5, start=START), tables_dir, formats=("csv",))
    result = run_report(course_dir=tmp_path, tables_dir=tables_dir, output_dir=tmp_path / "out")
    assert result.html.parent == tmp_path / "out" and result.html.is_file()
    assert "<title>Cohort progress</title>" in result.html.read_text(encoding="utf-8")


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_report_error_names_the_failing_cell(tmp_path: Path) -> None:
    with pytest.raises(ReportError) as error:
        run_report(course_dir=tmp_path)  # no exports/ here
    # Cell 0 is the parameters cell, 1 the parameters papermill injects, 2 loads the tables.
    assert error.value.cell_index == 2
    assert "cell 2" in str(error.value) and "TableError" in str(error.value)
    assert "lessons: neither lessons.parquet nor lessons.csv" in str(error.value)
    assert json.loads((tmp_path / "analytics" / "reports" / "cohort_progress.ipynb").read_text())["cells"]
