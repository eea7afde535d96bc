"""Release: generate student versions with nbgrader and publish them to the exchange.

Open lessons go to the course's shared ``outbound`` folder (nbgrader's
``release_assignment``). A lesson gated by mastery (``requires`` in
course.toml) is generated but never published there: each student receives
it in their own folder once they unlock it (:mod:`graders.exchange.unlock`).
:func:`release_due_lessons` releases what has opened and changed since its
last release, so it can run from cron or a loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from analytics.progress import Progress, Silent

from ..authoring.lesson import lesson_max_score
from ..course.clock import Clock, SystemClock
from ..course.plan import CourseConfig, LessonPlan
from ..engine.wiring import check_result, instructor_api, naive_utc, open_gradebook, write_nbgrader_config
from ..errors import PacelineError
from .ledger import Ledger
from .unlock import publish_unlocks


@dataclass(frozen=True)
class ReleasedLesson:
    lesson_id: str
    release_dir: Path
    notebooks: tuple[str, ...]
    max_score: float
    gated: bool  # published per student on unlock, not to everyone


@dataclass
class ReleaseReport:
    released: list[ReleasedLesson] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already released as they are now
    unlocked: list[tuple[str, str]] = field(default_factory=list)  # (student, lesson) published now
    problems: list[PacelineError] = field(default_factory=list)


def release_lessons(
    course: CourseConfig,
    *,
    lesson_ids: list[str] | None = None,
    clock: Clock = SystemClock(),
    progress: Progress = Silent(),
) -> ReleaseReport:
    """Generate and publish the named lessons (all when none are named).

    Keeps going past a lesson that fails; each failure is in the report's
    ``problems`` and the lessons that worked stay released.
    """
    report = ReleaseReport()
    lessons = course.select_lessons(lesson_ids)
    write_nbgrader_config(course)
    api = instructor_api(course)
    with Ledger.open(course.layout.ledger_path) as ledger:
        for lesson in progress.track(lessons, description="Releasing"):
            try:
                report.released.append(_release_one(course, lesson, api=api))
            except PacelineError as exc:
                report.problems.append(PacelineError(f"{lesson.id}: {exc}"))
                continue
            ledger.record_release(lesson_id=lesson.id, source_hash=source_hash(course, lesson), at=clock.now())
    report.unlocked = publish_unlocks(course, clock=clock)
    return report


def release_due_lessons(course: CourseConfig, *, clock: Clock = SystemClock(), progress: Progress = Silent()) -> ReleaseReport:
    """Release every lesson that has opened and is new or changed since its last release."""
    now = clock.now()
    with Ledger.open(course.layout.ledger_path) as ledger:
        due = [lesson for lesson in course.lessons if lesson.opens_at <= now]
        changed = [lesson.id for lesson in due if ledger.release_hash(lesson.id) != source_hash(course, lesson)]
    if changed:
        report = release_lessons(course, lesson_ids=changed, clock=clock, progress=progress)
    else:
        report = ReleaseReport(unlocked=publish_unlocks(course, clock=clock))
    report.unchanged = [lesson.id for lesson in due if lesson.id not in changed]
    return report


def source_hash(course: CourseConfig, lesson: LessonPlan) -> str:
    """A digest of the lesson's source folder: a release is redone only when it changes."""
    digest = hashlib.sha256()
    folder = course.layout.lesson_source(lesson.id)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _release_one(course: CourseConfig, lesson: LessonPlan, *, api) -> ReleasedLesson:
    max_score = lesson_max_score(course, lesson)  # fails early, naming the notebook, on broken JSON
    _record_due_date(course, lesson)
    check_result(f"generate_assignment {lesson.id}", api.generate_assignment(lesson.id, force=True, create=True))
    outbound = course.layout.exchange.released(lesson.id)
    if lesson.requires:
        if outbound.exists():  # gated since an earlier release: take it back from everyone
            check_result(f"unrelease {lesson.id}", api.unrelease(lesson.id))
    else:
        check_result(f"release_assignment {lesson.id}", api.release_assignment(lesson.id))
    release_dir = course.layout.lesson_release(lesson.id)
    notebooks = tuple(sorted(p.name for p in release_dir.glob("*.ipynb")))
    return ReleasedLesson(lesson.id, release_dir, notebooks, max_score, gated=bool(lesson.requires))


def _record_due_date(course: CourseConfig, lesson: LessonPlan) -> None:
    """nbgrader computes lateness from the gradebook's due date (naive UTC) plus each submission's extension."""
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(lesson.id, duedate=naive_utc(lesson.due_at) if lesson.due_at else None)
