"""Mastery gating: a lesson may require passing earlier lessons first.

A lesson with ``requires = ["01-basics"]`` in course.toml unlocks for a
student once their best graded score on each required lesson, after late
penalties, reaches ``[gating] pass_fraction`` of its points. Pure rules over
the ledger's attempts; :mod:`graders.exchange.release` makes unlocked lessons
fetchable for that student only.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..course.plan import CourseConfig, LessonPlan
from .ledger import Attempt


def best_fractions(attempts: Iterable[Attempt]) -> dict[str, float]:
    """Best graded share of points per lesson, after late penalties."""
    best: dict[str, float] = {}
    for attempt in attempts:
        if attempt.status != "graded" or not attempt.max_score:
            continue
        share = ((attempt.score or 0.0) - (attempt.late_penalty or 0.0)) / attempt.max_score
        best[attempt.lesson_id] = max(best.get(attempt.lesson_id, 0.0), share)
    return best


def is_unlocked(course: CourseConfig, lesson: LessonPlan, *, best: dict[str, float]) -> bool:
    return all(best.get(required, 0.0) >= course.pass_fraction for required in lesson.requires)
