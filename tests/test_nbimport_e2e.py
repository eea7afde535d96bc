"""An nbgrader course with history, imported and graded: plain nbgrader's scores survive the import, and
paceline's sandboxed grading of the imported attempts gives the same scores as plain nbgrader on the lessons
that need nothing from the course environment (basics: a raises-exception demo cell and a manually graded
answer; reads-data: a data file). Then the teacher-graded cell still waiting for marks: exported empty, shown
by ``paceline status``. Last, the whole way through the paceline commands with the course's own environment
(a package only its requirements.txt provides): check, release, a student's submission, grade, feedback, export."""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from nbgrader.api import Gradebook

from graders.cli import main
from graders.course.layout import personal_feedback_parts
from graders.course.plan import load_course
from graders.exchange.ledger import Ledger
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, submit_lesson
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
    assert "Awaiting manual grading now: bob / basics attempt 1" in cohort.output
    assert "alice / basics" not in cohort.output
    assert dt.datetime.now(dt.timezone.utc) > course.lesson("basics").due_at  # history, not today's work


# The imported course's own environment: its requirements.txt names a local package (tinystats) that paceline's
# Python lacks. Built once outside any private home (sandbox users run it); a later session finds it up to date.
ENV_HOME = Path("/var/tmp/paceline-tests/nbgrader-course-env")
ENV_LESSONS = ("needs-package", "grading-mode")
ANSWER = "import tinystats\n\ndef middle(values):\n    return tinystats.median(values)\n"


def cell_scores(db: Path, lessons: tuple[str, ...]) -> dict[tuple[str, str], tuple[float, dict]]:
    with Gradebook(f"sqlite:///{db}", course_id="databasics") as gb:
        return {(s.student.id, lesson): (s.score, {g.name: (g.auto_score, g.score) for n in s.notebooks for g in n.grades})
                for lesson in lessons for s in gb.find_assignment(lesson).submissions}


