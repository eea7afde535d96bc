"""Release by date, early on purpose, and taken back: what reaches the exchange, what is said, what
release --due and watch do afterwards (real nbgrader generate/release; no kernels)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.errors import PacelineError
from graders.exchange.ledger import CellScore, Ledger
from graders.exchange.release import HeldBack, release_due_lessons, release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson
from graders.exchange.unrelease import unrelease_lesson

UTC = dt.timezone.utc
BETWEEN = SimulatedClock(dt.datetime(2026, 9, 10, 12, tzinfo=UTC))  # 01-add has opened, 02-words opens 09-14
LATER = SimulatedClock(dt.datetime(2026, 9, 20, 12, tzinfo=UTC))  # both have
PACELINE = str(Path(sys.executable).parent / "paceline")


def outbound(course) -> list[str]:
    folder = course.layout.exchange.outbound
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_release_publishes_only_lessons_that_have_opened_and_now_publishes_one_early(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace("opens = 2026-09-14T09:00:00", "opens = 2099-09-14T09:00:00")
                    .replace("target = 2026-09-20", "target = 2099-09-20").replace("due = 2026-09-27", "due = 2099-09-27"))
    course = load_course(fixture_course)
    result = subprocess.run([PACELINE, "release"], cwd=fixture_course, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "80"}, timeout=300)
    assert result.returncode == 0, result.stderr
    # Held back, with when it opens in the course's time zone and how to publish it anyway.
    assert "01-add" in result.stdout and "02-words opens 2099-09-14 09:00 CEST" in result.stdout
    assert "--now LESSON" in result.stdout
    assert outbound(course) == ["01-add"]
    # Naming a lesson does not publish it before it opens; --now does, and alone publishes only it.
    named = release_lessons(course, lesson_ids=["02-words"], clock=BETWEEN)
    assert named.released == [] and named.held_back == [HeldBack("02-words", course.lesson("02-words").opens_at)]
    early = release_lessons(course, early=["02-words"], clock=BETWEEN)
    assert [r.lesson_id for r in early.released] == ["02-words"] and early.held_back == []
    assert outbound(course) == ["01-add", "02-words"]


def test_unrelease_takes_a_lesson_back_says_who_submitted_it_and_stays_back_until_named(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    release_lessons(course, clock=LATER)
    ws = StudentWorkspace("ada", fixture_course.parent / "homes" / "ada", course.id, course.exchange_root)
    ws.home.mkdir(parents=True)
    fetch_lesson(ws, "01-add")
    submit_lesson(ws, "01-add")

    report = unrelease_lesson(course, lesson_id="01-add", by="tina", clock=LATER)
    assert report.from_outbound and report.personal_copies == () and report.submitted == ("ada",)
    assert outbound(course) == ["02-words"]
    assert (ws.lesson_dir("01-add") / "add.ipynb").exists()  # a fetched copy is the student's: not recalled
    with Ledger.open(course.layout.ledger_path) as ledger:
        [withdrawal] = ledger.withdrawals().values()
    assert (withdrawal.lesson_id, withdrawal.withdrawn_by, withdrawal.withdrawn_at) == ("01-add", "tina", LATER.now())
    with pytest.raises(PacelineError, match=r"01-add is not in the exchange \(taken back on 2026-09-20 14:00 CEST by tina\)"):
        unrelease_lesson(course, lesson_id="01-add", clock=LATER)

    # Neither cron's release --due nor a plain release puts it back; naming it does.
    due = release_due_lessons(course, clock=LATER)
    assert due.released == [] and due.withdrawn == ["01-add"] and outbound(course) == ["02-words"]
    plain = release_lessons(course, clock=LATER)
    assert [r.lesson_id for r in plain.released] == ["02-words"] and plain.withdrawn == ["01-add"]
    again = release_lessons(course, lesson_ids=["01-add"], clock=LATER)
    assert [r.lesson_id for r in again.released] == ["01-add"] and outbound(course) == ["01-add", "02-words"]
    with Ledger.open(course.layout.ledger_path) as ledger:
        assert ledger.withdrawals() == {}


def test_unrelease_of_a_gated_lesson_removes_personal_copies_and_they_come_back_with_a_release(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace('id = "02-words"', 'id = "02-words"\nrequires = ["01-add"]'))
    course = load_course(fixture_course)
    with Ledger.open(course.layout.ledger_path) as ledger:  # ada passed 01-add
        attempt = ledger.add_attempt(student_id="ada", lesson_id="01-add", attempt=1, exchange_name="ada+01-add+x",
                                     received_at=LATER.now(), claimed_at=None, content_hash="h", size_bytes=1, file_count=1)
        ledger.record_grade(attempt.id, score=3, max_score=3, late_penalty=0, graded_at=LATER.now(),
                            cells=[CellScore("add.ipynb", "test_add", 3, 3)])
    report = release_lessons(course, clock=LATER)
    assert report.unlocked == [("ada", "02-words")]
    personal = course.layout.exchange.personal("ada") / "02-words"
    assert personal.is_dir() and outbound(course) == ["01-add"]

    # brook (who owns his folder) planted a link where a lesson would be: it goes, what it points at stays.
    precious = fixture_course.parent / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    brook = course.layout.exchange.personal("brook")
    brook.mkdir()
    (brook / "02-words").symlink_to(precious)

    taken = unrelease_lesson(course, lesson_id="02-words", clock=LATER)
    assert not taken.from_outbound and taken.personal_copies == ("ada", "brook") and taken.submitted == ()
    assert not personal.exists() and not (brook / "02-words").is_symlink()
    assert (precious / "keep.txt").read_text() == "mine"
    assert release_due_lessons(course, clock=LATER).unlocked == [] and not personal.exists()
    assert release_lessons(course, lesson_ids=["02-words"], clock=LATER).unlocked == [("ada", "02-words")]
    assert personal.is_dir()
