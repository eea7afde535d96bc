"""Same scores as nbgrader: paceline's sandboxed, parallel grading against plain serial nbgrader.

A fixture set of honest submissions to the fixture course (correct, partly
wrong, erroring, noisy on stderr, blank, late by one and by two started days,
and a lesson with a manually graded answer) goes through paceline's real
pipeline: students fetch and submit through nbgrader's exchange, paceline
collects each attempt (its receipt time decides lateness) and grades them all
with ``grade_attempts`` (sandboxed, two Dask worker processes). The very same
archived files are then graded by plain ``nbgrader autograde``, run as
nbgrader's own command line on a plain copy of the course with its own
gradebook: one process, one submission after another, kernels unsandboxed.
Its only paceline setting is the course's late policy, given to nbgrader
through its own late-submission plugin seam, so that penalties are comparable.

Every cell's score, manual-grading flag, total and late penalty must be equal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson
from graders.grading.grade import grade_attempts
from graders.grading.task import NBGRADER_TIMESTAMP_FORMAT
from graders.sandbox import check_sandbox

FIXTURES = Path(__file__).parent / "fixtures"
MISSING = check_sandbox()
UTC = dt.timezone.utc
BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING)),
    pytest.mark.timeout(600),
]

CORRECT = "def add(a, b):\n    return a + b\n"
INTEGERS_ONLY = "def add(a, b):\n    return int(a) + int(b)\n"

# (student, lesson, answers by grade id or None for blank, when paceline receives it)
ON_TIME = dt.datetime(2026, 9, 15, 12, tzinfo=UTC)
ONE_DAY_LATE = dt.datetime(2026, 9, 21, 8, tzinfo=UTC)  # ~10 h after 2026-09-20 23:59:59 Berlin
TWO_DAYS_LATE = dt.datetime(2026, 9, 22, 12, tzinfo=UTC)  # ~38 h after
SUBMISSIONS = [
    ("correct", "01-add", {"add": CORRECT}, ON_TIME),
    ("partly_wrong", "01-add", {"add": INTEGERS_ONLY}, ON_TIME),
    ("erroring", "01-add", {"add": "def add(a, b):\n    return a + undefined_total\n"}, ON_TIME),
    # Right answers, but a debug print on stderr: nbgrader scores a test cell with stderr 0.
    ("noisy_stderr", "01-add", {"add": "import sys\ndef add(a, b):\n    print('adding', a, b, file=sys.stderr)\n    return a + b\n"}, ON_TIME),
    ("blank", "01-add", None, ON_TIME),
    ("late_one_day", "01-add", {"add": INTEGERS_ONLY}, ONE_DAY_LATE),
    ("late_two_days", "01-add", {"add": CORRECT}, TWO_DAYS_LATE),
    ("correct", "02-words", {"count_words": "def count_words(text):\n    return len(text.split())\n",
                             "explain_split": "split() merges runs of spaces."}, ON_TIME),
    ("blank", "02-words", None, ON_TIME),
]


def answer(notebook: Path, answers: dict[str, str]) -> None:
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    notebook.write_text(json.dumps(nb))


def gradebook_scores(db: Path, course_id: str) -> dict[tuple[str, str], dict]:
    """Per (student, lesson): each cell's (autograded score, score, needs manual grade), the total and the late penalty."""
    scores = {}
    with Gradebook(f"sqlite:///{db}", course_id=course_id) as gb:
        for lesson in ("01-add", "02-words"):
            for submission in gb.find_assignment(lesson).submissions:
                scores[(submission.student.id, lesson)] = {
                    "cells": {(n.name, g.name): (g.auto_score, g.score, g.needs_manual_grade)
                              for n in submission.notebooks for g in n.grades},
                    "score": submission.score,
                    "max_score": submission.max_score,
                    "late_penalty": submission.late_submission_penalty,
                }
    return scores


def graded_by_paceline(root: Path) -> tuple[object, SimulatedClock]:
    course = load_course(root)
    with course.roster_path.open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in sorted({s for s, *_ in SUBMISSIONS}))
    course = load_course(root)
    assert release_lessons(course).problems == []
    clock = SimulatedClock(ON_TIME)
    for received in sorted({at for *_, at in SUBMISSIONS}):
        for student, lesson, answers, at in SUBMISSIONS:
            if at != received:
                continue
            home = root.parent / "homes" / student
            home.mkdir(parents=True, exist_ok=True)
            ws = StudentWorkspace(student, home, course.id, course.exchange_root)
            notebook = next(fetch_lesson(ws, lesson).glob("*.ipynb"))
            if answers:
                answer(notebook, answers)
            submit_lesson(ws, lesson, clock=SimulatedClock(at - dt.timedelta(minutes=1)))
        clock.advance_to(received)
        assert collect_submissions(course, clock=clock).problems == []
    report = grade_attempts(course, workers=2, clock=clock)  # sandboxed: the default
    assert report.problems == [] and len(report.graded) == len(SUBMISSIONS)
    return course, clock


