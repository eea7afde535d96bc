"""Mastery gating: a lesson may require passing earlier lessons first.

A lesson with ``requires = ["01-basics"]`` in course.toml unlocks for a
student once their best graded score on each required lesson, after late
penalties, reaches ``[gating] pass_fraction`` of its points. Pure rules over
the ledger's attempts; :mod:`graders.exchange.release` makes unlocked lessons
fetchable for that student only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..course.plan import CourseConfig, LessonPlan
from .ledger import Attempt


def best_fractions(attempts: Iterable[Attempt]) -> dict[str, float]:
    """Best graded share of points per lesson, after late penalties."""
    best: dict[str, float] = {}
    for attempt in attempts:
        share = _share(attempt)
        if share is not None:
            best[attempt.lesson_id] = max(best.get(attempt.lesson_id, 0.0), share)
    return best


def first_passes(course: CourseConfig, attempts: Iterable[Attempt]) -> dict[str, dt.datetime]:
    """Per lesson passed, when the attempt that first reached the pass mark was received."""
    passed: dict[str, dt.datetime] = {}
    for attempt in attempts:
        share = _share(attempt)
        if share is not None and share >= course.pass_fraction:
            known = passed.get(attempt.lesson_id)
            passed[attempt.lesson_id] = attempt.received_at if known is None else min(known, attempt.received_at)
    return passed


def _share(attempt: Attempt) -> float | None:
    """A graded attempt's share of the points after its late penalty; None if it has no grade."""
    if attempt.status != "graded" or not attempt.max_score:
        return None
    return ((attempt.score or 0.0) - (attempt.late_penalty or 0.0)) / attempt.max_score


def is_unlocked(course: CourseConfig, lesson: LessonPlan, *, best: dict[str, float]) -> bool:
    return all(best.get(required, 0.0) >= course.pass_fraction for required in lesson.requires)
