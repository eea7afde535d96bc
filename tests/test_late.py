"""The late policy arithmetic nbgrader's plugin delegates to."""

from __future__ import annotations

import pytest

from graders.course.plan import LatePolicy
from graders.grading.lateness import CourseLatePolicy, late_penalty

DAY = 86_400


@pytest.mark.parametrize(
    ("policy", "seconds_late", "expected"),
    [
        (LatePolicy("none"), 5 * DAY, 0.0),
        (LatePolicy("zero"), 1, 8.0),
        (LatePolicy("zero"), 0, 0.0),
        (LatePolicy("per_day", per_day=0.1, cap=0.5), 1, 0.8),  # a started day counts
        (LatePolicy("per_day", per_day=0.1, cap=0.5), DAY, 0.8),
        (LatePolicy("per_day", per_day=0.1, cap=0.5), DAY + 1, 1.6),
        (LatePolicy("per_day", per_day=0.1, cap=0.5), 30 * DAY, 4.0),  # capped at half
        (LatePolicy("per_day", per_day=0.1, cap=0.5), -DAY, 0.0),
    ],
)
def test_late_penalty(policy: LatePolicy, seconds_late: float, expected: float) -> None:
    assert late_penalty(policy, score=8.0, seconds_late=seconds_late) == pytest.approx(expected)


def test_nbgrader_plugin_reads_its_settings_from_config() -> None:
    from traitlets.config import Config

    c = Config()
    c.CourseLatePolicy.method = "per_day"
    c.CourseLatePolicy.per_day = 0.25
    c.CourseLatePolicy.cap = 1.0
    plugin = CourseLatePolicy(config=c)
    assert plugin.late_submission_penalty("ada", 4.0, 2 * DAY + 60) == pytest.approx(3.0)
