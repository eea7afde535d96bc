"""Fetch Feedback puts each attempt's pages in `feedback/attempt-N (local time)/`; nbgrader's own list still sees them.

Real nbgrader exchange apps (release, list, submit, fetch_feedback), no kernel: grades are recorded directly.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from graders.course.clock import SimulatedClock
from graders.course.layout import personal_feedback_parts
from graders.course.plan import load_course
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.personal import attempt_folder_names
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, _app, fetch_feedback, fetch_lesson, submit_lesson
from graders.feedback.release import release_attempt_feedback
from graders.operations.progress_files import refresh_progress_documents

SUBMITTED = dt.datetime(2026, 9, 16, 12, 0, 5, 123456, tzinfo=dt.timezone.utc)  # 14:00 in Berlin


def _grade(course, attempt_number: int, page: str) -> None:
    """What grading leaves behind for one attempt: its score in the ledger and its feedback page."""
    with Ledger.open(course.layout.ledger_path) as ledger:
        [attempt] = [a for a in ledger.attempts(student_ids=["ada"]) if a.attempt == attempt_number]
        ledger.record_grade(attempt.id, score=3.0, max_score=3.0, late_penalty=0.0, graded_at=attempt.received_at, cells=[])
    folder = course.layout.attempt_feedback(student_id="ada", lesson_id="01-add", attempt=attempt_number)
    folder.mkdir(parents=True)
    (folder / "add.html").write_text(page)


def test_fetched_feedback_is_named_by_attempt_and_local_time(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    release_lessons(course, lesson_ids=["01-add"])
    ada = StudentWorkspace("ada", fixture_course.parent / "homes" / "ada", course.id, course.exchange_root)
    ada.home.mkdir(parents=True)
    fetch_lesson(ada, "01-add")
    for number, submitted in ((1, SUBMITTED), (2, SUBMITTED + dt.timedelta(hours=1))):
        stamp = submit_lesson(ada, "01-add", clock=SimulatedClock(submitted))
        clock = SimulatedClock(submitted + dt.timedelta(minutes=2))
        assert len(collect_submissions(course, clock=clock).collected) == 1
        _grade(course, number, f"<html>feedback {number}</html>")
        assert release_attempt_feedback(course).problems == []
        assert refresh_progress_documents(course, clock=clock).problems == []
        pages = fetch_feedback(ada, "01-add")
        folder = ada.feedback_dir("01-add") / f"attempt-{number} ({submitted + dt.timedelta(hours=2):%Y-%m-%d %H}-02)"
        assert (folder / "add.html").read_text() == f"<html>feedback {number}</html>"
        assert folder / "add.html" in pages and len(pages) == number  # each page once: links are not walked
        # nbgrader's own name is a link to it, so its list sees the feedback as fetched.
        assert os.readlink(ada.feedback_dir("01-add") / stamp) == folder.name
    # Collection kept each attempt's notebook, as submitted, for the student's Review.
    for number in (1, 2):
        kept = course.layout.exchange.personal_submission("ada", lesson_id="01-add", attempt=number) / "add.ipynb"
        assert kept.read_bytes() == (course.layout.attempt_dir(student_id="ada", lesson_id="01-add", attempt=number)
                                     / "add.ipynb").read_bytes()
    # Feedback released before the students' folders held it gets its copy there; nothing goes out again.
    personal = course.layout.exchange.personal_feedback("ada", lesson_id="01-add", attempt=1)
    shutil.rmtree(personal)
    again = release_attempt_feedback(course)
    assert (again.released, again.personal_copies, again.problems) == ({}, 1, [])
    assert (personal / "add.html").read_text() == "<html>feedback 1</html>"
    assert release_attempt_feedback(course).personal_copies == 0
    listing = _app(ada, "List", lesson_id="01-add")
    listing.cached = True  # the submitted list, as the Assignments panel asks for it
    [lesson] = listing.start()
    notebooks = [nb for submission in lesson["submissions"] for nb in submission["notebooks"]]
    assert len(notebooks) == 2 and all(nb["has_local_feedback"] and not nb["feedback_updated"] for nb in notebooks)


def test_without_a_progress_document_the_folder_keeps_nbgraders_name() -> None:
    stamp = "2026-09-16 12:00:05.123456 UTC"
    assert attempt_folder_names(None, lesson_id="01-add", timestamps={stamp}) == {}
    document = {"lessons": [{"id": "01-add", "attempts": [
        {"number": 4, "claimed_at": "2026-09-16T14:00:05.123456+02:00", "received_at": "2026-09-16T14:02:00+02:00"},
        {"number": 5, "claimed_at": "not a time", "received_at": "2026-09-16T15:00:00+02:00"}]}]}
    assert attempt_folder_names(document, lesson_id="01-add", timestamps={stamp, "2026-09-17 09:00:00.000000 UTC"}) == {
        stamp: "attempt-4 (2026-09-16 14-02)"}
    assert attempt_folder_names(document, lesson_id="02-words", timestamps={stamp}) == {}


def test_an_imported_attempt_without_a_secret_gets_its_feedback_in_the_students_own_folder(fixture_course: Path) -> None:
    """Older nbgrader kept no submission_secret.txt: nbgrader's Fetch Feedback cannot name such a page, so it
    goes to the student's own folder alone; a collected attempt without one is still refused."""
    course = load_course(fixture_course)
    with Ledger.open(course.layout.ledger_path) as ledger:
        for attempt, origin in ((1, "imported"), (2, "collected")):
            ledger.add_attempt(student_id="ada", lesson_id="01-add", attempt=attempt, exchange_name=f"{origin}-{attempt}",
                               received_at=SUBMITTED, claimed_at=None, content_hash="0" * 64, size_bytes=1,
                               file_count=1, origin=origin)
    _grade(course, 1, "<html>imported feedback</html>")
    _grade(course, 2, "<html>collected feedback</html>")
    report = release_attempt_feedback(course)
    assert report.released == {"01-add": 1}
    assert [str(problem) for problem in report.problems] == [
        "ada / 01-add / attempt 2: feedback not released: no submission_secret.txt in the submission: "
        "nbgrader cannot match feedback to it"]
    mine = course.layout.exchange.personal("ada").joinpath(*personal_feedback_parts("01-add", 1), "add.html")
    assert mine.read_text() == "<html>imported feedback</html>"
    assert list(course.layout.exchange.feedback.iterdir()) == []  # nothing under a name nbgrader would look for
