"""Grading throughput: plain serial `nbgrader autograde` against `paceline grade`, on the same submissions.

Usage: .venv/bin/python benchmarks/grading.py [--submissions 60] [--lesson 01-basics] [--workers N]

Copies the demo course's lessons (course.toml and course_source/, no student
data) into a temporary folder, releases one lesson (01-basics: 6 test cells),
and has N made-up students submit it through the real exchange, their answers
made from the instructor's solutions (correct, partly right, broken, blank in
turn). paceline collects the attempts. Then the same archived files are graded

- by `paceline grade LESSON`: sandboxed kernels, on a local Dask cluster (one
  worker process per core unless --workers), nbgrader's autograde plus the
  per-attempt HTML feedback it renders; cluster start-up included;
- by plain nbgrader in a plain copy of the course with its own gradebook:
  `nbgrader autograde LESSON` (one process, one submission after another,
  unsandboxed kernels), then `nbgrader generate_feedback LESSON`, timed apart
  so both a like-for-like figure and nbgrader's bare autograde are shown.

Prints wall times, the time per submission and the throughput ratio, and
checks that both gave every student the same score. Run it on an otherwise
idle machine: grading is CPU-bound, so other load skews the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nbgrader.api import Gradebook  # noqa: E402

from graders.course.clock import SimulatedClock  # noqa: E402
from graders.course.plan import load_course  # noqa: E402
from graders.exchange.collect import collect_submissions  # noqa: E402
from graders.exchange.ledger import Ledger  # noqa: E402
from graders.exchange.release import release_lessons  # noqa: E402
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson  # noqa: E402
from graders.grading.task import NBGRADER_TIMESTAMP_FORMAT  # noqa: E402
from graders.operations.answers import answer_attempt, load_answer_keys, read_answers  # noqa: E402

BIN = Path(sys.executable).parent
QUALITIES = ("correct", "partial", "error", "blank")
UTC = dt.timezone.utc


def prepare(scratch: Path, *, lesson_id: str, submissions: int, seed: int):
    """A copy of the demo course with ``submissions`` collected attempts of one lesson."""
    root = scratch / "course"
    root.mkdir()
    shutil.copy(ROOT / "course.toml", root / "course.toml")
    shutil.copytree(ROOT / "course_source", root / "course_source")
    students = [f"student{i:03d}" for i in range(submissions)]
    (root / "students.csv").write_text("id,name,email,enrolled_at\n" + "".join(
        f"{s},Student {s[-3:]},{s}@example.org,2026-09-01\n" for s in students))
    course = load_course(root)
    lesson = course.lesson(lesson_id)
    assert not release_lessons(course, lesson_ids=[lesson_id]).problems
    keys = load_answer_keys(course, lesson)
    at = lesson.opens_at.astimezone(UTC) + dt.timedelta(days=1)
    rng = np.random.default_rng(seed)
    for i, student in enumerate(students):
        ws = StudentWorkspace(student, scratch / "homes" / student, course.id, course.exchange_root)
        ws.home.mkdir(parents=True)
        lesson_dir = fetch_lesson(ws, lesson_id)
        answer_attempt(lesson_dir, keys, QUALITIES[i % len(QUALITIES)], stubs=read_answers(lesson_dir, keys), rng=rng)
        submit_lesson(ws, lesson_id, clock=SimulatedClock(at + dt.timedelta(seconds=i)))
    collected = collect_submissions(course, clock=SimulatedClock(at + dt.timedelta(hours=1)))
    assert not collected.problems and len(collected.collected) == submissions, collected.problems
    return course


def plain_nbgrader_course(course, lesson_id: str, plain: Path) -> None:
    """The same lesson and the very files paceline collected, as a plain nbgrader course."""
    shutil.copytree(course.source_dir / lesson_id, plain / "source" / lesson_id)
    (plain / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(plain)!r}\n"
        f"c.CourseDirectory.course_id = {course.id!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{plain / 'gradebook.db'}'\n"
        f"c.Execute.timeout = {course.grading.timeout}\n"
    )
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = ledger.attempts(lesson_ids=[lesson_id])
    for attempt in attempts:
        dest = plain / "submitted" / attempt.student_id / lesson_id
        shutil.copytree(course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=lesson_id, attempt=attempt.attempt), dest)
        (dest / "timestamp.txt").write_text(attempt.submitted_at.astimezone(UTC).strftime(NBGRADER_TIMESTAMP_FORMAT))


def timed(command: list[str], *, cwd: Path) -> float:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")  # nbgrader runs `alembic`
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def totals(db: Path, course_id: str, lesson_id: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{db}", course_id=course_id) as gb:
        return {s.student.id: s.score for s in gb.find_assignment(lesson_id).submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--lesson", default="01-basics")
    parser.add_argument("--workers", type=int, default=None, help="paceline's local worker processes (default: one per core)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="paceline-bench-grading-") as scratch_name:
        scratch = Path(scratch_name)
        print(f"preparing {args.submissions} submissions of {args.lesson} ...", flush=True)
        course = prepare(scratch, lesson_id=args.lesson, submissions=args.submissions, seed=args.seed)
        plain = scratch / "plain"
        plain_nbgrader_course(course, args.lesson, plain)
        timed([str(BIN / "nbgrader"), "generate_assignment", args.lesson, "--force"], cwd=plain)  # setup, not timed

        workers = ["--workers", str(args.workers)] if args.workers else []
        paceline = timed([str(BIN / "paceline"), "--course", str(course.root), "grade", args.lesson, *workers], cwd=scratch)
        print(f"paceline grade: {paceline:.1f} s", flush=True)
        autograde = timed([str(BIN / "nbgrader"), "autograde", args.lesson], cwd=plain)
        print(f"nbgrader autograde: {autograde:.1f} s", flush=True)
        feedback = timed([str(BIN / "nbgrader"), "generate_feedback", args.lesson], cwd=plain)
        print(f"nbgrader generate_feedback: {feedback:.1f} s", flush=True)

        ours = totals(course.layout.gradebook_path, course.id, args.lesson)
        theirs = totals(plain / "gradebook.db", course.id, args.lesson)
        same = sum(ours.get(s) == score for s, score in theirs.items())
        n = args.submissions
        print()
        print(f"{n} submissions of {args.lesson} on {os.cpu_count()} cores "
              f"(paceline workers: {args.workers or os.cpu_count()}; load average at start: "
              f"{' '.join(f'{x:.2f}' for x in load)})")
        print(f"{'':44}{'wall s':>9}{'s/submission':>14}")
        for name, seconds in (("nbgrader autograde (serial, unsandboxed)", autograde),
                              ("nbgrader autograde + generate_feedback", autograde + feedback),
                              ("paceline grade (sandboxed, Dask, feedback)", paceline)):
            print(f"{name:44}{seconds:9.1f}{seconds / n:14.2f}")
        print(f"throughput ratio, paceline vs nbgrader autograde: {autograde / paceline:.2f}x; "
              f"vs autograde + feedback: {(autograde + feedback) / paceline:.2f}x")
        print(f"same total score for {same} of {len(theirs)} students")


if __name__ == "__main__":
    main()
