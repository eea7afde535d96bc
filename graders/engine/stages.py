"""Where one attempt's grading time goes: seconds per stage, measured where each stage runs.

Grading hands every attempt to nbgrader, whose preprocessors start the kernel,
execute and score; they cannot return anything but the notebook. So
:func:`measuring` opens a collector for the current context (one task at a
time per worker thread or process: a ``ContextVar``), the code of each stage
adds its seconds with :func:`timed`, and the task returns what was collected
with its result. Outside :func:`measuring`, :func:`timed` only runs its block.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Stages = tuple[tuple[str, float], ...]  # (stage, seconds), in the order stages first ran

_collector: ContextVar[dict[str, float] | None] = ContextVar("paceline_stage_collector", default=None)


@contextmanager
def measuring() -> Iterator[dict[str, float]]:
    """Collect the seconds :func:`timed` blocks spend in this context until the ``with`` ends."""
    seconds: dict[str, float] = {}
    token = _collector.set(seconds)
    try:
        yield seconds
    finally:
        _collector.reset(token)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Add the block's wall time to ``stage`` of the collector :func:`measuring` opened, if any."""
    seconds = _collector.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if seconds is not None:
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started


def add(stage: str, elapsed: float) -> None:
    """Add ``elapsed`` seconds to ``stage`` of the current collector, if any."""
    seconds = _collector.get()
    if seconds is not None:
        seconds[stage] = seconds.get(stage, 0.0) + elapsed
