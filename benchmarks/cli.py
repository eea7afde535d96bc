"""Start-up time of paceline's light commands, against the floor of starting Python at all.

Each command runs as an instructor runs it (a fresh ``paceline`` process, wall
clock until it exits) ``--runs`` times on a scratch course made by ``paceline
init``; the median is printed with the exit code (a command that failed is
still timed, and says so). Then ``python -X importtime`` of ``paceline --help``:
the modules that cost the most, so a new eager import shows up by name.

    .venv/bin/python benchmarks/cli.py [--runs 7] [--top 15]

Run it on an idle machine: other load inflates every figure alike, the floor
included. The issue's goal: each command within 0.3 s of start-up on an idle
2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

GOAL_SECONDS = 0.3


def paceline_executable() -> str:
    beside = Path(sys.executable).parent / "paceline"
    found = str(beside) if beside.exists() else shutil.which("paceline")
    if found is None:
        sys.exit("paceline is not installed beside this Python nor on PATH: run `make test` once, "
                 "then .venv/bin/python benchmarks/cli.py")
    return found


def timed(argv: list[str], *, cwd: Path) -> tuple[float, int, list[str]]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_env())
    return time.perf_counter() - start, done.returncode, (done.stderr or done.stdout).strip().splitlines()[-1:]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PACELINE_COURSE", None)  # the scratch course is the working directory
    env["COLUMNS"] = "100"
    return env


def median_of(runs: int, make_argv: Callable[[int], list[str]], *, cwd: Path) -> tuple[float, int, list[str]]:
    times, codes, last = [], set(), []
    for index in range(runs):
        seconds, code, last = timed(make_argv(index), cwd=cwd)
        times.append(seconds)
        codes.add(code)
    return statistics.median(times), max(codes), last


def importtime(python: str, *, top: int) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of ``paceline --help``'s imports, most expensive first."""
    code = "import sys; from graders.cli import main; main(['--help'], prog_name='paceline')"
    done = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True, text=True, env=_env())
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        rows.append((int(cumulative), int(own), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command; the median is printed")
    parser.add_argument("--top", type=int, default=15, help="modules listed from -X importtime")
    args = parser.parse_args()
    paceline, python = paceline_executable(), sys.executable
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; median of {args.runs} runs, wall clock")

    with tempfile.TemporaryDirectory(prefix="paceline-cli-bench-") as scratch:
        scratch = Path(scratch)
        init = [paceline, "init", "COURSE", "--id", "bench", "--title", "Benchmark", "--timezone", "Europe/Berlin"]
        subprocess.run([*init[:2], "course", *init[3:]], cwd=scratch, check=True, capture_output=True, env=_env())
        course = scratch / "course"
        # The example student init writes, with an example lesson: enough for extend and status to do real work.
        student, lesson = "example-student", "01-getting-started"
        commands: list[tuple[str, Callable[[int], list[str]], Path]] = [
            ("python -c pass", lambda i: [python, "-c", "pass"], course),
            ("paceline --help", lambda i: [paceline, "--help"], course),
            ("paceline init", lambda i: [paceline, "init", f"init-{i}", *init[3:]], scratch),
            ("paceline new", lambda i: [paceline, "new", f"90-new-{i}", "--title", f"New {i}"], course),
            ("paceline extend", lambda i: [paceline, "extend", student, lesson, "--days", str(i + 1),
                                           "--reason", "benchmark"], course),
            (f"paceline status {student}", lambda i: [paceline, "status", student], course),
        ]
        floor = None
        print(f"{'command':<36}{'median s':>10}{'over floor':>12}  exit")
        for label, argv, cwd in commands:
            seconds, code, last = median_of(args.runs, argv, cwd=cwd)
            floor = seconds if floor is None else floor
            over = "" if label.startswith("python") else f"{seconds - floor:+.3f}"
            note = "" if code == 0 else f"  ({' '.join(last)[:60]})"
            flag = "" if label.startswith("python") or seconds <= GOAL_SECONDS else "  over the 0.3 s goal"
            print(f"{label:<36}{seconds:>10.3f}{over:>12}  {code}{note}{flag}")

    print("\nslowest imports of paceline --help (python -X importtime; ms cumulative / own):")
    for cumulative, own, name in importtime(python, top=args.top):
        print(f"{cumulative / 1000:>9.1f} {own / 1000:>7.1f}  {name}")


if __name__ == "__main__":
    main()