def plain_nbgrader_course(course, plain: Path) -> None:
    """A plain nbgrader course holding the same lessons and the very files paceline graded."""
    (plain / "source").mkdir(parents=True)
    for lesson in ("01-add", "02-words"):
        shutil.copytree(course.source_dir / lesson, plain / "source" / lesson)
    policy = course.late_policy
    (plain / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(plain)!r}\n"
        f"c.CourseDirectory.course_id = {course.id!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{plain / 'gradebook.db'}'\n"
        f"c.Execute.timeout = {course.grading.timeout}\n"
        "c.AssignLatePenalties.plugin_class = 'graders.grading.lateness.CourseLatePolicy'\n"
        f"c.CourseLatePolicy.method = {policy.method!r}\n"
        f"c.CourseLatePolicy.per_day = {policy.per_day!r}\n"
        f"c.CourseLatePolicy.cap = {policy.cap!r}\n"
    )
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = ledger.attempts()
    for attempt in attempts:
        dest = plain / "submitted" / attempt.student_id / attempt.lesson_id
        shutil.copytree(course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                                    attempt=attempt.attempt), dest)
        (dest / "timestamp.txt").write_text(attempt.submitted_at.astimezone(UTC).strftime(NBGRADER_TIMESTAMP_FORMAT))


def nbgrader(plain: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")  # nbgrader runs `alembic`
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=plain, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def test_paceline_scores_equal_plain_serial_nbgrader(tmp_path: Path) -> None:
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", root)
    course, _ = graded_by_paceline(root)

    plain = tmp_path / "plain"
    plain_nbgrader_course(course, plain)
    for lesson in ("01-add", "02-words"):
        # The due date course.toml states (the end of the due day in the course's timezone), as nbgrader takes it.
        due = course.lesson(lesson).due_at.astimezone(UTC)
        nbgrader(plain, "db", "assignment", "add", lesson, f"--duedate={due.strftime('%Y-%m-%d %H:%M:%S.%f')} UTC")
        nbgrader(plain, "generate_assignment", lesson, "--force")
        nbgrader(plain, "autograde", lesson)  # every student, one after another, in one process

    expected = gradebook_scores(plain / "gradebook.db", course.id)
    actual = gradebook_scores(course.layout.gradebook_path, course.id)
    assert set(expected) == {(s, lesson) for s, lesson, *_ in SUBMISSIONS}
    for key in sorted(expected):
        assert actual[key] == expected[key], key

    # The fixture set exercises what it claims: full, partial, zero, manual, and two penalties.
    totals = {key: (v["score"], v["late_penalty"]) for key, v in expected.items()}
    assert totals[("correct", "01-add")] == (3.0, 0.0)
    assert totals[("partly_wrong", "01-add")] == (1.0, 0.0)
    assert totals[("erroring", "01-add")] == totals[("noisy_stderr", "01-add")] == totals[("blank", "01-add")] == (0.0, 0.0)
    assert totals[("late_one_day", "01-add")] == (1.0, 0.25)
    assert totals[("late_two_days", "01-add")] == (3.0, 1.5)
    assert expected[("correct", "02-words")]["cells"][("words", "explain_split")] == (None, 0.0, True)

    # paceline's own record of each attempt (its ledger) agrees too.
    with Ledger.open(course.layout.ledger_path) as ledger:
        for attempt in ledger.attempts():
            want = expected[(attempt.student_id, attempt.lesson_id)]
            assert (attempt.status, attempt.score, attempt.late_penalty) == ("graded", want["score"], want["late_penalty"])
            cells = {(c.notebook, c.grade_id): c.score for c in ledger.cell_scores(attempt.id)}
            # A cell still waiting for a teacher's marks has no score yet in the ledger, where nbgrader's
            # Grade.score reads 0.0 until someone marks it (so it is exported empty, never 0).
            assert cells == {cell: None if waiting else score for cell, (_, score, waiting) in want["cells"].items()}