def test_imported_course_runs_in_its_own_environment_from_check_to_export(nbgrader_course: Path, tmp_path: Path) -> None:
    """import -> environment build -> check -> release -> a student's submission -> grade -> feedback -> export,
    the course environment honoured by check and by the sandboxed grading kernels (equal to plain nbgrader's
    autograde with its python3 kernel in that environment)."""
    cli = CliRunner()

    def paceline(*args: str) -> str:
        done = cli.invoke(main, ["--course", str(root), *args], terminal_width=200, catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return " ".join(done.output.split())

    root = tmp_path / "pyda"
    done = cli.invoke(main, ["import", str(nbgrader_course), "--into", str(root)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    # The instructor declares the course environment from the nbgrader course's requirements.txt.
    shutil.copy(nbgrader_course / "requirements.txt", root / "requirements.txt")
    shutil.copytree(nbgrader_course / "packages", root / "packages")
    imported = (root / "course.toml").read_text()
    (root / "course.toml").write_text(imported + f'\n[environment]\nrequirements = "requirements.txt"\nlocation = "{tmp_path}/unbuilt"\n')
    refused = cli.invoke(main, ["--course", str(root), "check", "needs-package"])
    assert refused.exit_code == 1 and "not built yet" in refused.output and "paceline environment build" in refused.output
    (root / "course.toml").write_text(imported + f'\n[environment]\nrequirements = "requirements.txt"\nlocation = "{ENV_HOME}/venv"\n')
    for folder in (ENV_HOME.parent, ENV_HOME):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o755)
    with open(ENV_HOME.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other test sessions on this host share the folder
        built = paceline("environment", "build")
        assert built.startswith(("Built", "Up to date:")) and f"{ENV_HOME}/venv" in built
        assert paceline("environment", "build").startswith("Up to date:")
    python = ENV_HOME / "venv" / "bin" / "python"

    # check runs the lessons in the grading sandbox with the course environment: the package is there, the network not.
    # With them, the lessons nbgrader released as they were: a jupytext copy and a helper module holding
    # solutions (uses-helper), and a cell waiting for the keyboard (asks-input).
    checked = cli.invoke(main, ["--course", str(root), "check", *ENV_LESSONS, "downloads", "asks-input", "uses-helper"],
                         terminal_width=200)
    text = " ".join(checked.output.split())
    assert checked.exit_code == 1, checked.output
    assert "the grading sandbox is not set up" not in text
    problems = [line for line in checked.output.splitlines() if line.startswith("✗")]
    assert {line.split(" / ")[0] for line in problems} == {"✗ downloads", "✗ asks-input", "✗ uses-helper"}, text
    assert "downloads.ipynb / cell 1 (fetch): fails when the source notebook runs (URLError:" in text
    assert "the network is off while grading: ship the file with the lesson" in text
    for copy in ("uses-helper.py", "helpers.py"):
        assert any(line.startswith(f"✗ uses-helper / {copy} / line ") for line in problems), text
    [waits] = [line for line in problems if line.startswith("✗ asks-input / ")]  # once, no cascade after it
    assert waits.startswith("✗ asks-input / asks-input.ipynb / cell 1 (ask_name): ") and "waits for keyboard input" in text
    # Release publishes the notebook alone and says which files stay home; no solution goes out.
    released = cli.invoke(main, ["--course", str(root), "release", "uses-helper"], terminal_width=200)
    assert released.exit_code == 0, released.output
    assert ("uses-helper: not published (course.toml's include/exclude decide): helpers.py, uses-helper.py"
            in " ".join(released.output.split()))
    outbound = load_course(root).layout.exchange.released("uses-helper")
    assert sorted(path.name for path in outbound.rglob("*") if path.is_file()) == ["uses-helper.ipynb"]
    assert "BEGIN SOLUTION" not in (outbound / "uses-helper.ipynb").read_text()

    # Plain nbgrader autogrades the same history in the nbgrader course, its python3 kernel in the same environment.
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps(
        {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "course", "language": "python"}))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "JUPYTER_PATH": str(tmp_path / "jupyter")}
    for lesson in ENV_LESSONS:
        subprocess.run([str(BIN / "nbgrader"), "autograde", lesson, "--force"], cwd=nbgrader_course, env=env,
                       check=True, capture_output=True)
    plain = cell_scores(nbgrader_course / "gradebook.db", ENV_LESSONS)
    assert plain == {("bob", "needs-package"): (2.0, {"test_middle": (2.0, 2.0)}),
                     ("alice", "grading-mode"): (2.0, {"test_total": (2.0, 2.0)})}

    # Released, fetched and submitted by alice (she never did needs-package under nbgrader).
    released = paceline("release", "needs-package")
    assert "needs-package.ipynb" in released
    course = load_course(root)
    ws = StudentWorkspace("alice", tmp_path / "homes" / "alice", course.id, course.exchange_root)
    ws.home.mkdir(parents=True)
    notebook = fetch_lesson(ws, "needs-package") / "needs-package.ipynb"
    nb = json.loads(notebook.read_text())
    assert "tinystats.median" not in notebook.read_text()  # the solution stayed home
    answer = next(cell for cell in nb["cells"] if cell["metadata"].get("nbgrader", {}).get("grade_id") == "middle")
    answer["source"] = ANSWER
    notebook.write_text(json.dumps(nb))
    submit_lesson(ws, "needs-package")
    assert "Collected 1 new attempt(s)" in paceline("collect")

    # Graded in the sandbox with the course environment: the imported attempts as plain nbgrader scored them.
    graded = paceline("grade", *ENV_LESSONS)
    assert "needs-package 2 2.00 / 2" in graded and "grading-mode 1 2.00 / 2" in graded, graded
    mine = cell_scores(course.layout.gradebook_path, ENV_LESSONS)
    assert {key: value for key, value in mine.items() if key != ("alice", "needs-package")} == plain
    assert mine[("alice", "needs-package")] == (2.0, {"test_middle": (2.0, 2.0)})

    assert "needs-package: feedback released for 2 attempt(s)" in paceline("feedback", "needs-package")
    pages = fetch_feedback(ws, "needs-package")
    assert len(pages) == 1 and "test_middle" in pages[0].read_text()
    # bob's attempt, imported from nbgrader without a submission secret, has its feedback in his own folder.
    bob = course.layout.exchange.personal("bob").joinpath(*personal_feedback_parts("needs-package", 1), "needs-package.html")
    assert "test_middle" in bob.read_text()

    paceline("export")
    with (root / "exports" / "grades.csv").open(newline="") as fh:
        grades = {(r["student_id"], r["lesson_id"]): r["final_score"] for r in csv.DictReader(fh)}
    assert (grades[("alice", "needs-package")], grades[("bob", "needs-package")], grades[("alice", "grading-mode")]) == ("2.0", "2.0", "2.0")
