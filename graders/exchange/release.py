"""Release: generate student versions with nbgrader and publish them to the exchange.

Open lessons go to the course's shared ``outbound`` folder (nbgrader's
``release_assignment``). A lesson gated by mastery (``requires`` in
course.toml) is generated but never published there: each student receives
it in their own folder once they unlock it (:mod:`graders.exchange.unlock`).

Only lessons that have opened are published: a lesson whose ``opens`` date
is still ahead is held back (and reported with that date) unless it is
named in ``early``, an instructor's deliberate early release. In a
self-paced course a lesson opens at its nominal date (``[pacing] start``, or
its own ``opens``): the earliest any student may start it. A lesson taken
back by ``paceline unrelease`` (:mod:`graders.exchange.unrelease`) is
released again only when named. :func:`release_due_lessons` releases what
has opened and changed since its last release, so it can run from cron or a
loop.

Nothing instructor-only leaves: a lesson publishes its notebooks' student
versions and the files its patterns let through
(:mod:`graders.authoring.lesson_files`). Whatever nbgrader copied beside them
is removed from ``release/`` before anything is published, and a lesson whose
files would carry a solution or hidden-test marker is refused, with nothing of
it published; the published folder is read back and taken back if anything in it
holds a marker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analytics.progress import Progress, Silent

from ..authoring.lesson import RegionMarkers, lesson_max_score, lesson_notebook_paths, read_notebook
from ..authoring.lesson_data import fetch_lesson_data
from ..authoring.lesson_files import MarkerHit, instructor_markers, lesson_files, marker_hits, published_files
from ..course.clock import Clock, SystemClock
from ..course.plan import CourseConfig, LessonPlan
from ..engine.wiring import (
    check_result,
    instructor_api,
    naive_utc,
    nbgrader_config,
    nbgrader_reason,
    open_gradebook,
    write_nbgrader_config,
)
from ..errors import CellRef, LessonError, NbgraderError, PacelineError
from .ledger import Ledger
from .unlock import publish_unlocks


@dataclass(frozen=True)
class ReleasedLesson:
    lesson_id: str
    release_dir: Path
    notebooks: tuple[str, ...]
    max_score: float
    gated: bool  # published per student on unlock, not to everyone
    files: tuple[str, ...] = ()  # everything published (notebooks included), relative to the lesson folder
    kept_home: tuple[str, ...] = ()  # files of the lesson folder that were not published


@dataclass(frozen=True)
class HeldBack:
    """A lesson not published because it has not opened yet."""

    lesson_id: str
    opens_at: dt.datetime


@dataclass
class ReleaseReport:
    released: list[ReleasedLesson] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already released as they are now
    unlocked: list[tuple[str, str]] = field(default_factory=list)  # (student, lesson) published now
    held_back: list[HeldBack] = field(default_factory=list)  # not open yet, in course order
    withdrawn: list[str] = field(default_factory=list)  # taken back by unrelease, and not named now
    problems: list[PacelineError] = field(default_factory=list)


def release_lessons(
    course: CourseConfig,
    *,
    lesson_ids: Sequence[str] | None = None,
    early: Sequence[str] = (),
    clock: Clock = SystemClock(),
    progress: Progress = Silent(),
) -> ReleaseReport:
    """Generate and publish the named lessons (all when none are named) that have opened, and the
    lessons in ``early`` whether or not they have.

    Lessons not open yet are in the report's ``held_back``; with no lessons
    named, lessons taken back by ``unrelease`` stay back (``withdrawn``).
    Keeps going past a lesson that fails; each failure is in the report's
    ``problems`` and the lessons that worked stay released.
    """
    report = ReleaseReport()
    now = clock.now()
    early_ids = {course.lesson(lesson_id).id for lesson_id in early}
    named = set(lesson_ids or ()) | early_ids
    with Ledger.open(course.layout.ledger_path) as ledger:
        withdrawn = ledger.withdrawals()
    # `release --now X` alone publishes X; with lessons named or none at all, X comes on top of those.
    candidates = course.select_lessons(lesson_ids) if lesson_ids or not early_ids else ()
    lessons = [lesson for lesson in course.lessons if lesson.id in early_ids]
    for lesson in candidates:
        if lesson.id in early_ids:
            continue
        if lesson.opens_at > now:
            report.held_back.append(HeldBack(lesson.id, lesson.opens_at))
        elif lesson.id in withdrawn and lesson.id not in named:
            report.withdrawn.append(lesson.id)
        else:
            lessons.append(lesson)
    lessons.sort(key=lambda lesson: lesson.order)
    if not lessons:
        report.unlocked = publish_unlocks(course, clock=clock)
        return report
    write_nbgrader_config(course)
    api = instructor_api(course)
    markers = instructor_markers(nbgrader_config(course))
    with Ledger.open(course.layout.ledger_path) as ledger:
        for lesson in progress.track(lessons, description="Releasing"):
            try:
                report.released.append(_release_one(course, lesson, api=api, markers=markers))
            except LessonError as exc:  # names the lesson itself
                report.problems.append(exc)
                continue
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
        withdrawn = ledger.withdrawals()
        due = [lesson for lesson in course.lessons if lesson.opens_at <= now and lesson.id not in withdrawn]
        changed = [lesson.id for lesson in due if ledger.release_hash(lesson.id) != source_hash(course, lesson)]
    if changed:
        report = release_lessons(course, lesson_ids=changed, clock=clock, progress=progress)
    else:
        report = ReleaseReport(unlocked=publish_unlocks(course, clock=clock))
    report.unchanged = [lesson.id for lesson in due if lesson.id not in changed]
    report.held_back = [HeldBack(lesson.id, lesson.opens_at) for lesson in course.lessons if lesson.opens_at > now]
    report.withdrawn = [lesson.id for lesson in course.lessons if lesson.id in withdrawn and lesson.opens_at <= now]
    return report


def source_hash(course: CourseConfig, lesson: LessonPlan) -> str:
    """A digest of the lesson's source folder: a release is redone only when it changes."""
    digest = hashlib.sha256()
    folder = course.layout.lesson_source(lesson.id)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _release_one(course: CourseConfig, lesson: LessonPlan, *, api, markers: tuple[str, ...]) -> ReleasedLesson:
    max_score = lesson_max_score(course, lesson)  # fails early, naming the notebook, on broken JSON
    _refuse_what_nbgrader_refuses(course, lesson)
    fetch_lesson_data(course, lesson)  # here, with the instructor's network: grading has none
    selection = published_files(course, lesson)
    _refuse_leaks(lesson, marker_hits(course.layout.lesson_source(lesson.id), selection.files, markers=markers),
                  where="would be published")
    _record_due_date(course, lesson)
    try:
        check_result(f"generate_assignment {lesson.id}", api.generate_assignment(lesson.id, force=True, create=True))
    except NbgraderError as exc:
        raise LessonError(CellRef(lesson.id), f"nbgrader cannot build the student version: {nbgrader_reason(exc.detail)} "
                                              f"(`paceline check {lesson.id}` names the cell)") from None
    release_dir = course.layout.lesson_release(lesson.id)
    # nbgrader copied every file of the lesson folder and converted every notebook in it: keep the selection only.
    published = _prune(release_dir, keep=set(selection.published))
    try:
        _refuse_leaks(lesson, marker_hits(release_dir, published, markers=markers), where="is in the student version")
    except LessonError:
        shutil.rmtree(release_dir)
        raise
    outbound = course.layout.exchange.released(lesson.id)
    if lesson.requires:
        if outbound.exists():  # gated since an earlier release: take it back from everyone
            check_result(f"unrelease {lesson.id}", api.unrelease(lesson.id))
    else:
        check_result(f"release_assignment {lesson.id}", api.release_assignment(lesson.id))
        _verify_published(lesson, outbound, allowed=set(published), markers=markers, api=api)
    notebooks = tuple(path for path in published if path in selection.notebooks)
    return ReleasedLesson(lesson.id, release_dir, notebooks, max_score, gated=bool(lesson.requires),
                          files=tuple(published), kept_home=selection.kept_home)


