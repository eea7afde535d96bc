"""Writing progress documents into students' personal folders: atomically, privately, one failure at a time."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest

from graders.course.clock import SimulatedClock
from graders.course.layout import PERSONAL_FEEDBACK, PROGRESS_DOCUMENT
from graders.course.plan import load_course
from graders.exchange.ledger import Ledger
from graders.exchange.personal_folder import read_personal_file, write_personal_file
from graders.operations.progress_files import build_student_document, refresh_progress_documents

NOW = dt.datetime(2026, 9, 16, 10, 0, tzinfo=dt.timezone.utc)


def _course_with_work(fixture_course: Path):
    course = load_course(fixture_course)
    with Ledger.open(course.layout.ledger_path) as ledger:
        ledger.record_release(lesson_id="01-add", source_hash="h", at=NOW - dt.timedelta(days=9))
        attempt = ledger.add_attempt(student_id="ada", lesson_id="01-add", attempt=1, exchange_name="ada+01-add+t+1",
                                     received_at=NOW - dt.timedelta(days=4), claimed_at=None, content_hash="c",
                                     size_bytes=1, file_count=1)
        ledger.record_grade(attempt.id, score=2.0, max_score=3.0, late_penalty=0.0, graded_at=NOW - dt.timedelta(days=4),
                            cells=[])
    return course


def test_every_student_gets_the_document_status_builds(fixture_course: Path) -> None:
    course = _course_with_work(fixture_course)
    report = refresh_progress_documents(course, clock=SimulatedClock(NOW))
    assert (report.written, report.unchanged, report.problems) == (["ada", "brook", "cyd"], 0, [])
    for student in ("ada", "brook", "cyd"):
        path = course.layout.exchange.progress_document(student)
        assert json.loads(path.read_text()) == build_student_document(course, student, as_of=NOW)
        assert stat.S_IMODE(path.parent.stat().st_mode) in (0o700, 0o500)  # the folder keeps everyone else out
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    ada = json.loads(course.layout.exchange.progress_document("ada").read_text())
    assert [(lesson["id"], lesson["state"], lesson["grade_score"], lesson["max_score"]) for lesson in ada["lessons"]] == [
        ("01-add", "passed", 2.0, 3.0), ("02-words", "not_open", None, None)]
    assert stat.S_IMODE(course.layout.exchange.personal_dir.stat().st_mode) == 0o711  # nobody lists the others


def test_an_unchanged_document_is_not_rewritten_and_a_changed_one_is(fixture_course: Path) -> None:
    course = _course_with_work(fixture_course)
    refresh_progress_documents(course, clock=SimulatedClock(NOW))
    path = course.layout.exchange.progress_document("ada")
    before = path.stat().st_ino
    again = refresh_progress_documents(course, clock=SimulatedClock(NOW + dt.timedelta(minutes=1)))
    assert (again.written, again.unchanged) == ([], 3)
    assert path.stat().st_ino == before
    with Ledger.open(course.layout.ledger_path) as ledger:
        ledger.add_attempt(student_id="ada", lesson_id="01-add", attempt=2, exchange_name="ada+01-add+t+2",
                           received_at=NOW, claimed_at=None, content_hash="d", size_bytes=1, file_count=1)
    changed = refresh_progress_documents(course, clock=SimulatedClock(NOW + dt.timedelta(minutes=2)))
    assert changed.written == ["ada"]
    assert json.loads(path.read_text())["lessons"][0]["state"] == "submitted"


def test_one_students_broken_folder_stops_nobody_elses(fixture_course: Path) -> None:
    course = _course_with_work(fixture_course)
    personal = course.layout.exchange.personal_dir
    personal.mkdir(parents=True)
    (personal / "brook").write_text("not a folder")
    report = refresh_progress_documents(course, clock=SimulatedClock(NOW))
    assert report.written == ["ada", "cyd"]
    [problem] = report.problems
    assert str(problem).startswith("brook: progress document not written: ")


def test_a_link_planted_in_a_personal_folder_is_never_followed(tmp_path: Path) -> None:
    mine = tmp_path / "personal" / "ada"
    mine.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, mine / PERSONAL_FEEDBACK)
    with pytest.raises(OSError):
        write_personal_file(mine, [PERSONAL_FEEDBACK, "01-add", "1", "add.html"], b"page")
    assert list(outside.iterdir()) == []
    (outside / "secret").write_text("root's")
    os.symlink(outside / "secret", mine / PROGRESS_DOCUMENT)
    with pytest.raises(OSError):
        read_personal_file(mine, [PROGRESS_DOCUMENT])
    write_personal_file(mine, [PROGRESS_DOCUMENT], b"{}")  # replaces the link itself
    assert (outside / "secret").read_text() == "root's" and (mine / PROGRESS_DOCUMENT).read_bytes() == b"{}"


def test_a_course_without_a_roster_yet_has_no_document_to_write(fixture_course: Path) -> None:
    # A new course releases before anyone enrols (and `make demo` releases before it simulates a cohort).
    course = load_course(fixture_course)
    course.roster_path.unlink()
    report = refresh_progress_documents(course, clock=SimulatedClock(NOW))
    assert (report.written, report.unchanged, report.problems) == ([], 0, [])
