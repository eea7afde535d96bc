"""The attempt ledger on its own: a small SQLite file, no course, no nbgrader."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from graders.course.timeline import Extension
from graders.exchange.ledger import CellScore, Ledger

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 9, 8, 12, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger.open(tmp_path / "state" / "ledger.db") as opened:
        yield opened


def add(ledger: Ledger, student: str, lesson: str, *, at: dt.datetime = T0, name: str | None = None):
    number = ledger.next_attempt_number(student, lesson)
    return ledger.add_attempt(
        student_id=student, lesson_id=lesson, attempt=number, exchange_name=name or f"{student}+{lesson}+{number}",
        received_at=at, claimed_at=at - dt.timedelta(days=3), content_hash="h", size_bytes=10, file_count=2,
    )


def test_attempts_are_numbered_per_student_and_lesson_and_listed_in_order(ledger: Ledger) -> None:
    add(ledger, "bo", "02-b")
    first, second = add(ledger, "ada", "02-b"), add(ledger, "ada", "02-b", at=T0 + dt.timedelta(hours=1))
    add(ledger, "ada", "01-a")
    assert (first.attempt, second.attempt, first.status) == (1, 2, "collected")
    assert [(a.lesson_id, a.student_id, a.attempt) for a in ledger.attempts()] == [
        ("01-a", "ada", 1), ("02-b", "ada", 1), ("02-b", "ada", 2), ("02-b", "bo", 1)]
    assert [a.attempt for a in ledger.attempts(lesson_ids=["02-b"], student_ids=["ada"])] == [1, 2]
    assert ledger.attempts(student_ids=[]) == []
    # The receipt time counts, never the student's claim.
    assert second.submitted_at == T0 + dt.timedelta(hours=1) and second.claimed_at == T0 - dt.timedelta(days=3, hours=-1)


def test_an_inbound_folder_is_collected_once(ledger: Ledger) -> None:
    add(ledger, "ada", "01-a", name="ada+01-a+stamp+x")
    with pytest.raises(sqlite3.IntegrityError):
        add(ledger, "ada", "01-a", name="ada+01-a+stamp+x")
    ledger.add_rejection(exchange_name="eve+01-a+stamp+y", student_id="eve", lesson_id="01-a", received_at=T0, reason="a link")
    ledger.add_rejection(exchange_name="eve+01-a+stamp+y", student_id="eve", lesson_id="01-a", received_at=T0, reason="again")
    assert ledger.known_exchange_names() == {"ada+01-a+stamp+x", "eve+01-a+stamp+y"}
    assert ledger.rejections(student_id="eve") == [("eve+01-a+stamp+y", "eve", "01-a", T0, "a link")]
    assert ledger.rejections(student_id="ada") == []


def test_grades_failures_and_manual_rescoring(ledger: Ledger) -> None:
    attempt = add(ledger, "ada", "01-a")
    cells = [CellScore("n", "test_b", 1.0, 2.0), CellScore("n", "test_a", None, 1.0)]
    ledger.record_grade(attempt.id, score=1.0, max_score=3.0, late_penalty=0.5, graded_at=T0, cells=cells)
    graded = ledger.get(attempt.id)
    assert (graded.status, graded.score, graded.max_score, graded.late_penalty, graded.graded_at) == ("graded", 1.0, 3.0, 0.5, T0)
    assert ledger.cell_scores(attempt.id) == sorted(cells, key=lambda c: c.grade_id)
    ledger.record_grade(attempt.id, score=2.0, max_score=3.0, late_penalty=0.0, graded_at=T0, cells=cells[:1])
    assert ledger.cell_scores(attempt.id) == cells[:1]  # a regrade replaces the cells
    ledger.update_score(attempt.id, score=3.0, late_penalty=0.0)  # formgrader's manual grade
    assert ledger.get(attempt.id).score == 3.0

    other = add(ledger, "bo", "01-a")
    ledger.update_score(other.id, score=3.0, late_penalty=0.0)  # only graded attempts are rescored
    ledger.record_failure(other.id, error="nbgrader autograde failed: boom", graded_at=T0)
    failed = ledger.get(other.id)
    assert (failed.status, failed.score, failed.error) == ("failed", None, "nbgrader autograde failed: boom")
    assert [a.student_id for a in ledger.attempts(statuses=["graded"])] == ["ada"]


def test_the_latest_extension_is_in_force_and_every_grant_is_kept(ledger: Ledger) -> None:
    first = Extension("ada", "01-a", T0 + dt.timedelta(days=2), "tina", T0, "ill")
    second = Extension("ada", "01-a", T0 + dt.timedelta(days=5), "tina", T0 + dt.timedelta(hours=1), "still ill")
    ledger.add_extension(first)
    ledger.add_extension(second)
    assert ledger.extensions() == {("ada", "01-a"): second}
    assert ledger.extension_history("ada") == [first, second]
    assert ledger.extension_history("bo") == []


def test_unlocks_releases_and_feedback_digests(ledger: Ledger) -> None:
    ledger.add_unlock(student_id="ada", lesson_id="02-b", at=T0)
    ledger.add_unlock(student_id="ada", lesson_id="02-b", at=T0 + dt.timedelta(days=1))  # the first unlock stands
    assert ledger.unlocks() == {("ada", "02-b"): T0}
    assert ledger.release_hash("01-a") is None
    ledger.record_release(lesson_id="01-a", source_hash="abc", at=T0)
    ledger.record_release(lesson_id="01-a", source_hash="def", at=T0)
    assert ledger.release_hash("01-a") == "def"
    attempt = add(ledger, "ada", "01-a")
    ledger.mark_feedback_released(attempt.id, digest="d1")
    assert ledger.get(attempt.id).feedback_digest == "d1"


def test_naive_times_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        add(ledger, "ada", "01-a", at=dt.datetime(2026, 9, 8))


def test_a_ledger_from_an_older_paceline_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as db:  # the attempts table before feedback digests existed
        db.execute("CREATE TABLE attempts (id INTEGER PRIMARY KEY, student_id TEXT NOT NULL, lesson_id TEXT NOT NULL,"
                   " attempt INTEGER NOT NULL, exchange_name TEXT NOT NULL UNIQUE, received_at TEXT NOT NULL,"
                   " claimed_at TEXT, content_hash TEXT NOT NULL, size_bytes INTEGER NOT NULL,"
                   " file_count INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'collected', score REAL,"
                   " max_score REAL, late_penalty REAL, graded_at TEXT, error TEXT)")
    with Ledger.open(path) as ledger:
        attempt = add(ledger, "ada", "01-a")
        assert attempt.feedback_digest is None
