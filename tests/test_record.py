"""Recording a graded attempt: what reaches the ledger and the attempt's feedback folder (no kernels).

A student's earlier attempt is recorded without nbgrader's gradebook (which holds only the latest, see
test_pipeline_e2e and test_nbgrader_equivalence for that half), so these run on a bare folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import CourseConfig, GradingSettings, LatePolicy
from graders.errors import SubmissionError
from graders.exchange.ledger import CellScore, Ledger
from graders.grading.record import GradedAttempt, record_attempt
from graders.grading.task import CellResult, GradingOutcome

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 9, 20, 12, tzinfo=UTC)


@pytest.fixture
def course(tmp_path: Path) -> CourseConfig:
    return CourseConfig(
        root=tmp_path, id="c", title="C", timezone=ZoneInfo("UTC"), roster_path=tmp_path / "students.csv",
        source_dir=tmp_path / "course_source", exchange_root=tmp_path / "exchange", late_policy=LatePolicy(),
        grading=GradingSettings(),
    )


@pytest.fixture
def ledger(course: CourseConfig):
    with Ledger.open(course.layout.ledger_path) as opened:
        yield opened


def collected(ledger: Ledger):
    return ledger.add_attempt(student_id="ada", lesson_id="01-a", attempt=1, exchange_name="ada+01-a+1",
                              received_at=NOW - dt.timedelta(days=1), claimed_at=None, content_hash="h",
                              size_bytes=1, file_count=1)


def outcome(attempt_id: int, *, error: str | None = None) -> GradingOutcome:
    return GradingOutcome(
        attempt_id=attempt_id, lesson_id="01-a", student_id="ada", attempt=1, autograded=(("n.ipynb", b"{}"),),
        feedback=(("n.html", b"<p>well done</p>"),), score=2.0, max_score=3.0, late_penalty=0.5,
        cells=(CellResult("n", "test_a", 2.0, 2.0), CellResult("n", "test_b", 0.0, 1.0)), log="", error=error,
    )


def test_an_earlier_attempt_is_kept_in_the_ledger_with_its_feedback(course: CourseConfig, ledger: Ledger) -> None:
    attempt = collected(ledger)
    feedback = course.layout.attempt_feedback(student_id="ada", lesson_id="01-a", attempt=1)
    feedback.mkdir(parents=True)
    (feedback / "stale.html").write_text("from an earlier grading")
    graded = record_attempt(course, ledger, attempt, outcome(attempt.id), is_latest=False, due_at=None,
                            clock=SimulatedClock(NOW))
    assert graded == GradedAttempt(attempt, 2.0, 3.0, 0.5)
    stored = ledger.get(attempt.id)
    assert (stored.status, stored.score, stored.max_score, stored.late_penalty, stored.graded_at) == ("graded", 2.0, 3.0, 0.5, NOW)
    assert ledger.cell_scores(attempt.id) == [CellScore("n", "test_a", 2.0, 2.0), CellScore("n", "test_b", 0.0, 1.0)]
    assert sorted(p.name for p in feedback.iterdir()) == ["n.html"]  # regraded feedback replaces the old pages
    assert not course.layout.gradebook_path.exists() and not course.layout.autograded_dir.exists()


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (RuntimeError("worker lost"), "ada / 01-a / attempt 1: grading task failed: RuntimeError('worker lost')"),
        ("error", "ada / 01-a / attempt 1: nbgrader autograde failed: NameError"),
    ],
)
def test_a_failed_task_records_nothing(course: CourseConfig, ledger: Ledger, result, message: str) -> None:
    attempt = collected(ledger)
    if result == "error":
        result = outcome(attempt.id, error="nbgrader autograde failed: NameError")
    with pytest.raises(SubmissionError) as info:
        record_attempt(course, ledger, attempt, result, is_latest=True, due_at=None, clock=SimulatedClock(NOW))
    assert str(info.value) == message
    assert ledger.get(attempt.id).status == "collected"  # the caller marks it failed, with this reason
    assert not course.layout.state_dir.joinpath("feedback").exists()
