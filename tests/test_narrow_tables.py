"""paceline's tables on an 80-column terminal: ids and dates whole, never cut to `2026-…` (rendered by rich
at width 80; no kernels)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from rich.console import Console

import graders.cli
import graders.terminal
from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.exchange.ledger import CellScore, Ledger
from graders.grading.lateness import grant_extension

BERLIN = ZoneInfo("Europe/Berlin")
LONG_ID = "02-counting-words"


@pytest.fixture
def long_ids(fixture_course: Path) -> Path:
    """The fixture course with a longer lesson id, an extension to a time of day and a graded attempt."""
    (fixture_course / "course_source" / "02-words").rename(fixture_course / "course_source" / LONG_ID)
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace('"02-words"', f'"{LONG_ID}"'))
    course = load_course(fixture_course)
    grant_extension(course, student_id="ada", lesson_id=LONG_ID, reason="ill",
                    until=dt.datetime(2026, 10, 1, 17, 30, tzinfo=BERLIN), clock=SimulatedClock(dt.datetime(2026, 9, 20, tzinfo=BERLIN)))
    received = dt.datetime(2026, 9, 29, 21, 45, tzinfo=BERLIN)
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempt = ledger.add_attempt(student_id="ada", lesson_id=LONG_ID, attempt=1, exchange_name="ada+x",
                                     received_at=received, claimed_at=received - dt.timedelta(minutes=3),
                                     content_hash="h", size_bytes=1, file_count=1)
        ledger.record_grade(attempt.id, score=2, max_score=3, late_penalty=0, graded_at=received, cells=[CellScore("words.ipynb", "t", 2, 3)])
    return fixture_course


def render(course_dir: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> str:
    screen = io.StringIO()
    console = Console(width=80, file=screen, color_system=None)
    # The commands' own lines, in every module of commands:
    for commands in (graders.cli.authoring, graders.cli.pipeline, graders.cli.progress, graders.cli.service):
        monkeypatch.setattr(commands, "out", console)
    monkeypatch.setattr(graders.terminal, "out", console)  # the tables and status views
    result = CliRunner().invoke(graders.cli.main, ["--course", str(course_dir), *args])
    assert result.exit_code == 0, result.output
    text = screen.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    return text


def test_a_students_tables_keep_ids_and_dates_whole_in_80_columns(long_ids: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = render(long_ids, "status", "ada", "--as-of", "2026-10-05", monkeypatch=monkeypatch)
    rows = [line for line in text.splitlines() if LONG_ID in line]
    assert len(rows) >= 2  # its lesson row and its attempt, each with the whole id
    assert "2026-10-01 17:30" in text  # the due date it was extended to, with its time
    assert "2026-09-29 21:45" in text  # the attempt's receipt time


def test_the_cohort_tables_keep_ids_and_dates_whole_and_say_which_late_they_mean(
    long_ids: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = render(long_ids, "status", "--as-of", "2026-10-05", monkeypatch=monkeypatch)
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith(("01-add", LONG_ID))}
    assert rows["01-add"][1] == "2026-09-13" and rows[LONG_ID][1] == "2026-09-20"
    assert "after" in text and "First submissions by / after each student's target date (pacing, not" in text
