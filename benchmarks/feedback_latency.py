"""Median time from a student's submit to their feedback being fetchable, with `paceline watch` running.

Usage: .venv/bin/python benchmarks/feedback_latency.py [--submissions 10] [--interval 1]

Copies the small fixture course into a temporary folder, releases it, starts
`paceline watch` (sandboxed, default workers), then submits one correct
notebook at a time through the real exchange and polls the student's
Fetch Feedback until the new page arrives. Prints every latency and the median.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.course.plan import load_course  # noqa: E402
from graders.errors import ExchangeError  # noqa: E402
from graders.exchange.release import release_lessons  # noqa: E402
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, submit_lesson  # noqa: E402


def pages(ws: StudentWorkspace) -> int:
    try:
        return len(fetch_feedback(ws, "01-add"))
    except ExchangeError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paceline-latency-") as scratch:
        root = Path(scratch) / "course"
        shutil.copytree(ROOT / "tests" / "fixtures" / "course", root)
        course = load_course(root)
        release_lessons(course)
        ws = StudentWorkspace("ada", Path(scratch) / "ada", course.id, course.exchange_root)
        ws.home.mkdir()
        fetch_lesson(ws, "01-add")
        notebook = ws.lesson_dir("01-add") / "add.ipynb"
        nb = json.loads(notebook.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
                cell["source"] = "def add(a, b):\n    return a + b\n"
        notebook.write_text(json.dumps(nb))

        watch = subprocess.Popen([str(Path(sys.executable).parent / "paceline"), "watch", "--interval", str(args.interval)],
                                 cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        latencies = []
        try:
            time.sleep(5)  # let the Dask cluster start: a running service is already warm
            for i in range(args.submissions):
                before = pages(ws)
                time.sleep(1.1)  # nbgrader names submissions by the second
                started = time.monotonic()
                submit_lesson(ws, "01-add")
                while pages(ws) <= before:
                    if time.monotonic() - started > 300:
                        raise SystemExit("no feedback within 300 s")
                    time.sleep(0.1)
                latencies.append(time.monotonic() - started)
                print(f"submission {i + 1}: feedback after {latencies[-1]:.2f} s", flush=True)
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=60)
        print(f"median submit-to-feedback: {statistics.median(latencies):.2f} s "
              f"(min {min(latencies):.2f}, max {max(latencies):.2f}, n={len(latencies)}, watch interval {args.interval:g} s)")


if __name__ == "__main__":
    main()
