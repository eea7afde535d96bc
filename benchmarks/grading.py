"""Grading speed: plain serial `nbgrader autograde` + `generate_feedback` against `paceline grade`, same submissions.

Usage: .venv/bin/python benchmarks/grading.py [--submissions 2,60] [--lesson 01-basics] [--workers N]

For each batch size (default: a small batch of 2, and 60), copies the demo
course's lessons (course.toml and course_source/, no student data) into a
temporary folder, releases one lesson (01-basics: 6 test cells), and has N
made-up students submit it through the real exchange, their answers made
from the instructor's solutions (correct, partly right, broken, blank in
turn). paceline collects the attempts. Then the same archived files are graded

- by paceline, in a fresh Python process that imports paceline's CLI and
  calls what `paceline grade LESSON` calls (``grade_attempts`` with the CLI's
  defaults: sandboxed kernels; forked worker processes for a batch no bigger
  than the workers, else a local Dask cluster of one worker per core plus one unless
  --workers; nbgrader's autograde plus the per-attempt HTML feedback),
  process start-up and imports included, so that the per-attempt stages it
  measured can be printed;
- by plain nbgrader in a plain copy of the course with its own gradebook:
  `nbgrader autograde LESSON` (one process, one submission after another,
  unsandboxed kernels), then `nbgrader generate_feedback LESSON`, timed apart.

Both run in the same invocation, one after the other, so their ratio holds
even on a busy machine (the absolute times do not). Prints wall times, the
time per submission, the ratios, paceline's time per attempt by stage
(private course, kernel start, execute, scoring, the rest of nbgrader's
autograde, feedback rendering, the coordinator's record step; worker stages
overlap across workers, so they add up to more than the wall time), and
checks that both gave every student the same score.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
from graders.grading.dispatch import default_workers  # noqa: E402
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


def timed(command: list[str], *, cwd: Path) -> tuple[float, str]:
    """Wall seconds of ``command``, and its standard output."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")  # nbgrader runs `alembic`
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


# What `paceline grade LESSON [--workers N]` runs, in a process of its own, printing each attempt's stages as JSON.
PACELINE_GRADE = """
import json, sys, warnings
from pathlib import Path
import graders.cli  # the command's own imports, as `paceline grade` pays them
from graders.course.plan import load_course
from graders.grading.grade import grade_attempts
warnings.filterwarnings("ignore")  # as the CLI does
root, lesson, workers = sys.argv[1], sys.argv[2], (int(sys.argv[3]) or None)
report = grade_attempts(load_course(Path(root)), lesson_ids=[lesson], workers=workers)
assert not report.problems, report.problems
print(json.dumps([dict(g.stages) for g in report.graded]))
"""

STAGES = ("private course", "kernel start", "execute", "scoring", "nbgrader autograde (rest)", "feedback",
          "coordinator record")


def stage_table(attempts: list[dict[str, float]]) -> list[tuple[str, float, float]]:
    """(stage, mean seconds per attempt, seconds summed over attempts); nbgrader's autograde is split
    into the stages measured inside it and the rest (its sanitizing pass, copies, gradebook writes)."""
    rows = []
    for stage in STAGES:
        if stage == "nbgrader autograde (rest)":
            values = [a.get("nbgrader autograde", 0.0) - a.get("kernel start", 0.0) - a.get("execute", 0.0)
                      - a.get("scoring", 0.0) for a in attempts]
        else:
            values = [a.get(stage, 0.0) for a in attempts]
        rows.append((stage, sum(values) / len(values), sum(values)))
    return rows


def totals(db: Path, course_id: str, lesson_id: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{db}", course_id=course_id) as gb:
        return {s.student.id: s.score for s in gb.find_assignment(lesson_id).submissions}


def run_batch(scratch: Path, *, lesson_id: str, submissions: int, workers: int | None, seed: int) -> None:
    load = os.getloadavg()
    print(f"preparing {submissions} submissions of {lesson_id} ...", flush=True)
    course = prepare(scratch, lesson_id=lesson_id, submissions=submissions, seed=seed)
    plain = scratch / "plain"
    plain_nbgrader_course(course, lesson_id, plain)
    timed([str(BIN / "nbgrader"), "generate_assignment", lesson_id, "--force"], cwd=plain)  # setup, not timed

    paceline, printed = timed([sys.executable, "-c", PACELINE_GRADE, str(course.root), lesson_id, str(workers or 0)],
                              cwd=scratch)
    stages = json.loads(printed.strip().splitlines()[-1])
    print(f"paceline grade: {paceline:.1f} s", flush=True)
    autograde, _ = timed([str(BIN / "nbgrader"), "autograde", lesson_id], cwd=plain)
    print(f"nbgrader autograde: {autograde:.1f} s", flush=True)
    feedback, _ = timed([str(BIN / "nbgrader"), "generate_feedback", lesson_id], cwd=plain)
    print(f"nbgrader generate_feedback: {feedback:.1f} s", flush=True)

    ours = totals(course.layout.gradebook_path, course.id, lesson_id)
    theirs = totals(plain / "gradebook.db", course.id, lesson_id)
    same = sum(ours.get(s) == score for s, score in theirs.items())
    n = submissions
    local = default_workers(workers)
    engine = "forked workers" if n <= local else "local Dask cluster"
    print()
    print(f"{n} submissions of {lesson_id} on {os.cpu_count()} cores (paceline: {engine} of {min(n, local)} "
          f"processes; load average at start: {' '.join(f'{x:.2f}' for x in load)})")
    print(f"{'':48}{'wall s':>9}{'s/submission':>14}")
    for name, seconds in (("nbgrader autograde (serial, unsandboxed)", autograde),
                          ("nbgrader autograde + generate_feedback", autograde + feedback),
                          ("paceline grade (sandboxed, parallel, feedback)", paceline)):
        print(f"{name:48}{seconds:9.1f}{seconds / n:14.2f}")
    print(f"speed-up, paceline vs nbgrader autograde + generate_feedback: {(autograde + feedback) / paceline:.2f}x "
          f"(vs autograde alone: {autograde / paceline:.2f}x)")
    print(f"same total score for {same} of {len(theirs)} students")
    print(f"paceline's time per attempt by stage ({len(stages)} attempts; worker stages run in parallel):")
    print(f"  {'stage':30}{'mean s':>9}{'sum s':>9}")
    for stage, mean, total in stage_table(stages):
        print(f"  {stage:30}{mean:9.2f}{total:9.1f}")
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", default="2,60", help="batch sizes, comma-separated (default: 2,60)")
    parser.add_argument("--lesson", default="01-basics")
    parser.add_argument("--workers", type=int, default=None, help="paceline's local worker processes (default: paceline's, one per core plus one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for submissions in (int(n) for n in args.submissions.split(",")):
        with tempfile.TemporaryDirectory(prefix="paceline-bench-grading-") as scratch_name:
            run_batch(Path(scratch_name), lesson_id=args.lesson, submissions=submissions, workers=args.workers, seed=args.seed)


if __name__ == "__main__":
    main()