def _refuse_what_nbgrader_refuses(course: CourseConfig, lesson: LessonPlan) -> None:
    """The lesson's metadata problems that would fail nbgrader's generate_assignment, as check words them."""
    from ..authoring.lint import NBGRADER_REFUSES, metadata_problems

    problems = [
        problem for path in lesson_notebook_paths(course, lesson)
        for problem in metadata_problems(read_notebook(path, lesson=lesson.id), lesson_id=lesson.id, notebook=path.name,
                                         markers=RegionMarkers.of(course.nbgrader))
        if problem.code in NBGRADER_REFUSES
    ]
    if problems:
        more = f" (and {len(problems) - 1} more problem(s): run `paceline check {lesson.id}`)" if problems[1:] else ""
        raise LessonError(problems[0].where, problems[0].message + more)


def _prune(folder: Path, *, keep: set[str]) -> list[str]:
    """Delete every file under ``folder`` not in ``keep`` (and folders left empty); returns what is left, sorted."""
    for path in lesson_files(folder):
        if path not in keep:
            (folder / path).unlink()
    for dirpath in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True):
        if not any(dirpath.iterdir()):
            dirpath.rmdir()
    return lesson_files(folder)


def _verify_published(lesson: LessonPlan, outbound: Path, *, allowed: set[str], markers: tuple[str, ...], api) -> None:
    """Read back what students can fetch; take the lesson back if anything unexpected reached it."""
    published = lesson_files(outbound)
    unexpected = sorted(set(published) - allowed)
    hits = marker_hits(outbound, published, markers=markers)
    if unexpected or hits:
        check_result(f"unrelease {lesson.id}", api.unrelease(lesson.id))
        if hits:
            _refuse_leaks(lesson, hits, where="reached the exchange and was taken back")
        raise LessonError(CellRef(lesson.id), f"{', '.join(unexpected)} reached the exchange although not selected, "
                                              "and the lesson was taken back")


def _refuse_leaks(lesson: LessonPlan, hits: list[MarkerHit], *, where: str) -> None:
    if not hits:
        return
    first = hits[0]
    others = f"; also in {', '.join(hit.path for hit in hits[1:])}" if hits[1:] else ""
    raise LessonError(
        CellRef(lesson.id, first.path, line=first.line),
        f"refused, nothing of the lesson was published: this file {where} and holds nbgrader's {first.marker!r} "
        f"marker, an instructor-only copy of solutions or hidden tests{others}. Move it out of the lesson folder, "
        f"remove the solution, or exclude it with [[lessons]] exclude in course.toml",
    )


def _record_due_date(course: CourseConfig, lesson: LessonPlan) -> None:
    """nbgrader computes lateness from the gradebook's due date (naive UTC) plus each submission's extension."""
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(lesson.id, duedate=naive_utc(lesson.due_at) if lesson.due_at else None)
