"""Watch: feedback minutes after a 3 a.m. submission, not after the next grading run.

One loop, every few seconds and at once when a submission arrives: release
lessons that have opened, collect new submissions (their receipt time is when
this loop saw them), grade them
sandboxed on a Dask cluster kept warm for the whole run, release their
feedback and any lessons they unlocked, and rewrite the progress document of
every student whose facts changed. Every step is the same library call
the instructor's commands make (grading keeps each lesson's gradebook template
from one cycle to the next), and each is idempotent, so a bad submission
only fails its own attempt and a restart picks up where the last run stopped.

Nothing a student submits stops the loop: each step contains what one
submission raises, a step that fails as a whole does not keep the next steps
from running, and a cycle that fails anyway is reported (with a traceback when
the exception is not one of paceline's own, which points at a bug) and tried
again at the next interval.

Each cycle holds the course lock (:mod:`graders.course.lock`) and lets go
between cycles, so an instructor's ``extend`` or ``grade`` waits seconds for
the loop, not for as long as it runs; a cycle waits for them in turn.

Between cycles the loop looks at the exchange's inbound folder ten times a
second (one ``stat``: a new submission folder changes its modification time)
and starts the next cycle as soon as it changed, so a student's score does
not wait out the interval. A plain ``stat`` rather than inotify, because
exchanges often live on network filesystems, where inotify sees nothing.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..course.clock import Clock, SystemClock
from ..course.lock import CourseBusy, LockHolder, course_lock
from ..course.plan import CourseConfig
from ..errors import PacelineError
from ..exchange.collect import collect_submissions
from ..exchange.release import release_due_lessons
from ..feedback.release import release_attempt_feedback
from ..grading.dispatch import Executor, dask_executor
from ..grading.grade import grade_attempts
from ..grading.templates import KeptGradebooks
from .progress_files import refresh_progress_documents


@dataclass
class Cycle:
    """What one pass of the loop did."""

    released: list[str] = field(default_factory=list)
    collected: int = 0
    graded: int = 0
    feedback: int = 0
    unlocked: list[tuple[str, str]] = field(default_factory=list)
    progress: int = 0  # progress documents rewritten
    arriving: int = 0  # submissions nbgrader's submit was still writing: collected by a later cycle
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step
    grading_seconds: dict[str, float] = field(default_factory=dict)  # grading stages, summed over attempts

    @property
    def busy(self) -> bool:
        return bool(self.released or self.collected or self.graded or self.feedback or self.unlocked or self.progress
                    or self.problems)


def run_cycle(course: CourseConfig, *, scheduler: str | None, sandboxed: bool, clock: Clock,
              kept_gradebooks: KeptGradebooks | None = None, executor: Executor | None = None) -> Cycle:
    """One pass: release what is due, collect, grade, release feedback. Never raises for one bad item,
    and a step that fails as a whole is reported while the steps after it still run. ``kept_gradebooks``
    keeps lesson gradebook templates and the course gradebook between passes, and grading runs on
    ``executor`` when given (watch's warm cluster, whose workers keep a kernel started for their next
    attempt), else as ``grade`` runs it."""
    cycle = Cycle()

    def release() -> None:
        released = release_due_lessons(course, clock=clock)
        cycle.released = [lesson.lesson_id for lesson in released.released]
        cycle.unlocked += released.unlocked
        cycle.problems += [str(p) for p in released.problems]

    def collect() -> None:
        collected = collect_submissions(course, clock=clock)
        cycle.collected = len(collected.collected)
        cycle.arriving = collected.arriving
        cycle.problems += [str(p) for p in collected.problems]
        if collected.collected:
            # "submitted — grading…" at once: the student's panel then polls fast until the score is there.
            report = refresh_progress_documents(course, student_ids={a.student_id for a in collected.collected}, clock=clock)
            cycle.problems += [str(p) for p in report.problems]

    def grade() -> None:
        # One round per cycle (each student's oldest pending attempt): a student's flood is graded a
        # slice at a time, with everyone else's feedback released in between.
        graded = grade_attempts(course, sandboxed=sandboxed, scheduler=scheduler, executor=executor, rounds=1,
                                kept_gradebooks=kept_gradebooks, clock=clock)
        cycle.graded = len(graded.graded)
        if graded.graded:
            # Scores before feedback: releasing feedback hashes every graded attempt's pages, which takes
            # long in a big course; the students just graded see their scores first.
            report = refresh_progress_documents(course, student_ids={g.attempt.student_id for g in graded.graded}, clock=clock)
            cycle.problems += [str(p) for p in report.problems]
        for attempt in graded.graded:
            for stage, seconds in attempt.stages:
                cycle.grading_seconds[stage] = cycle.grading_seconds.get(stage, 0.0) + seconds
        cycle.unlocked += graded.unlocked
        cycle.problems += [str(p) for p in graded.problems]

    def feedback() -> None:
        report = release_attempt_feedback(course)
        cycle.feedback = sum(report.released.values())
        cycle.problems += [str(p) for p in report.problems]

    def progress() -> None:
        # Every cycle, not only busy ones: "due in 2 days" becomes "due tomorrow" with no event at all.
        report = refresh_progress_documents(course, clock=clock)
        cycle.progress = len(report.written)
        cycle.problems += [str(p) for p in report.problems]

    steps = (("release", release), ("collect", collect), ("grade", grade), ("feedback", feedback), ("progress", progress))
    for name, step in steps:
        started = time.perf_counter()
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - one failed step must not starve the others
            cycle.problems.append(failure_report(f"{name} failed, will retry", exc))
        cycle.seconds[name] = time.perf_counter() - started
    return cycle


def failure_report(what: str, exc: Exception) -> str:
    """``what`` and the exception: paceline's own errors by their message, anything else with its
    traceback, since that is a bug to fix rather than a course to correct."""
    if isinstance(exc, PacelineError):
        return f"{what}: {exc}"
    return f"{what}: {type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)).rstrip()


def watch(
    course: CourseConfig,
    *,
    interval: float = 5.0,
    sandboxed: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
    stop: threading.Event | None = None,
    on_cycle: Callable[[Cycle], None] | None = None,
    on_wait: Callable[[LockHolder | None], None] | None = None,
    clock: Clock = SystemClock(),
) -> None:
    """Run cycles every ``interval`` seconds, and at once when a submission arrives, until ``stop`` is set.

    A cycle that fails as a whole (the exchange unreachable, a broken
    course.toml edit) is reported through ``on_cycle`` and retried next time.
    Each cycle takes the course lock, first waiting (told to ``on_wait``) for
    any other command writing the course.
    """
    stop = stop or threading.Event()
    inbound = course.layout.exchange.inbound
    kept_gradebooks = KeptGradebooks()
    with dask_executor(scheduler=scheduler, workers=workers) as cluster:
        # Every cycle grades on this warm cluster through this one client (connecting anew took a
        # tenth of a second of each score's path).
        while not stop.is_set():
            started = time.monotonic()
            seen = folder_state(inbound)  # before collect: what arrives during the cycle starts the next
            try:
                with course_lock(course.layout, command="paceline watch", timezone=course.timezone, on_wait=on_wait,
                                 cancel=stop):
                    cycle = run_cycle(course, scheduler=None, executor=cluster, sandboxed=sandboxed, clock=clock,
                                      kept_gradebooks=kept_gradebooks)
            except CourseBusy:
                break  # stopped while waiting for another command: nothing was done, nothing to report
            except Exception as exc:  # noqa: BLE001 - watch outlives any one cycle; the next one retries
                cycle = Cycle(problems=[failure_report("cycle failed, will retry", exc)])
            if on_cycle is not None:
                on_cycle(cycle)
            if cycle.graded:
                continue  # one round per cycle: a flood's next round, or nothing left, found at once
            # A submission nbgrader is still writing is looked at again in a second, not at once: its
            # owner could keep it "arriving" to make the loop spin.
            wait = min(interval, ARRIVING_RETRY_SECONDS) if cycle.arriving else interval
            wait_for_submission(inbound, seen=seen, stop=stop, until=started + wait)


ARRIVING_RETRY_SECONDS = 1.0
INBOUND_POLL_SECONDS = 0.1


def folder_state(folder: Path) -> tuple[int, int] | None:
    """What changes when an entry is added to or removed from ``folder``; None while it does not exist."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def wait_for_submission(inbound: Path, *, seen: tuple[int, int] | None, stop: threading.Event, until: float) -> None:
    """Until the monotonic time ``until``, ``stop``, or ``inbound`` no longer being as ``seen`` (a submission arrived)."""
    while not stop.is_set():
        left = until - time.monotonic()
        if left <= 0 or folder_state(inbound) != seen:
            return
        stop.wait(min(INBOUND_POLL_SECONDS, left))
