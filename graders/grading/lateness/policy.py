"""The course's late policy as an nbgrader late-submission plugin.

nbgrader calls the plugin once per notebook with the seconds late computed
from the gradebook (due date + extension); the arithmetic lives in the pure
:func:`late_penalty` so it can be tested and reused without nbgrader.
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Enum, Float

from ...course.plan import LATE_METHODS, LatePolicy

SECONDS_PER_DAY = 86_400


def late_penalty(policy: LatePolicy, *, score: float, seconds_late: float) -> float:
    """Points to deduct from ``score`` for a submission ``seconds_late`` after its due date.

    ``per_day`` counts every started day: one second late is one day late.
    """
    if seconds_late <= 0 or score <= 0 or policy.method == "none":
        return 0.0
    if policy.method == "zero":
        return float(score)
    days_late = math.ceil(seconds_late / SECONDS_PER_DAY)
    return float(score) * min(policy.cap, policy.per_day * days_late)


class CourseLatePolicy(LateSubmissionPlugin):
    """Configured from ``[late_policy]`` in course.toml through nbgrader's config."""

    method = Enum(LATE_METHODS, default_value="none").tag(config=True)
    per_day = Float(0.0).tag(config=True)
    cap = Float(1.0).tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        policy = LatePolicy(method=self.method, per_day=self.per_day, cap=self.cap)
        return late_penalty(policy, score=score, seconds_late=total_seconds_late)
