"""An nbgrader course with history, imported and graded: plain nbgrader's scores survive the import, and
paceline's sandboxed grading of the imported attempts gives the same scores as plain nbgrader on the lessons
that need nothing from the course environment (basics: a raises-exception demo cell and a manually graded
answer; reads-data: a data file). Then the teacher-graded cell still waiting for marks: exported empty, shown
by ``paceline status``."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from nbgrader.api import Gradebook

from graders.cli import main
from graders.course.plan import load_course
from graders.exchange.ledger import Ledger
from graders.grading.grade import grade_attempts
from graders.operations.export import export_tables
from graders.operations.nbimport import import_nbgrader_course
from graders.operations.status import student_status
from graders.sandbox import check_sandbox

MISSING = check_sandbox()
BIN = Path(sys.executable).parent
LESSONS = ("basics", "reads-data")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING)),
    pytest.mark.timeout(600),
]


def scores(db: Path) -> dict[tuple[str, str], dict]:
    found = {}
    with Gradebook(f"sqlite:///{db}", course_id="databasics") as gb:
        for lesson in LESSONS:
            for submission in gb.find_assignment(lesson).submissions:
                found[(submission.student.id, lesson)] = {
                    "cells": {(n.name, g.name): (g.auto_score, g.score, g.needs_manual_grade)
                              for n in submission.notebooks for g in n.grades},
                    "score": submission.score, "late_penalty": submission.late_submission_penalty,
                }
    return found


def test_imported_history_keeps_nbgrader_grades_and_regrades_to_the_same_scores(nbgrader_course: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for lesson in LESSONS:  # plain nbgrader, its own command line and nbgrader_config.py, in the nbgrader course
        subprocess.run([str(BIN / "nbgrader"), "autograde", lesson, "--force"], cwd=nbgrader_course, env=env,
                       check=True, capture_output=True)
    plain = scores(nbgrader_course / "gradebook.db")
    assert len(plain) == 6
    assert plain[("alice", "basics")]["cells"][("basics", "test_add")][0] == 2.0  # the demo cell's error is expected
    assert plain[("bob", "basics")]["cells"][("basics", "test_add")][0] == 0.0
    assert plain[("alice", "basics")]["cells"][("basics", "explain")][2] is True  # awaiting the teacher

    report = import_nbgrader_course(nbgrader_course, into=tmp_path / "pyda")
    assert report.problems == [] and (report.attempts, report.grades_kept) == (11, 6)
    course = load_course(tmp_path / "pyda")
    assert scores(course.layout.gradebook_path) == plain  # the old gradebook's grades are kept
    with Ledger.open(course.layout.ledger_path) as ledger:
        kept = {(a.student_id, a.lesson_id): (a.status, a.score) for a in ledger.attempts(lesson_ids=list(LESSONS))}
    assert kept == {key: ("graded", value["score"]) for key, value in plain.items()}
    assert (course.layout.autograded(student_id="alice", lesson_id="basics") / "basics.ipynb").is_file()  # for formgrader

    # Regraded by paceline: sandboxed, in parallel, from the imported attempts at their recorded times.
    graded = grade_attempts(course, lesson_ids=list(LESSONS), regrade=True, workers=2)
    assert graded.problems == [] and len(graded.graded) == 6
    assert scores(course.layout.gradebook_path) == plain

    # A teacher marks alice's answer in formgrader; bob's and carol's still wait.
    with Gradebook(course.layout.gradebook_url, course_id=course.id) as gb:
        grade = gb.find_grade("explain", "basics", "basics", "alice")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    result = export_tables(course)
    with (result.directory / "grades_nbgrader.csv").open(newline="") as fh:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(fh)}
    assert list(next(iter(rows.values()))) == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                                               "email", "raw_score", "late_submission_penalty", "score", "max_score"]
    alice = rows[("basics", "alice")]
    assert (alice["raw_score"], alice["score"], alice["max_score"]) == ("3.0", "3.0", "3.0")
    assert (alice["duedate"], alice["timestamp"], alice["last_name"]) == ("2026-03-06 22:59:59", "2026-03-05 10:00:00", "Archer")
    assert (rows[("basics", "bob")]["raw_score"], rows[("basics", "bob")]["score"]) == ("", "")  # awaiting: empty, not 0
    assert rows[("reads-data", "carol")]["raw_score"] == "0.0"  # a real zero
    assert rows[("needs-package", "alice")]["timestamp"] == "" and rows[("needs-package", "alice")]["score"] == "0.0"
    with (result.directory / "grades.csv").open(newline="") as fh:
        grades = {(r["student_id"], r["lesson_id"]): r for r in csv.DictReader(fh)}
    assert (grades[("bob", "basics")]["final_score"], grades[("bob", "basics")]["awaiting_manual_grading"]) == ("", "True")
    assert grades[("alice", "basics")]["final_score"] == "3.0"

    bob = student_status(course, "bob")
    waiting = [a for lesson in bob.lessons for a in lesson.attempts if a.id in bob.awaiting_manual]
    assert [(a.lesson_id, a.origin) for a in waiting] == [("basics", "imported")]
    shown = CliRunner().invoke(main, ["--course", str(course.root), "status", "bob"], terminal_width=200)
    text = " ".join(shown.output.split())  # rich wraps long lines to its own idea of the width
    assert shown.exit_code == 0, shown.output
    assert "Awaiting manual grading: basics attempt 1" in text and "imported from nbgrader, submitted 2026-03-06 21:00" in text
    cohort = CliRunner().invoke(main, ["--course", str(course.root), "status"], terminal_width=200)
    assert "Awaiting manual grading: bob / basics attempt 1" in cohort.output
    assert "alice / basics" not in cohort.output
    assert dt.datetime.now(dt.timezone.utc) > course.lesson("basics").due_at  # history, not today's work
