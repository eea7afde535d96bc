"""paceline watch reacts to a submission at once instead of waiting out its interval (no kernels here:
the cycle itself is replaced; tests/test_watch_e2e.py runs the real one)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import graders.operations.watch as watch_module
from graders.course.plan import load_course
from graders.operations.watch import Cycle, watch

HOUR = 3600.0


@contextmanager
def no_cluster(*, scheduler, workers):
    yield SimpleNamespace(address="tcp://127.0.0.1:1")


def run_watch(course, monkeypatch, results: list[Cycle]):
    """watch in a thread with an hour's interval; each cycle returns the next of ``results`` (then idle ones).
    Returns (cycles seen so far, an event set at each cycle, the stop event, the thread)."""
    cycles: list[Cycle] = []
    ran = threading.Event()
    stop = threading.Event()

    def cycle(course_, *, scheduler, sandboxed, clock, kept_gradebooks, executor):
        return results[len(cycles)] if len(cycles) < len(results) else Cycle()

    def on_cycle(result: Cycle) -> None:
        cycles.append(result)
        ran.set()

    monkeypatch.setattr(watch_module, "dask_executor", no_cluster)
    monkeypatch.setattr(watch_module, "run_cycle", cycle)
    thread = threading.Thread(target=watch, args=(course,), kwargs=dict(interval=HOUR, stop=stop, on_cycle=on_cycle))
    thread.start()
    return cycles, ran, stop, thread


def next_cycle(ran: threading.Event, cycles: list[Cycle], count: int) -> None:
    # The timeout only keeps a broken watch from hanging the suite: with an hour's interval, any
    # cycle after the first is one the arrival started.
    while len(cycles) < count:
        assert ran.wait(timeout=60), f"no cycle {count}: watch waited out its interval"
        ran.clear()


def test_a_new_submission_folder_starts_the_next_cycle_at_once(fixture_course: Path, monkeypatch) -> None:
    course = load_course(fixture_course)
    inbound = course.layout.exchange.inbound
    cycles, ran, stop, thread = run_watch(course, monkeypatch, [Cycle(), Cycle(collected=1)])
    try:
        next_cycle(ran, cycles, 1)
        inbound.mkdir(parents=True)  # the first release creates it
        next_cycle(ran, cycles, 2)
        (inbound / "ada+01-add+2026-09-10 12:00:00.000000 UTC+abc").mkdir()
        next_cycle(ran, cycles, 3)
        assert not thread.join(0.5) and len(cycles) == 3  # nothing new: it waits
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_cycle_that_graded_or_left_a_submission_arriving_is_followed_soon(fixture_course: Path, monkeypatch) -> None:
    course = load_course(fixture_course)
    monkeypatch.setattr(watch_module, "ARRIVING_RETRY_SECONDS", 0.05)
    cycles, ran, stop, thread = run_watch(course, monkeypatch, [Cycle(graded=1), Cycle(arriving=1), Cycle(collected=1)])
    try:
        next_cycle(ran, cycles, 3)  # the next round of grading, then the submission that was still being written
        assert [c.collected for c in cycles] == [0, 0, 1]
        assert not thread.join(0.5) and len(cycles) == 3
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
