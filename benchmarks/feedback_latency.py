"""Median time from a student's submit to their feedback being fetchable, and to the score showing in
their "My course" panel, with `paceline watch` running.

Usage: .venv/bin/python benchmarks/feedback_latency.py [--submissions 10] [--panel-submissions 5] [--interval 1]

Copies the small fixture course into a temporary folder, releases it, starts
`paceline watch` (sandboxed, default workers), then submits one correct
notebook at a time through the real exchange and polls the student's
Fetch Feedback until the new page arrives. Then the whole path a student
sees: JupyterLab (the student's server with paceline's server extension and
the prebuilt panel, `make labextension`) in Debian's chromium; the panel's
Submit button is pressed and the clock stops when the panel shows that
attempt's score. Prints every latency and the medians.
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
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.course.plan import load_course  # noqa: E402
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

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def pages(ws: StudentWorkspace) -> int:
    try:
        return len(fetch_feedback(ws, "01-add"))
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


def panel_latencies(course, ws: StudentWorkspace, scratch: Path, *, submissions: int) -> list[float]:
    """Press Submit in the panel; time until the panel shows that attempt graded with its score."""
    from playwright.sync_api import sync_playwright

    lab, url = student_lab(course, ws, scratch)
    latencies = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            row = page.locator("section.pl-lesson[data-lesson='01-add']")
            row.wait_for(timeout=120_000)
            for _ in range(submissions):
                done = row.locator("li[data-attempt]").count()
                time.sleep(1.1)  # nbgrader names submissions by the second
                started = time.monotonic()
                row.locator("button[data-action='submit']").click()
                row.locator(f"li[data-attempt='{done + 1}'][data-state='graded'] [data-field='score']").wait_for(timeout=300_000)
                latencies.append(time.monotonic() - started)
                print(f"panel submission {len(latencies)}: score visible after {latencies[-1]:.2f} s", flush=True)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=60)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--panel-submissions", type=int, default=5, help="through the My course panel (0: skip)")
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
            panel = panel_latencies(course, ws, Path(scratch), submissions=args.panel_submissions) if args.panel_submissions else []
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=60)
        print(f"median submit-to-feedback: {statistics.median(latencies):.2f} s "
              f"(min {min(latencies):.2f}, max {max(latencies):.2f}, n={len(latencies)}, watch interval {args.interval:g} s)")
        if panel:
            print(f"median submit-to-score-in-panel: {statistics.median(panel):.2f} s "
                  f"(min {min(panel):.2f}, max {max(panel):.2f}, n={len(panel)}, watch interval {args.interval:g} s)")


if __name__ == "__main__":
    main()
