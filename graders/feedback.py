"""Feedback: nbgrader renders HTML feedback from the graded notebooks and
releases it through the exchange, where students fetch it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import CourseConfig
from .engine import check_result, instructor_api, write_nbgrader_config
from .errors import PacelineError
from .progress import Progress, Silent


@dataclass
class FeedbackReport:
    released: dict[str, int] = field(default_factory=dict)  # lesson id -> students with feedback
    problems: list[PacelineError] = field(default_factory=list)


def release_feedback(
    course: CourseConfig,
    *,
    lesson_ids: list[str] | None = None,
    progress: Progress = Silent(),
) -> FeedbackReport:
    """Generate and release feedback for every graded submission of the named lessons."""
    write_nbgrader_config(course)
    api = instructor_api(course)
    report = FeedbackReport()
    for lesson in progress.track(course.select_lessons(lesson_ids), description="Feedback"):
        graded = course.root / "autograded"
        if not any(graded.glob(f"*/{lesson.id}")):
            continue
        try:
            check_result(f"generate_feedback {lesson.id}", api.generate_feedback(lesson.id))
            check_result(f"release_feedback {lesson.id}", api.release_feedback(lesson.id))
        except PacelineError as exc:
            report.problems.append(exc)
            continue
        report.released[lesson.id] = sum(1 for _ in (course.root / "feedback").glob(f"*/{lesson.id}"))
    return report
