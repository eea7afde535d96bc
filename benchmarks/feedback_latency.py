"""Median time from a student's submit to their feedback being fetchable, and to the score showing in
their "My course" panel, with `paceline watch` running, and where that time goes.

Usage: .venv/bin/python benchmarks/feedback_latency.py [--lesson 01-basics] [--submissions 10] [--panel-submissions 5]
                                                       [--interval 5]

Copies a lesson of the demo course (course.toml and course_source/, no
student data; 01-basics by default; or, with --lesson fixture, the small
fixture course's 01-add) into a temporary folder, with one student, ada,
whose answers are the instructor's solutions; releases it, starts
paceline's watch loop (the library call `paceline watch` makes: sandboxed,
default workers, in a process of its own that reports each cycle's step
times), then submits one correct notebook at a time through the real exchange
and polls the student's Fetch Feedback until the new page arrives. Then the
whole path a student sees: JupyterLab (the student's server with paceline's
server extension and the prebuilt panel, `make labextension`) in Debian's
chromium; the panel's Submit button is pressed and the clock stops when the
panel shows that attempt's score (goal: median <= 2 s on an idle 2-core
machine). Prints every latency, the medians, and the median seconds per stage
of the panel path: nbgrader's submit in the student's server, watch noticing
the new folder, the steps of the cycle that collected and graded it (with the
grading worker's own stages; the grade step ends by rewriting her document),
and the panel's poll after the document was rewritten. Prints the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.course.plan import CourseConfig, load_course  # noqa: E402
from graders.errors import ExchangeError  # noqa: E402
from graders.exchange.release import release_lessons  # noqa: E402
from graders.exchange.student import (  # noqa: E402
    StudentWorkspace,
    fetch_feedback,
    fetch_lesson,
    student_config,
    submit_lesson,
)
from graders.hub.settings import STUDENT_SERVER_EXTENSIONS_OFF, render_nbgrader_config, student_server_config  # noqa: E402
from graders.hub.tools import LABEXTENSION_NAME, labextension_build  # noqa: E402
from graders.operations.answers import answer_attempt, load_answer_keys, read_answers  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


# The loop `paceline watch` runs, in a process of its own that prints each cycle as one JSON line.
WATCH = """
import json, signal, sys, threading, time
from pathlib import Path
from graders.course.plan import load_course
from graders.operations.watch import watch
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
def report(cycle):
    ended = time.time()
    print(json.dumps({"ended": ended, "started": ended - sum(cycle.seconds.values()), "seconds": cycle.seconds,
                      "grading": cycle.grading_seconds, "collected": cycle.collected, "graded": cycle.graded,
                      "problems": cycle.problems}), flush=True)
