"""Time as an injectable dependency.

Everything that asks "what time is it?" (submission, collection, lateness,
"as of" analytics) takes a :class:`Clock`, so the simulated cohort can run a
whole term in seconds through the same code a real course uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = _utc(start)

    def now(self) -> dt.datetime:
        return self._now

    def advance_to(self, when: dt.datetime) -> None:
        when = _utc(when)
        if when < self._now:
            raise ValueError(f"simulated time cannot go back from {self._now} to {when}")
        self._now = when


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError(f"{when} has no time zone")
    return when.astimezone(dt.timezone.utc)
