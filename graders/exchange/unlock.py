"""Unlocking gated lessons: publish a lesson to one student once they have mastered its prerequisites.

Runs after grading (and after releasing). Each newly unlocked lesson is copied
from ``release/`` into the student's personal exchange folder, readable by
their account only (see :mod:`.personal_folder` and :mod:`.personal`), and the unlock is recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..course.clock import Clock, SystemClock
from ..course.plan import CourseConfig
from ..course.roster import load_roster
from .gating import best_fractions, is_unlocked
from .ledger import Ledger
from .personal_folder import personal_folder


def publish_unlocks(course: CourseConfig, *, clock: Clock = SystemClock()) -> list[tuple[str, str]]:
    """Publish every gated lesson a student has unlocked and not yet received; returns (student, lesson) pairs."""
    gated = [lesson for lesson in course.lessons if lesson.requires and course.layout.lesson_release(lesson.id).is_dir()]
    if not gated:
        return []
    published: list[tuple[str, str]] = []
    with Ledger.open(course.layout.ledger_path) as ledger:
        withdrawn = ledger.withdrawals()  # taken back by `paceline unrelease`: nobody gets it until released again
        gated = [lesson for lesson in gated if lesson.id not in withdrawn]
        if not gated:
            return []
        done = ledger.unlocks()
        for student in load_roster(course.roster_path, timezone=course.timezone):
            best = best_fractions(ledger.attempts(student_ids=[student.id]))
            for lesson in gated:
                if (student.id, lesson.id) in done or not is_unlocked(course, lesson, best=best):
                    continue
                _publish(course, student_id=student.id, lesson_id=lesson.id)
                ledger.add_unlock(student_id=student.id, lesson_id=lesson.id, at=clock.now())
                published.append((student.id, lesson.id))
    return published


def _publish(course: CourseConfig, *, student_id: str, lesson_id: str) -> None:
    mine = personal_folder(course, student_id)
    # Copy beside the destination and rename, so a student never fetches half a lesson.
    staging = Path(tempfile.mkdtemp(prefix=f".{lesson_id}-", dir=mine))
    shutil.copytree(course.layout.lesson_release(lesson_id), staging, dirs_exist_ok=True)
    for folder, _, files in os.walk(staging):
        os.chmod(folder, 0o755)  # the parent folder already keeps everyone else out
        for name in files:
            os.chmod(Path(folder) / name, 0o644)
    target = mine / lesson_id
    if target.exists():
        shutil.rmtree(target)
    os.rename(staging, target)