watch(load_course(Path(sys.argv[1])), interval=float(sys.argv[2]), stop=stop, on_cycle=report)
"""


class WatchProcess:
    """The watch loop's process and the cycles it reported so far."""

    def __init__(self, root: Path, interval: float) -> None:
        self.cycles: list[dict] = []
        self.process = subprocess.Popen([sys.executable, "-c", WATCH, str(root), str(interval)], cwd=root,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            cycle = json.loads(line)
            for problem in cycle["problems"]:
                print(f"watch problem: {problem}", file=sys.stderr, flush=True)
            self.cycles.append(cycle)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def stages(self, *, submitted: float, arrived: float, visible: float) -> dict[str, float] | None:
        """Where the time from ``submitted`` (wall clock) to ``visible`` went, by the cycles that collected and graded it."""
        collecting = next((c for c in self.cycles if c["collected"]
                           and c["started"] + c["seconds"].get("release", 0) + c["seconds"].get("collect", 0) >= arrived), None)
        if collecting is None:
            return None
        grading = next((c for c in self.cycles if c["graded"] and c["started"] >= collecting["started"]), None)
        if grading is None:
            return None
        stages = {"submit (nbgrader's, in her server)": arrived - submitted,
                  "watch notices the folder": max(0.0, collecting["started"] - arrived)}
        stages["cycle: release"] = collecting["seconds"].get("release", 0.0)
        stages["cycle: collect"] = collecting["seconds"].get("collect", 0.0)
        if grading is not collecting:  # collected while another attempt was graded: its grading came a cycle later
            rest = sum(collecting["seconds"].get(step, 0.0) for step in ("grade", "feedback", "progress"))
            stages["next cycle (collecting cycle's other steps, gap)"] = rest + grading["started"] - collecting["ended"]
        # The grade step ends by rewriting the graded students' documents: the cycle's feedback and
        # progress steps come after the score is there, off this path.
        stages["cycle: grade (then her document rewritten)"] = grading["seconds"].get("grade", 0.0)
        # The worker's stages, per attempt graded in that cycle; nbgrader's autograde includes kernel start,
        # execute and scoring, so it shows here as its rest.
        worker = {stage: seconds / grading["graded"] for stage, seconds in grading["grading"].items()}
        nested = sum(worker.get(stage, 0.0) for stage in ("kernel start", "execute", "scoring"))
        if "nbgrader autograde" in worker:
            worker["nbgrader autograde"] -= nested
        for stage, seconds in worker.items():
            stages[f"  of grade: {'rest of nbgrader autograde' if stage == 'nbgrader autograde' else stage}"] = seconds
        # What the grade step spent outside the worker's stages: planning, dispatch, grace days, unlocks, her document.
        stages["  of grade: coordinator (plan, dispatch, unlocks, document)"] = (
            grading["seconds"].get("grade", 0.0) - sum(worker.values()))
        scored = grading["started"] + sum(grading["seconds"].get(step, 0.0) for step in ("release", "collect", "grade"))
        stages["panel sees the document"] = visible - scored
        return stages


def pages(ws: StudentWorkspace, lesson_id: str) -> int:
    try:
        return len(fetch_feedback(ws, lesson_id))
    except ExchangeError:
        return 0


def student_lab(course, ws: StudentWorkspace, scratch: Path) -> tuple[subprocess.Popen, str]:
    """The student's JupyterLab as the hub starts it (her nbgrader config, paceline's server extension and
    panel), on a free loopback port; returns the process and the URL that logs in with its token."""
    config = scratch / "jupyter-config"
    config.mkdir()
    (config / "nbgrader_config.py").write_text(render_nbgrader_config(student_config(
        course_id=course.id, exchange_root=course.exchange_root, home=ws.home, student_id=ws.student_id), header="# benchmark"))
    server = student_server_config(course, ws.student_id)
    server["ServerApp"] = {"jpserver_extensions": {**{name: False for name in STUDENT_SERVER_EXTENSIONS_OFF},
                                                   "graders.hub.student_server": True}}
    (config / "jupyter_server_config.json").write_text(json.dumps(server))
    data = scratch / "jupyter-data" / "labextensions"
    data.mkdir(parents=True)
    (data / LABEXTENSION_NAME).symlink_to(labextension_build())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = os.urandom(16).hex()
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(config), "JUPYTER_PATH": str(data.parent),
           "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-user"), "PYTHONPATH": str(ROOT)}
    lab = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", "--allow-root", "--no-browser",
                            "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
                            f"--ServerApp.root_dir={ws.home}"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5)
            return lab, f"http://127.0.0.1:{port}/lab?token={token}"
        except OSError:
            if time.monotonic() > deadline or lab.poll() is not None:
                raise SystemExit("the student's JupyterLab did not start")
            time.sleep(0.3)


