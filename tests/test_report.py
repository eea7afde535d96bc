"""The progress reports: notebook shape, figures, runners and their errors, and real-kernel runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from matplotlib.figure import Figure
from papermill.exceptions import PapermillExecutionError

import analytics
from analytics import (
    CourseTables,
    ReportBatchError,
    ReportError,
    analyse_cohort,
    cumulative_completions,
    plot_attempt_counts,
    plot_cell_pass_rates,
    plot_cramming,
    plot_days_vs_target,
    plot_funnel,
    plot_lesson_timing,
    plot_pace_gap,
    plot_persistence,
    plot_plan_vs_actual,
    plot_score_distribution,
    plot_score_histogram,
    plot_student_timeline,
    run_cohort_report,
    run_lesson_report,
    run_report,
    run_student_report,
    run_student_reports,
    student_status,
    synthetic_course,
    synthetic_tables,
    validate_tables,
    write_tables,
)

UTC = dt.timezone.utc
START = dt.datetime(2026, 9, 7, 9, tzinfo=UTC)
AS_OF = dt.datetime(2026, 10, 10, tzinfo=UTC)
REPO = Path(analytics.__file__).resolve().parents[1]
FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"
COMMON = {"tables_dir": "exports", "as_of": None, "course_day": None, "settings": {}, "report_file": None}
NOTEBOOKS = {
    "cohort_progress.ipynb": COMMON | {"title": "Cohort progress", "past_tables_dirs": []},
    "student_progress.ipynb": COMMON | {"student_id": "", "cohort": None, "title": None},
    "lesson_report.ipynb": COMMON | {"lesson_id": "", "title": None},
}


def notebook(name: str) -> nbformat.NotebookNode:
    source = resources.files("analytics") / "notebooks" / name
    return nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_parameters_cell(name: str) -> None:
    cells = [cell for cell in notebook(name).cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1
    defaults: dict[str, object] = {}
    exec(cells[0].source, {}, defaults)
    assert defaults == NOTEBOOKS[name]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_saved_clean_and_readable(name: str) -> None:
    nb = notebook(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert len(cell.source.splitlines()) <= 20  # thin: the library does the work
    markdown = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    assert all(text.startswith("## ") and len(text.split("\n\n", 1)) == 2 for text in markdown)  # a heading, then a sentence


def test_cohort_notebook_has_the_sections_of_the_issue() -> None:
    headings = [cell.source.splitlines()[0] for cell in notebook("cohort_progress.ipynb").cells if cell.cell_type == "markdown"]
    for section in ("Plan vs actual", "Pace gap", "Cramming", "Completion funnel", "Persistence", "need a nudge",
                    "Cohorts compared", "A statistical model, for comparison"):
        assert any(section in heading for heading in headings), section


@pytest.mark.parametrize("submissions", ["some", "none"])
def test_plots_return_figures(submissions: str) -> None:
    course = synthetic_course(students=60, lessons=4, seed=2, start=START)
    tables = course.tables
    if submissions == "none":
        tables = CourseTables(tables.lessons, tables.enrollments, tables.submissions.iloc[0:0], cell_scores=None)
    analysis = analyse_cohort(tables, as_of=AS_OF)
    student = student_status(tables, "s001", as_of=AS_OF)
    lesson = analysis.pacing.loc[analysis.pacing["lesson_id"] == "L02"]
    figures = [
        plot_plan_vs_actual(cumulative_completions(analysis.pacing, tables, as_of=AS_OF)),
        plot_days_vs_target(analysis.pacing),
        plot_score_distribution(analysis.pacing),
        plot_pace_gap(analysis.students),
        plot_cramming(analysis.pacing),
        plot_funnel(analysis.funnel),
        plot_persistence(analysis.survival),
        plot_student_timeline(student.lessons, student.attempts, as_of=AS_OF),
        plot_lesson_timing(lesson),
        plot_attempt_counts(analysis.attempts.loc[analysis.attempts["lesson_id"] == "L02"]),
        plot_score_histogram(lesson),
        plot_cell_pass_rates(analysis.cells),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert len(figure.axes) == 1 and figure.axes[0].get_title(loc="left")
        figure.canvas.draw()  # renders without error, labels included
    assert [tick.get_text() for tick in figures[1].axes[0].get_xticklabels()][0].startswith("L01\nn=")


def test_run_report_is_the_cohort_report() -> None:
    assert run_report is run_cohort_report


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_tables(synthetic_tables(students=12, lessons=3, seed=4, start=START), root / "exports", formats=("csv",))
    return root


def test_student_and_lesson_reports_go_to_their_folders(course: Path, no_kernel: list[dict]) -> None:
    student = run_student_report(course_dir=course, student_id="s002", as_of=AS_OF)
    assert student.html == course / "analytics" / "reports" / "students" / "s002.html" and student.html.is_file()
    assert student.notebook is None and not student.html.with_suffix(".ipynb").exists()  # kept only when asked
    lesson = run_lesson_report(course_dir=course, lesson_id="L02", output_dir=course / "out", keep_notebook=True)
    assert lesson.html == course / "out" / "lessons" / "L02.html"
    assert lesson.notebook == lesson.html.with_suffix(".ipynb") and lesson.notebook.is_file()
    assert no_kernel[0] == {"tables_dir": str(course.resolve() / "exports"), "as_of": "2026-10-10T00:00:00+00:00",
                            "course_day": None, "settings": analytics.ReportSettings().to_json(), "student_id": "s002",
                            "cohort": None, "title": "Progress of s002"}
    assert no_kernel[1]["title"] == "Lesson L02: Lesson 2" and no_kernel[1]["as_of"] is None


def test_past_cohorts_reach_the_cohort_notebook_as_absolute_paths(course: Path, no_kernel: list[dict],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(course)
    run_cohort_report(course_dir=course, past_tables_dirs=[Path("../2025/exports"), course / "spring"])
    assert no_kernel[0]["past_tables_dirs"] == [str(course.parent / "2025" / "exports"), str(course / "spring")]
    run_cohort_report(course_dir=course)
    assert no_kernel[1]["past_tables_dirs"] == []


def test_one_past_cohort_is_refused_before_a_kernel_starts(course: Path, no_kernel: list[dict]) -> None:
    with pytest.raises(ReportError, match=r"one past cohort \(.*2025\) is not enough for the risk model: it needs at "
                                          "least 2"):
        run_cohort_report(course_dir=course, past_tables_dirs=[course / "2025"])
    assert no_kernel == []


class RecordingProgress:
    """Records what a runner tracks, the way paceline's progress bar would show it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int | None, object]] = []

    def track(self, items, *, description: str, total: int | None = None):
        for item in items:
            self.seen.append((description, total, item))
            yield item


