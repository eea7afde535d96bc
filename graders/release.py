"""Release: generate student versions with nbgrader and publish them to the exchange."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import CourseConfig, LessonPlan
from .engine import check_result, instructor_api, open_gradebook, write_nbgrader_config
from .errors import BatchError, PacelineError
from .lesson import lesson_max_score
from .progress import Progress, Silent


@dataclass(frozen=True)
class ReleasedLesson:
    lesson_id: str
    release_dir: Path
    notebooks: tuple[str, ...]
    max_score: float


def release_lessons(
    course: CourseConfig,
    *,
    lesson_ids: list[str] | None = None,
    progress: Progress = Silent(),
) -> list[ReleasedLesson]:
    """Generate and publish the named lessons (all when none are named).

    Keeps going past a lesson that fails and raises :class:`BatchError` listing
    every failure at the end; the lessons that worked stay released.
    """
    lessons = course.select_lessons(lesson_ids)
    write_nbgrader_config(course)
    api = instructor_api(course)
    released: list[ReleasedLesson] = []
    failures: list[PacelineError] = []
    for lesson in progress.track(lessons, description="Releasing"):
        try:
            released.append(_release_one(course, lesson, api=api))
        except PacelineError as exc:
            failures.append(PacelineError(f"{lesson.id}: {exc}"))
    if failures:
        raise BatchError("lesson releases", failures)
    return released


def _release_one(course: CourseConfig, lesson: LessonPlan, *, api) -> ReleasedLesson:
    max_score = lesson_max_score(course, lesson)  # fails early, naming the notebook, on broken JSON
    _record_due_date(course, lesson)
    check_result(f"generate_assignment {lesson.id}", api.generate_assignment(lesson.id, force=True, create=True))
    check_result(f"release_assignment {lesson.id}", api.release_assignment(lesson.id))
    release_dir = course.release_dir / lesson.id
    notebooks = tuple(sorted(p.name for p in release_dir.glob("*.ipynb")))
    return ReleasedLesson(lesson.id, release_dir, notebooks, max_score)


def _record_due_date(course: CourseConfig, lesson: LessonPlan) -> None:
    """nbgrader computes lateness from the gradebook's due date (naive UTC)."""
    due = lesson.due_at.replace(tzinfo=None) if lesson.due_at else None
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(lesson.id, duedate=due)
