"""One environment for check, grading and students: [environment] in course.toml.

The course environment is built once per session (conftest's ``course_env``:
a venv from Debian's python3, with a small pure-Python package ``statsdemo``
from a wheel the fixture writes itself, and ipykernel from pip's index) in a
fixed folder outside any private home, so a second session finds it up to date. The same
environment runs ``paceline check`` and the sandboxed grading; scores are
compared with plain nbgrader's, whose ``python3`` kernelspec points at it.
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

from graders.authoring.check import check_course
from graders.course.clock import SimulatedClock
from graders.course.environment import (
    CourseEnvironmentError,
    kernel_environment,
    kernel_problem,
    own_environment,
)
from graders.course.plan import load_course
from graders.errors import ConfigError
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson
from graders.grading.grade import grade_attempts
from graders.grading.task import NBGRADER_TIMESTAMP_FORMAT
from graders.hub.permissions import blocked_for_others
from graders.hub.settings import write_student_kernels
from graders.sandbox import check_sandbox
from graders.sandbox.command import sandbox_env

from conftest import BuiltCourseEnvironment

FIXTURES = Path(__file__).parent / "fixtures"
UTC = dt.timezone.utc
BIN = Path(sys.executable).parent
MISSING = check_sandbox()
needs_sandbox = pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))

def notebook(solution: str, test: str, *, kernel: str = "python3") -> dict:
    """A one-answer, one-test lesson notebook (1 point)."""
    def meta(grade_id: str, **flags: object) -> dict:
        return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "task": False, "locked": False,
                             "solution": False, "grade": False, **flags}}
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "answer", "metadata": meta("answer", solution=True),
             "outputs": [], "source": solution},
            {"cell_type": "code", "execution_count": None, "id": "test",
             "metadata": meta("test", grade=True, locked=True, points=1), "outputs": [], "source": test},
        ],
        "metadata": {"kernelspec": {"display_name": kernel, "language": "python", "name": kernel},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


LESSONS = {
    # Needs a package only the course environment has.
    "03-stats": notebook("import statsdemo\n\ndef mean(xs):\n    ### BEGIN SOLUTION\n    return statsdemo.mean(xs)\n"
                         "    ### END SOLUTION", "assert mean([1, 2, 3]) == 2"),
    # Branches on what nbgrader sets while it autogrades.
    "04-mode": notebook("import os\n\ndef mode():\n    ### BEGIN SOLUTION\n    return os.environ.get('NBGRADER_EXECUTION')\n"
                        "    ### END SOLUTION", "assert mode() == 'autograde'"),
    # Downloads its data.
    "05-download": notebook("import urllib.request\n\ndef fetch():\n    ### BEGIN SOLUTION\n"
                            "    return urllib.request.urlopen('http://example.org/data.csv', timeout=5).read()\n"
                            "    ### END SOLUTION\n\nDATA = fetch()", "assert DATA"),
    # Names a kernel no environment here provides.
    "06-r": notebook("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION", "assert y == 2", kernel="ir"),
}
ANSWERS = {"03-stats": "import statsdemo\n\ndef mean(xs):\n    return statsdemo.mean(xs)\n",
           "04-mode": "import os\n\ndef mode():\n    return os.environ.get('NBGRADER_EXECUTION')\n"}


def make_course(root: Path, *, lessons: list[str], environment: str = "") -> Path:
    shutil.copytree(FIXTURES / "course", root)
    toml = (root / "course.toml").read_text()
    for day, lesson in enumerate(lessons, start=1):
        folder = root / "course_source" / lesson
        folder.mkdir()
        (folder / f"{lesson[3:]}.ipynb").write_text(json.dumps(LESSONS[lesson], indent=1))
        toml += (f'\n[[lessons]]\nid = "{lesson}"\ntitle = "{lesson}"\nopens = 2026-09-{day:02d}T09:00:00\n'
                 f"target = 2026-09-2{day}\ndue = 2026-09-28\n")
    (root / "course.toml").write_text(toml + environment)
    return root


# -- fast -------------------------------------------------------------------------------------------

def test_environment_table_is_validated_naming_the_key(tmp_path: Path) -> None:
    root = make_course(tmp_path / "c", lessons=[], environment='\n[environment]\nrequirements = "missing.txt"\n')
    with pytest.raises(ConfigError, match=r"environment\.requirements: .*missing\.txt does not exist"):
        load_course(root)
    (root / "requirements.txt").write_text("statsdemo\n")
    for extra, key in (('python = "python3"', "environment.python"), ('colour = "red"', "environment.colour"),
                       ("kernels = ['a b']", "environment.kernels"), ('location = "envs"', "environment.location")):
        (root / "course.toml").write_text((root / "course.toml").read_text().split("\n[environment]")[0]
                                          + f'\n[environment]\nrequirements = "requirements.txt"\n{extra}\n')
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_course(root)


def test_without_environment_kernels_run_in_pacelines_own_python(fixture_course: Path) -> None:
    environment = kernel_environment(load_course(fixture_course))
    assert environment == own_environment() and environment.plan is None
    assert Path(environment.python).parent == Path(sys.prefix) / "bin"
    assert kernel_problem(kernel_name="python3", environment=environment) is None


def test_sandbox_keeps_its_own_variables_over_passed_ones() -> None:
    env = dict(sandbox_env("/env/bin", (("NBGRADER_EXECUTION", "autograde"), ("PATH", "/evil"), ("HOME", "/root"))))
    assert env["NBGRADER_EXECUTION"] == "autograde"
    assert env["PATH"].startswith("/env/bin:") and env["HOME"] == "/home/student"


def test_check_and_grade_refuse_a_kernel_the_environment_lacks_with_one_message(tmp_path: Path) -> None:
    course = load_course(make_course(tmp_path / "c", lessons=["06-r"]))
    checked = [str(p) for p in check_course(course, lesson_ids=["06-r"]).problems if p.code == "kernel-not-in-environment"]
    graded = [str(p) for p in grade_attempts(course, lesson_ids=["06-r"]).problems]
    assert checked == graded == [
        "06-r / r.ipynb: asks for the kernel 'ir', which " + own_environment().description + " does not provide "
        "(it provides python3, python): change the notebook's kernel (Kernel > Change Kernel), or declare the "
        "course's [environment] in course.toml, with the name in its kernels"]


def test_students_get_no_kernelspecs_without_an_environment(fixture_course: Path, tmp_path: Path) -> None:
    data = write_student_kernels(load_course(fixture_course), tmp_path / "data")
    assert list((data / "kernels").iterdir()) == []  # their server's own python3, as before


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_students_kernels_run_the_course_environment(tmp_path: Path, course_env: BuiltCourseEnvironment) -> None:
    toml = course_env.toml.replace("location", 'kernels = ["ds-course"]\nlocation')
    course = load_course(make_course(tmp_path / "c", lessons=[], environment=toml))
    with pytest.raises(CourseEnvironmentError, match="built from other settings.*paceline environment build"):
        write_student_kernels(course, tmp_path / "refused")  # built without the extra kernel name: stale
    course = load_course(make_course(tmp_path / "c2", lessons=[], environment=course_env.toml))
    data = write_student_kernels(course, tmp_path / "data")
    names = sorted(p.name for p in (data / "kernels").iterdir())
    assert names == ["python", "python3"]
    argv = json.loads((data / "kernels" / "python3" / "kernel.json").read_text())["argv"]
    assert argv[0] == kernel_environment(course).python
    done = subprocess.run([argv[0], "-c", "import statsdemo, ipykernel; print(statsdemo.mean([1, 3]))"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "2.0", done.stderr


# -- end to end -------------------------------------------------------------------------------------

@pytest.mark.e2e
@needs_sandbox
@pytest.mark.timeout(600)
def test_check_says_why_a_lesson_fails_where_grading_runs(tmp_path: Path) -> None:
    course = load_course(make_course(tmp_path / "c", lessons=["03-stats", "05-download"]))  # no [environment]
    report = check_course(course)
    assert report.sandboxed is True
    messages = {p.where.lesson: str(p) for p in report.problems if p.code == "execution-error"}
    assert "the network is off while grading: ship the file with the lesson" in messages["05-download"]
    assert "module 'statsdemo' is not in paceline's own Python" in messages["03-stats"]
    assert "add it to the course's requirements" in messages["03-stats"]


@pytest.mark.e2e
@needs_sandbox
@pytest.mark.timeout(900)
def test_lessons_check_and_grade_in_the_course_environment_as_plain_nbgrader(
        tmp_path: Path, course_env: BuiltCourseEnvironment) -> None:
    assert course_env.rebuilt is False  # idempotent: same requirements, nothing done
    root = make_course(tmp_path / "course", lessons=["03-stats", "04-mode"], environment=course_env.toml)
    course = load_course(root)
    python = Path(kernel_environment(course).python)
    assert blocked_for_others(Path(os.path.realpath(python)), want="x") is None  # sandbox users and students run it

    report = check_course(course, lesson_ids=["03-stats", "04-mode"])
    assert report.sandboxed is True and report.problems == ()

    students = {"correct": ANSWERS, "blank": {}}
    with course.roster_path.open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in students)
    course = load_course(root)
    assert release_lessons(course, lesson_ids=["03-stats", "04-mode"]).problems == []
    at = dt.datetime(2026, 9, 25, 12, tzinfo=UTC)
    for student, answers in students.items():
        ws = StudentWorkspace(student, tmp_path / "homes" / student, course.id, course.exchange_root)
        (tmp_path / "homes" / student).mkdir(parents=True)
        for lesson in ("03-stats", "04-mode"):
            nb_path = next(fetch_lesson(ws, lesson).glob("*.ipynb"))
            if lesson in answers:
                nb = json.loads(nb_path.read_text())
                nb["cells"][0]["source"] = answers[lesson]
                nb_path.write_text(json.dumps(nb))
            submit_lesson(ws, lesson, clock=SimulatedClock(at - dt.timedelta(minutes=1)))
    clock = SimulatedClock(at)
    assert collect_submissions(course, clock=clock).problems == []
    graded = grade_attempts(course, workers=1, clock=clock, lesson_ids=["03-stats", "04-mode"])  # sandboxed
    assert graded.problems == [] and len(graded.graded) == 4

    # Plain nbgrader, serial and unsandboxed, with its python3 kernel in the same course environment.
    plain = tmp_path / "plain"
    kernels = plain / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps(
        {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "course", "language": "python"}))
    for lesson in ("03-stats", "04-mode"):
        shutil.copytree(course.layout.lesson_source(lesson), plain / "source" / lesson)
    (plain / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(plain)!r}\nc.CourseDirectory.course_id = {course.id!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{plain / 'gradebook.db'}'\nc.Execute.timeout = {course.grading.timeout}\n")
    with Ledger.open(course.layout.ledger_path) as ledger:
        for attempt in ledger.attempts():
            dest = plain / "submitted" / attempt.student_id / attempt.lesson_id
            shutil.copytree(course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                                                      attempt=attempt.attempt), dest)
            (dest / "timestamp.txt").write_text(attempt.submitted_at.astimezone(UTC).strftime(NBGRADER_TIMESTAMP_FORMAT))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", JUPYTER_PATH=str(plain / "jupyter"))
    for lesson in ("03-stats", "04-mode"):
        for args in (("db", "assignment", "add", lesson), ("generate_assignment", lesson, "--force"), ("autograde", lesson)):
            done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=plain, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr

    def scores(db: Path) -> dict:
        with Gradebook(f"sqlite:///{db}", course_id=course.id) as gb:
            return {(s.student.id, lesson): (s.score, {g.name: g.auto_score for n in s.notebooks for g in n.grades})
                    for lesson in ("03-stats", "04-mode") for s in gb.find_assignment(lesson).submissions}

    expected = scores(plain / "gradebook.db")
    assert scores(course.layout.gradebook_path) == expected
    assert {key: total for key, (total, _) in expected.items()} == {
        ("correct", "03-stats"): 1.0, ("correct", "04-mode"): 1.0, ("blank", "03-stats"): 0.0, ("blank", "04-mode"): 0.0}