def test_all_student_reports_with_progress(course: Path, no_kernel: list[dict]) -> None:
    progress = RecordingProgress()
    results = run_student_reports(course_dir=course, as_of=AS_OF, progress=progress)
    enrollments = analytics.load_tables(course / "exports").enrollments
    present = enrollments.loc[(enrollments["enrolled_at"] <= AS_OF) & ~(enrollments["withdrawn_at"] <= AS_OF)]
    assert progress.seen == [("Student reports", len(present), student) for student in sorted(present["student_id"])]
    assert [result.html.stem for result in results] == sorted(present["student_id"])
    chosen = run_student_reports(course_dir=course, student_ids=["s005", "s001"])
    assert [result.html.stem for result in chosen] == ["s005", "s001"]


def test_a_failing_student_report_does_not_stop_the_others(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def execute(source: Path, output: Path, *, parameters: dict, **options: object) -> nbformat.NotebookNode:
        if parameters["student_id"] in ("s002", "s004"):
            raise PapermillExecutionError(cell_index=3, exec_count=2, source="", ename="KeyError",
                                          evalue=repr(parameters["student_id"]), traceback=[])
        shutil.copy(source, output)
        return nbformat.read(output, as_version=4)

    monkeypatch.setattr(analytics.report.papermill, "execute_notebook", execute)
    with pytest.raises(ReportBatchError) as error:
        run_student_reports(course_dir=course, student_ids=["s001", "s002", "s003", "s004"])
    assert [student for student, _ in error.value.failures] == ["s002", "s004"]
    assert [result.html.stem for result in error.value.results] == ["s001", "s003"]
    assert all(result.html.is_file() for result in error.value.results)
    assert str(error.value).startswith("2 of 4 student reports failed (2 written):\n  - s002: student_progress.ipynb cell 3")


@pytest.mark.parametrize(("run", "message"), [
    (lambda course: run_student_report(course_dir=course, student_id="nobody"), "unknown student 'nobody'"),
    (lambda course: run_student_reports(course_dir=course, student_ids=["s001", "nobody"]), "unknown student 'nobody'"),
    (lambda course: run_lesson_report(course_dir=course, lesson_id="L99"), "unknown lesson 'L99'"),
    (lambda course: run_student_report(course_dir=course, student_id="s001", tables_dir=course / "nope"),
     "cannot read the tables: lessons: neither"),
], ids=["student", "one of many", "lesson", "no tables"])
def test_unknown_ids_fail_before_a_kernel_starts(course: Path, no_kernel: list[dict], run, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        run(course)
    assert no_kernel == []


def test_ids_that_are_not_file_names_are_refused(tmp_path: Path, no_kernel: list[dict]) -> None:
    tables = synthetic_tables(students=3, lessons=2, seed=1, start=START)
    enrollments = tables.enrollments.assign(student_id=["../up", ".hidden", "ok"])
    subs = tables.submissions.assign(student_id=tables.submissions["student_id"].map(
        dict(zip(tables.enrollments["student_id"], enrollments["student_id"]))))
    write_tables(validate_tables(CourseTables(tables.lessons, enrollments, subs)), tmp_path / "exports")
    for bad in ("../up", ".hidden"):
        with pytest.raises(ReportError, match="cannot be used as a file name"):
            run_student_report(course_dir=tmp_path, student_id=bad)
    assert no_kernel == []


def test_papermill_failure_becomes_report_error(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise PapermillExecutionError(
            cell_index=2, exec_count=1, source="analytics.plot_pace_gap(analysis.students)",
            ename="ValueError", evalue="no students to plot", traceback=[],
        )

    monkeypatch.setattr(analytics.report.papermill, "execute_notebook", fail)
    with pytest.raises(ReportError, match=r"cohort_progress.ipynb cell 2 .*ValueError: no students to plot") as error:
        run_report(course_dir=course)
    assert error.value.cell_index == 2
    assert isinstance(error.value.__cause__, PapermillExecutionError)


def test_report_rejects_missing_course_dir_and_naive_as_of(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        run_report(course_dir=tmp_path / "nope")
    with pytest.raises(ReportError, match="no time zone"):
        run_report(course_dir=tmp_path, as_of=dt.datetime(2026, 10, 1))
    with pytest.raises(ReportError, match="no time zone"):
        run_student_report(course_dir=tmp_path, student_id="x", as_of=dt.datetime(2026, 10, 1))


# Real kernels from here on.

@pytest.fixture
def kernel_can_import_analytics(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a new process started in course_dir: it finds analytics through PYTHONPATH
    # when paceline is not installed in the environment.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def visible_text(html: str) -> str:
    """The HTML without its embedded images (base64 can spell anything)."""
    return re.sub(r'src="data:image/[^"]+"', "", html)


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_reports_end_to_end_on_a_synthetic_log(tmp_path: Path) -> None:
    course = tmp_path / "course"
    synthetic = synthetic_course(students=150, lessons=6, seed=11, start=START)
    write_tables(synthetic.tables, course / "exports")
    result = run_cohort_report(course_dir=course, as_of=AS_OF, title="Synthetic cohort 11")

    assert result.notebook is None and result.html == course / "analytics" / "reports" / "cohort_progress.html"
    html = result.html.read_text(encoding="utf-8")
    assert "<title>Synthetic cohort 11</title>" in html
    assert re.search(r"<h1[^>]*>Synthetic cohort 11", html)
    assert "As of <strong>2026-10-10 00:00 UTC</strong>" in html
    assert html.count('src="data:image/png;base64') == 8  # figures; "Cohorts compared" has none with one cohort
    assert html.count('class="paceline-math"') == 4  # the persistence formula, drawn here rather than by MathJax
    assert "analytics.analyse_cohort" not in html  # code is hidden from the instructor
    assert "enrolled students with lessons left are at risk" in html and "lessons behind pace" in html
    executed = nbformat.read(run_cohort_report(course_dir=course, as_of=AS_OF, keep_notebook=True).notebook,
                             as_version=4)
    injected = [cell for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    assert 'as_of = "2026-10-10T00:00:00+00:00"' in injected[0].source

    analysis = analyse_cohort(synthetic.tables, as_of=AS_OF)
    struggler = analysis.reasons.merge(synthetic.personas).query("persona == 'struggler'")["student_id"].iloc[0]
    student = run_student_report(course_dir=course, student_id=struggler, as_of=AS_OF).html.read_text(encoding="utf-8")
    assert f"<title>Progress of {struggler}</title>" in student and "What needs attention" in student
    assert "graded lessons on the first attempt" in student
    others = set(synthetic.tables.enrollments["student_id"]) - {struggler}
    assert not [other for other in others if other in visible_text(student)]


def fixture_export() -> CourseTables:
    """What `paceline export` writes for tests/fixtures/course after a little activity (times in UTC;
    the course's dates are Europe/Berlin): ada did both lessons (02-words' free-response cell is not
    graded yet), brook passed 01-add at the second attempt, cyd never started."""
    def at(*values: str | None) -> pd.Series:
        return pd.Series(pd.to_datetime(list(values), utc=True)).astype("datetime64[ns, UTC]")

    attempts = [("ada", "01-add", 1, "2026-09-10T18:00Z", 3.0, 3.0), ("ada", "02-words", 1, "2026-09-18T18:00Z", 2.0, 3.0),
                ("brook", "01-add", 1, "2026-09-12T20:00Z", 1.0, 3.0), ("brook", "01-add", 2, "2026-09-13T09:00Z", 3.0, 3.0)]
    student, lesson, attempt, submitted, score, top = zip(*attempts)
    cells = [("ada", "01-add", 1, "add", "test_add_visible", 1.0, 1.0), ("ada", "01-add", 1, "add", "test_add_hidden", 2.0, 2.0),
             ("ada", "02-words", 1, "words", "test_count_words", 1.0, 1.0),
             ("ada", "02-words", 1, "words", "test_count_words_hidden", 1.0, 1.0),
             ("ada", "02-words", 1, "words", "explain_split", None, 1.0),
             ("brook", "01-add", 1, "add", "test_add_visible", 1.0, 1.0),
             ("brook", "01-add", 1, "add", "test_add_hidden", 0.0, 2.0),
             ("brook", "01-add", 2, "add", "test_add_visible", 1.0, 1.0),
             ("brook", "01-add", 2, "add", "test_add_hidden", 2.0, 2.0)]
    return validate_tables(CourseTables(
        lessons=pd.DataFrame({
            "lesson_id": ["01-add", "02-words"], "title": ["Adding numbers", "Counting words"], "order": [1, 2],
            "opens_at": at("2026-09-07T07:00Z", "2026-09-14T07:00Z"),
            "target_at": at("2026-09-13T21:59:59Z", "2026-09-20T21:59:59Z"),
            "due_at": at("2026-09-20T21:59:59Z", "2026-09-27T21:59:59Z"), "max_score": [3.0, 3.0],
        }),
        enrollments=pd.DataFrame({"student_id": ["ada", "brook", "cyd"],
                                  "enrolled_at": at("2026-08-31T22:00Z", "2026-08-31T22:00Z", "2026-09-09T22:00Z"),
                                  "withdrawn_at": at(None, None, None)}),
        submissions=pd.DataFrame({"student_id": student, "lesson_id": lesson, "attempt": attempt,
                                  "submitted_at": at(*submitted), "score": score, "max_score": top, "late_penalty": 0.0,
                                  "graded_at": at(*submitted) + pd.Timedelta(minutes=5), "status": "graded"}),
        cell_scores=pd.DataFrame.from_records(cells, columns=["student_id", "lesson_id", "attempt", "notebook",
                                                              "grade_id", "score", "max_score"]),
    ))


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_reports_on_the_fixture_course_export(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    with open(course / "course.toml", "a", encoding="utf-8") as toml:
        toml.write("\n[at_risk]\ninactive_days = 7\n")
    tables_dir = tmp_path / "elsewhere"
    write_tables(fixture_export(), tables_dir, formats=("csv",))
    as_of = dt.datetime(2026, 9, 30, tzinfo=UTC)

    cohort = run_cohort_report(course_dir=course, tables_dir=tables_dir, as_of=as_of, output_dir=tmp_path / "out")
    html = visible_text(cohort.html.read_text(encoding="utf-8"))
    assert cohort.html.parent == tmp_path / "out"
    assert "silent for 7 days or more" in html  # the thresholds came from course.toml
    assert re.search(r"<td[^>]*>cyd</td>.*2 lessons behind pace; no submission yet, 20 days after starting", html, re.S)
    assert cohort.html.read_text(encoding="utf-8").count('src="data:image/png;base64') == 8  # hardest tests too: cell scores

    progress = RecordingProgress()
    [ada] = run_student_reports(course_dir=course, tables_dir=tables_dir, student_ids=["ada"], as_of=as_of,
                                progress=progress)
    assert progress.seen == [("Student reports", 1, "ada")] and ada.html == course / "analytics" / "reports" / "students" / "ada.html"
    student = visible_text(ada.html.read_text(encoding="utf-8"))
    assert "Nothing needs attention right now." in student
    assert "brook" not in student and "cyd" not in student

    lesson = run_lesson_report(course_dir=course, tables_dir=tables_dir, lesson_id="02-words", as_of=as_of)
    page = visible_text(lesson.html.read_text(encoding="utf-8"))
    assert "<title>Lesson 02-words: Counting words</title>" in page
    assert "test_count_words_hidden" in page and "explain_split" not in page  # awaiting manual grading


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_report_error_names_the_failing_cell(tmp_path: Path) -> None:
    # The runner reads the tables before any kernel starts...
    with pytest.raises(ReportError, match="cannot read the tables: lessons: neither lessons.parquet nor lessons.csv"):
        run_report(course_dir=tmp_path)  # no exports/ here
    assert not (tmp_path / "analytics" / "reports" / "cohort_progress.ipynb").exists()
    # ...so a failing cell is met where the notebook reads them itself: opened without a prepared report.
    kept = tmp_path / "partial.ipynb"
    parameters = {"tables_dir": str(tmp_path / "exports"), "as_of": None, "course_day": None, "settings": {},
                  "title": "Cohort progress", "past_tables_dirs": [], "report_file": None}
    with pytest.raises(ReportError) as error:
        analytics.report._execute(analytics.report.COHORT_NOTEBOOK, kept, kept=kept, cwd=tmp_path, timeout=120,
                                  parameters=parameters)
    # Cell 0 is the parameters cell, 1 the parameters papermill injects, 2 loads the tables.
    assert error.value.cell_index == 2
    assert "cell 2" in str(error.value) and "TableError" in str(error.value)
    assert "lessons: neither lessons.parquet nor lessons.csv" in str(error.value)
    assert json.loads(kept.read_text())["cells"]


@pytest.mark.e2e
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("kernel_can_import_analytics")
def test_cohort_report_compares_a_model_fitted_on_past_cohorts(tmp_path: Path) -> None:
    starts = {"2025": dt.datetime(2025, 9, 8, 9, tzinfo=UTC), "2026-spring": dt.datetime(2026, 2, 2, 9, tzinfo=UTC),
              "current": START}
    cohorts = {name: synthetic_tables(students=300, lessons=6, seed=seed, start=start)
               for seed, (name, start) in enumerate(starts.items(), start=21)}
    for name, tables in cohorts.items():
        write_tables(tables, tmp_path / name / "exports", formats=("csv",))
    past_dirs = [tmp_path / "2025" / "exports", tmp_path / "2026-spring" / "exports"]
    result = run_cohort_report(course_dir=tmp_path / "current", as_of=AS_OF, past_tables_dirs=past_dirs)
    html = visible_text(result.html.read_text(encoding="utf-8"))

    assert re.search(r"<h2[^>]*>A statistical model, for comparison", html)
    assert "No past cohorts were given" not in html and f"Past cohorts from <code>{tmp_path}</code>" in html
    # The notebook reads the CSVs the test wrote; the figures must be the library's on the same tables.
    reread = {f"{name}/exports": analytics.load_tables(tmp_path / name / "exports") for name in ("2025", "2026-spring")}
    comparison = analytics.compare_with_rules(analytics.load_tables(tmp_path / "current" / "exports"), reread,
                                              as_of=AS_OF)
    auc = comparison.evaluation.loc[comparison.evaluation["measure"] == "AUC"]
    assert len(auc) == 2
    for row in auc.itertuples():
        cells = rf"<td[^>]*>{re.escape(row.cohort)}</td>\s*<td[^>]*>AUC</td>\s*<td[^>]*>{row.model:.3g}</td>\s*" \
                rf"<td[^>]*>{row.rules:.3g}</td>"
        assert re.search(cells, html), (row.cohort, row.model, row.rules)
    top = comparison.scores.iloc[0]
    assert re.search(rf"<td[^>]*>{top.student_id}</td>\s*<td[^>]*>{top.risk:.3f}</td>\s*<td[^>]*>1</td>", html)
    print(auc[["cohort", "model", "rules"]].to_string(index=False))  # the figures, for the closing note

    without = run_cohort_report(course_dir=tmp_path / "current", as_of=AS_OF, output_dir=tmp_path / "plain")
    assert "No past cohorts were given, so the rules alone are used" in without.html.read_text(encoding="utf-8")


def test_kernels_get_the_analysis_made_once(course: Path, no_kernel) -> None:
    """Each report's kernel reads the analysis the runner prepared, the same as a notebook opened by hand makes."""
    run_cohort_report(course_dir=course, as_of=AS_OF)
    run_student_reports(course_dir=course, student_ids=["s001", "s002"], as_of=AS_OF)
    by_hand = analytics.open_report(course / "exports", settings={}, as_of=AS_OF.isoformat())
    assert len(no_kernel.prepared) == 3
    for prepared in no_kernel.prepared:
        assert prepared.as_of == pd.Timestamp(AS_OF)
        pd.testing.assert_frame_equal(prepared.pooled.students, by_hand.pooled.students)
        pd.testing.assert_frame_equal(prepared.pooled.at_risk, by_hand.pooled.at_risk)
        # The per-cell scores stay behind, summarised: the kernel needs only the hardest-tests table made of them.
        assert prepared.tables.cell_scores is None and not by_hand.pooled.cells.empty
        pd.testing.assert_frame_equal(prepared.pooled.cells, by_hand.pooled.cells)
    assert no_kernel.prepared[1].pooled is not no_kernel.prepared[0].pooled  # a fresh read per kernel


def test_importing_the_notebook_tools_builds_no_rfc3987_parser() -> None:
    """Every paceline process that reads a notebook imports nbformat, and nbformat jsonschema; a jsonschema
    that imports rfc3987_syntax builds its Earley parser there (2-3 s of each command, nbgrader app, grading
    worker and report). pyproject.toml bounds jsonschema below that release."""
    code = (
        "import sys, nbformat, nbconvert, papermill, jsonschema, nbgrader.api, analytics.report, analytics.present\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rfc3987_syntax', 'lark')))\n"
        "print(jsonschema.FormatChecker().conforms('not a date', 'date'))\n"  # formats still checked
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False,
                          env=os.environ | {"PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "False"]