def new_folder(inbound: Path, before: set[str], *, timeout: float = 60) -> float:
    """Wall-clock time at which a folder not in ``before`` appeared in ``inbound`` (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(os.listdir(inbound)) - before:
            return time.time()
        time.sleep(0.01)
    raise SystemExit("the panel's Submit left no submission in the exchange")


def panel_latencies(course, ws: StudentWorkspace, scratch: Path, *, lesson_id: str, submissions: int,
                    watch: WatchProcess) -> tuple[list[float], list[dict[str, float]]]:
    """Press Submit in the panel; time until the panel shows that attempt graded with its score."""
    from playwright.sync_api import sync_playwright

    lab, url = student_lab(course, ws, scratch)
    latencies, breakdowns = [], []
    inbound = course.layout.exchange.inbound
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            row = page.locator(f"section.pl-lesson[data-lesson='{lesson_id}']")
            row.wait_for(timeout=120_000)
            for _ in range(submissions):
                done = row.locator("li[data-attempt]").count()
                time.sleep(1.1)  # nbgrader names submissions by the second
                before = set(os.listdir(inbound))
                started, submitted = time.monotonic(), time.time()
                row.locator("button[data-action='submit']").click()
                arrived = new_folder(inbound, before)
                row.locator(f"li[data-attempt='{done + 1}'][data-state='graded'] [data-field='score']").wait_for(timeout=300_000)
                latencies.append(time.monotonic() - started)
                visible = submitted + latencies[-1]
                time.sleep(0.2)  # the watch process's report of the grading cycle is one pipe away
                stages = watch.stages(submitted=submitted, arrived=arrived, visible=visible)
                if stages:
                    breakdowns.append(stages)
                print(f"panel submission {len(latencies)}: score visible after {latencies[-1]:.2f} s"
                      + (" (" + ", ".join(f"{k.strip()} {v:.2f}" for k, v in stages.items()) + ")" if stages else ""),
                      flush=True)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=60)
    return latencies, breakdowns


def prepare(scratch: Path, *, lesson_id: str) -> tuple[CourseConfig, StudentWorkspace, str]:
    """The course, ada's workspace with the lesson fetched and answered correctly, and the lesson's id."""
    root = scratch / "course"
    if lesson_id == "fixture":
        shutil.copytree(ROOT / "tests" / "fixtures" / "course", root)
        lesson_id = "01-add"
    else:
        root.mkdir()
        shutil.copy(ROOT / "course.toml", root / "course.toml")
        shutil.copytree(ROOT / "course_source", root / "course_source")
        (root / "students.csv").write_text("id,name,email,enrolled_at\nada,Ada,ada@example.org,2026-09-01\n")
    course = load_course(root)
    lesson = course.lesson(lesson_id)
    release_lessons(course, lesson_ids=[lesson_id], early=[lesson_id])
    ws = StudentWorkspace("ada", scratch / "ada", course.id, course.exchange_root)
    ws.home.mkdir()
    lesson_dir = fetch_lesson(ws, lesson_id)
    keys = load_answer_keys(course, lesson)
    answer_attempt(lesson_dir, keys, "correct", stubs=read_answers(lesson_dir, keys), rng=np.random.default_rng(1))
    return course, ws, lesson_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="01-basics",
                        help="a lesson of the demo course, or 'fixture' for the small fixture course's 01-add")
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--panel-submissions", type=int, default=5, help="through the My course panel (0: skip)")
    parser.add_argument("--interval", type=float, default=5.0, help="watch's interval (it also reacts to each submission)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paceline-latency-") as scratch:
        course, ws, lesson_id = prepare(Path(scratch), lesson_id=args.lesson)
        root = course.root

        print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        watch = WatchProcess(root, args.interval)
        latencies = []
        try:
            time.sleep(5)  # let the Dask cluster start: a running service is already warm
            for i in range(args.submissions):
                before = pages(ws, lesson_id)
                time.sleep(1.1)  # nbgrader names submissions by the second
                started = time.monotonic()
                submit_lesson(ws, lesson_id)
                while pages(ws, lesson_id) <= before:
                    if time.monotonic() - started > 300:
                        raise SystemExit("no feedback within 300 s")
                    time.sleep(0.1)
                latencies.append(time.monotonic() - started)
                print(f"submission {i + 1}: feedback after {latencies[-1]:.2f} s", flush=True)
            panel, breakdowns = (panel_latencies(course, ws, Path(scratch), lesson_id=lesson_id,
                                                 submissions=args.panel_submissions, watch=watch)
                                 if args.panel_submissions else ([], []))
        finally:
            watch.stop()
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"median submit-to-feedback: {statistics.median(latencies):.2f} s "
              f"(min {min(latencies):.2f}, max {max(latencies):.2f}, n={len(latencies)}, watch interval {args.interval:g} s)")
        if panel:
            print(f"median submit-to-score-in-panel: {statistics.median(panel):.2f} s "
                  f"(min {min(panel):.2f}, max {max(panel):.2f}, n={len(panel)}, watch interval {args.interval:g} s)")
        if breakdowns:
            print(f"where the panel path's time goes (median seconds over {len(breakdowns)} submissions):")
            for stage in dict.fromkeys(stage for b in breakdowns for stage in b):
                values = [b[stage] for b in breakdowns if stage in b]
                print(f"  {stage:<52} {statistics.median(values):6.2f}" + (f"  (in {len(values)})" if len(values) < len(breakdowns) else ""))


if __name__ == "__main__":
    main()
