"""What hostile submissions cost honest students: one grading batch with and without the attacks.

Usage: .venv/bin/python benchmarks/adversarial.py [--honest 16] [--workers 2]

Copies the fixture course of the test suite (lesson 01-add), and has
``--honest`` students submit honest answers (the four kinds of
``tests/test_adversarial.py``: correct, integers only, abs bug, blank, in
turn) through the real exchange. Then, in two fresh copies:

- the honest submissions alone are collected and graded (sandboxed, a local
  Dask cluster of ``--workers`` processes);
- the same honest submissions plus every hostile notebook of
  ``tests/fixtures/hostile/`` the adversarial suite grades, with the suite's
  limits (``timeout = 5``, ``cpu_seconds = 10``).

Prints, for each batch, the wall time, when the last honest attempt's
result was recorded (honest students wait for that, not for the whole
batch), and checks that every honest attempt got exactly the same score in
both. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from graders.course.clock import SimulatedClock  # noqa: E402
from graders.course.plan import load_course  # noqa: E402
from graders.exchange.collect import collect_submissions  # noqa: E402
from graders.exchange.ledger import Ledger  # noqa: E402
from graders.exchange.release import release_lessons  # noqa: E402
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson  # noqa: E402
from graders.grading.grade import grade_attempts  # noqa: E402
from test_adversarial import EXPECTED, GRADING, HONEST, HOSTILE, PLANTED, SUBMITTED, answer  # noqa: E402

T = TypeVar("T")


class Stopwatch:
    """Progress that notes when each graded result came back."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.finished: dict[str, float] = {}  # student -> seconds since the batch started

    def track(self, items: Iterable[T], *, description: str, total: int | None = None) -> Iterator[T]:
        for item in items:
            if description == "Grading":
                task, _ = item  # type: ignore[misc]
                self.finished[task.student_id] = time.monotonic() - self.started
            yield item


def run_batch(scratch: Path, *, honest: int, attacks: bool, workers: int) -> tuple[float, float, dict[str, float]]:
    root = scratch / ("with-attacks" if attacks else "honest-only") / "course"
    shutil.copytree(ROOT / "tests" / "fixtures" / "course", root)
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace("[grading]\ntimeout = 10\n",
                                             "[grading]\n" + "".join(f"{k} = {v}\n" for k, v in GRADING.items())))
    kinds = list(HONEST)
    honest_students = {f"h{i:03d}_{kinds[i % len(kinds)]}": kinds[i % len(kinds)] for i in range(honest)}
    hostile = [s for s in EXPECTED if attacks and (s in PLANTED or (HOSTILE / f"{s}.ipynb").exists())]
    with (root / "students.csv").open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in [*honest_students, *hostile])
    course = load_course(root)
    release_lessons(course, lesson_ids=["01-add"])
    clock = SimulatedClock(SUBMITTED)
    for student in [*honest_students, *hostile]:
        ws = StudentWorkspace(student, root.parent / "homes" / student, course.id, course.exchange_root)
        ws.home.mkdir(parents=True)
        fetched = fetch_lesson(ws, "01-add") / "add.ipynb"
        if student in honest_students:
            source = HONEST[honest_students[student]][0]
            if source is not None:
                answer(fetched, source)
        elif student in PLANTED:
            for name, text in PLANTED[student].items():
                (fetched.parent / name).write_text(text)
        else:
            shutil.copyfile(HOSTILE / f"{student}.ipynb", fetched)
        submit_lesson(ws, "01-add", clock=clock)
    collect_submissions(course, clock=clock)

    watch = Stopwatch()
    grade_attempts(course, workers=workers, clock=clock, progress=watch)
    wall = time.monotonic() - watch.started
    last_honest = max(watch.finished[s] for s in honest_students)
    with Ledger.open(course.layout.ledger_path) as ledger:
        scores = {a.student_id: a.score for a in ledger.attempts() if a.student_id in honest_students}
    expected = {s: sum(HONEST[kind][1].values()) for s, kind in honest_students.items()}
    if scores != expected:
        raise SystemExit(f"honest scores differ from their known values: {scores} != {expected}")
    print(f"{'with' if attacks else 'without'} attacks: {len(honest_students)} honest + {len(hostile)} hostile attempts, "
          f"{wall:.0f} s wall, last honest result at {last_honest:.0f} s")
    return wall, last_honest, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--honest", type=int, default=16, help="honest submissions in each batch")
    parser.add_argument("--workers", type=int, default=2, help="local Dask worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paceline-bench-adversarial-") as scratch:
        base_wall, base_last, base_scores = run_batch(Path(scratch), honest=args.honest, attacks=False, workers=args.workers)
        wall, last, scores = run_batch(Path(scratch), honest=args.honest, attacks=True, workers=args.workers)
    assert scores == base_scores
    print(f"every honest attempt scored the same in both batches; the attacks added {wall - base_wall:.0f} s to the batch "
          f"and {last - base_last:+.0f} s to the last honest result")


if __name__ == "__main__":
    main()
