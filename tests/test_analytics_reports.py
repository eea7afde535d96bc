"""Reports from a folder of tables alone: settings, the library function, the CLI, and HTML that needs no network."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import analytics
from analytics import ReportError, ReportSettings, SettingsError, load_settings, report_from_tables, summarised
from analytics.cli import main
from analytics.present import math_svg, offline_html, render_math

from test_analytics_semantics import STARTS, write_log

UTC = dt.timezone.utc
REPO = Path(analytics.__file__).resolve().parents[1]


SETTINGS = '''
[analytics]
title = "Module AAA"
timezone = "Europe/London"
persistence_since = "course_start"
gating_pass_fraction = 0.6

[analytics.cohort_starts]
"2013J" = 2013-10-01T00:00:00Z
"2014B" = 2014-02-01T00:00:00Z

[at_risk]
pass_fraction = 0.4
inactive_gap_multiple = 1.5
'''


def test_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "analytics.toml"
    path.write_text(SETTINGS)
    settings = load_settings(path)
    assert settings.title == "Module AAA" and settings.timezone == "Europe/London"
    assert settings.day_zero == STARTS and settings.rules.pass_fraction == 0.4
    assert settings.rules.inactive_gap_multiple == 1.5 and settings.gating_pass_fraction == 0.6
    assert ReportSettings.from_json(settings.to_json()) == settings
    path.write_text('[analytics]\ncourse_start = 2013-10-01\ntimezone = "Europe/London"\n')
    # A bare date is midnight in the settings' time zone (BST: 23:00 UTC the day before).
    assert load_settings(path).course_start.astimezone(UTC) == dt.datetime(2013, 9, 30, 23, tzinfo=UTC)


@pytest.mark.parametrize(("text", "message"), [
    ('[analytics]\ntitel = "x"\n', "analytics.titel: unknown key (allowed: title, timezone"),
    ('[analytics]\ntimezone = "Mars/Olympus"\n', "timezone: unknown time zone 'Mars/Olympus'"),
    ('[analytics]\ncourse_start = "someday"\n', "analytics.course_start: is not a date"),
    ('[analytics]\npersistence_since = "birth"\n', "persistence_since: must be one of enrolment, course_start"),
    ("[at_risk]\ninactive_days = 1e9\n", "at_risk.inactive_days: must be above 0 and at most 36,500"),
], ids=["unknown key", "time zone", "date", "axis", "threshold"])
def test_bad_settings_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "analytics.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as error:
        load_settings(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_a_course_toml_gives_title_time_zone_and_the_gating_mark(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text('[course]\nid = "x"\ntitle = "Intro"\ntimezone = "Europe/Berlin"\n\n[gating]\npass_fraction = 0.7\n'
                    '\n[at_risk]\npass_fraction = 0.5\n')
    settings = load_settings(path)
    assert (settings.title, settings.timezone, settings.gating_pass_fraction) == ("Intro", "Europe/Berlin", 0.7)


def test_report_from_tables_needs_no_course_folder(tmp_path: Path, no_kernel: list[dict]) -> None:
    tables = write_log(tmp_path / "log")
    settings = ReportSettings(title="Module AAA", cohort_starts=STARTS)
    [cohort] = report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, as_of=100)
    assert cohort.html == tmp_path / "out" / "cohort_progress.html" and cohort.notebook is None
    assert no_kernel[0] == {"tables_dir": str(tables), "as_of": None, "course_day": 100.0,
                            "settings": settings.to_json(), "title": "Module AAA", "past_tables_dirs": []}
    [student] = report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, student_id="a4",
                                   keep_notebook=True)
    assert student.html == tmp_path / "out" / "students" / "2013J" / "a4.html" and student.notebook.is_file()
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["cohort_progress.html", "students"]
    every = report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, all_students=True,
                               as_of=dt.datetime(2014, 3, 1, tzinfo=UTC))
    # Enrolled on 2014-03-01 (day 151 of 2013J, day 28 of 2014B), not withdrawn; a2 in both cohorts.
    assert [result.html.relative_to(tmp_path / "out" / "students").as_posix() for result in every] == [
        "2013J/a1.html", "2013J/a2.html", "2014B/a2.html", "2013J/a4.html", "2013J/a5.html", "2014B/b3.html"]
    with pytest.raises(ReportError, match=r"student 'a2' is in several cohorts \(2013J, 2014B\): give cohort"):
        report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, student_id="a2")
    assert report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, student_id="a2",
                              cohort="2014B")[0].html == tmp_path / "out" / "students" / "2014B" / "a2.html"
    assert no_kernel[-1]["cohort"] == "2014B"


def test_report_from_tables_checks_before_a_kernel_starts(tmp_path: Path, no_kernel: list[dict]) -> None:
    tables = write_log(tmp_path / "log")
    with pytest.raises(ReportError, match=r"cannot read the tables: lessons.opens_at: is a number: day offsets need "
                                          r"course_start \(rows 0 \(CSV line 2\), 1 \(CSV line 3\), .* and 1 more\)"):
        report_from_tables(tables, output_dir=tmp_path / "out")
    settings = ReportSettings(cohort_starts=STARTS)
    with pytest.raises(ReportError, match="unknown student 'zed'"):
        report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, student_id="zed")
    with pytest.raises(ReportError, match="at most one of"):
        report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, student_id="a1", lesson_id="TMA1")
    with pytest.raises(ReportError, match="no time zone"):
        report_from_tables(tables, output_dir=tmp_path / "out", settings=settings, as_of=dt.datetime(2014, 1, 1))
    assert no_kernel == []


def test_cli_reports_and_errors(tmp_path: Path, no_kernel: list[dict], capsys: pytest.CaptureFixture[str]) -> None:
    tables = write_log(tmp_path / "log")
    settings = tmp_path / "analytics.toml"
    settings.write_text(SETTINGS)
    code = main(["report", "--tables", str(tables), "--settings", str(settings), "--to", str(tmp_path / "out"),
                 "--as-of", "2014-03-01", "--lesson", "TMA2", "--inactive-days", "20", "--title", "Other"])
    assert code == 0
    assert capsys.readouterr().out == f"Report: {tmp_path / 'out' / 'lessons' / 'TMA2.html'}\n"
    sent = analytics.ReportSettings.from_json(no_kernel[0]["settings"])
    assert (sent.title, sent.rules.inactive_days, sent.rules.pass_fraction) == ("Other", 20.0, 0.4)
    # The end of 2014-03-01 in London (GMT then).
    assert no_kernel[0]["as_of"] == "2014-03-01T23:59:59.999999+00:00" and no_kernel[0]["lesson_id"] == "TMA2"
    assert main(["report", "--tables", str(tables), "--to", str(tmp_path / "out")]) == 1
    assert "error: cannot read the tables: lessons.opens_at: is a number" in capsys.readouterr().err
    assert main(["report", "--tables", str(tables), "--settings", str(settings), "--inactive-days", "1e9"]) == 1
    assert "at_risk.inactive_days: must be above 0 and at most 36,500" in capsys.readouterr().err


def test_paceline_report_from_tables_needs_no_course(tmp_path: Path, no_kernel: list[dict],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from graders.cli import main as paceline

    tables = write_log(tmp_path / "log")
    settings = tmp_path / "analytics.toml"
    settings.write_text(SETTINGS)
    monkeypatch.chdir(tmp_path)  # no course.toml here or above: a course is not needed
    run = CliRunner().invoke(paceline, ["report", "--tables", str(tables), "--settings", str(settings),
                                        "--student", "a4", "--as-of", "130"])
    assert run.exit_code == 0, run.output
    assert "Report:" in run.output and (tmp_path / "reports" / "students" / "2013J" / "a4.html").is_file()
    sent = analytics.ReportSettings.from_json(no_kernel[0]["settings"])
    assert (sent.title, sent.rules.pass_fraction, no_kernel[0]["course_day"]) == ("Module AAA", 0.4, 130.0)
    # The validator's message reaches the instructor as a one-line error, exit status 1.
    run = CliRunner().invoke(paceline, ["report", "--tables", str(tables)])
    assert run.exit_code == 1 and "lessons.opens_at: is a number: day offsets need course_start" in run.output
    run = CliRunner().invoke(paceline, ["report", "--settings", str(settings)])
    assert run.exit_code == 2 and "--settings is for --tables" in run.output


def test_long_lists_are_counted_and_folded() -> None:
    ids = [f"s{k:03d}" for k in range(300)]
    html = str(summarised(ids, noun="withdrawn student"))
    assert html.startswith("<p><strong>300 withdrawn students</strong>: s000, s001,")
    assert html.count("<li>") == 300 and "<details><summary>All 300 withdrawn students</summary>" in html
    assert str(summarised(["a", "b"], noun="withdrawn student")) == "<p><strong>2 withdrawn students</strong>: a, b</p>"
    assert summarised([], noun="withdrawn student")._repr_html_() == "<p><strong>0 withdrawn students</strong></p>"


def test_formulas_render_without_mathjax() -> None:
    rendered = render_math(r"Kaplan-Meier $\hat{S}(t) = \prod_{t_i \leq t} (1 - d_i / n_i)$ costs $5 and $6 here.")
    assert rendered.count('class="paceline-math"') == 1 and "costs $5 and $6 here." in rendered
    assert "data:image/svg+xml;base64," in rendered and r'alt="\hat{S}(t)' in rendered


def network_references(page: str) -> list[str]:
    """Every script, stylesheet or other resource the page would fetch from a server."""
    tags = re.findall(r"<(?:script|link|iframe|img|source)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>", page,
                      flags=re.I)
    css = re.findall(r"(?:@import|url\()\s*[\"']?(?:https?:)?//[^)\"';]*", page, flags=re.I)
    return tags + css


def test_offline_html_fetches_nothing() -> None:
    def notebook() -> nbformat.NotebookNode:
        return nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell("## Persistence\n\nThe estimate $\\hat{S}(t)$."),
            nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output(
                "display_data", data={"text/markdown": "share $p = d / n$", "text/plain": "x"})]),
        ])

    page = offline_html(notebook(), title="Offline")
    assert "<title>Offline</title>" in page and page.count('class="paceline-math"') == 2
    assert network_references(page) == [] and "<script" not in page
    assert "1 + 1" not in page  # code is hidden
    # The stock template would have fetched require.js and MathJax: the check above can fail.
    from nbconvert import HTMLExporter

    stock, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook())
    assert any("require" in reference for reference in network_references(stock))


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_cli_renders_a_many_cohort_day_offset_log_offline(tmp_path: Path) -> None:
    tables = write_log(tmp_path / "log")
    settings = tmp_path / "analytics.toml"
    settings.write_text(SETTINGS)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "analytics", "report", "--tables", str(tables), "--settings",
                          str(settings), "--to", str(tmp_path / "out"), "--as-of", "130"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    page = (tmp_path / "out" / "cohort_progress.html").read_text(encoding="utf-8")
    assert network_references(page) == [] and "<script" not in page
    visible = re.sub(r'src="data:image/[^"]+"', "", page)
    assert "<title>Module AAA</title>" in visible and "course day 130" in visible
    assert "Pass mark:</strong> 40% of a lesson" in visible and "gated lessons unlock at 60%" in visible
    assert "The course has ended" in visible and "1 submission from 1 student arrived after they withdrew" in visible
    assert re.search(r"<h2[^>]*>Cohorts compared", visible) and "One cohort in these tables" not in visible
    assert "2 withdrawn students" in visible and "a3 [2013J]" in visible
    assert page.count('class="paceline-math"') == 4
    assert not list((tmp_path / "out").glob("*.ipynb"))


def test_formulas_are_drawn_once_and_kept_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACELINE_CACHE_DIR")  # the tests' own (conftest): here, where a user's cache would be
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    drawn = math_svg(r"\hat{S}(t)")
    [kept] = (tmp_path / "paceline" / "math").glob("*.svg")
    assert base64.b64encode(kept.read_bytes()).decode() in drawn
    kept.write_bytes(b"<svg>kept</svg>")  # what the cache holds is what the page gets: nothing is drawn again
    assert base64.b64encode(b"<svg>kept</svg>").decode() in math_svg(r"\hat{S}(t)")
    monkeypatch.setenv("PACELINE_CACHE_DIR", str(tmp_path / "chosen"))  # a folder named for paceline alone
    math_svg(r"\hat{S}(t)")
    assert len(list((tmp_path / "chosen" / "math").glob("*.svg"))) == 1


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("PACELINE_CACHE_DIR", str(tmp_path / "not-a-folder"))
    assert 'class="paceline-math"' in math_svg("p = d / n")
    page = offline_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$x$")]), title="No cache")
    assert page.count('class="paceline-math"') == 1
