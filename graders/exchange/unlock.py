"""Unlocking gated lessons: publish a lesson to one student once they have mastered its prerequisites.

Runs after grading (and after releasing). Each newly unlocked lesson is copied
from ``release/`` into the student's personal exchange folder, readable by
their account only (see :mod:`graders.exchange.personal`), and the unlock is recorded.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

from ..course.clock import Clock, SystemClock
from ..course.plan import CourseConfig
from ..course.roster import account_name, load_roster
from .gating import best_fractions, is_unlocked
from .ledger import Ledger


def publish_unlocks(course: CourseConfig, *, clock: Clock = SystemClock()) -> list[tuple[str, str]]:
    """Publish every gated lesson a student has unlocked and not yet received; returns (student, lesson) pairs."""
    gated = [lesson for lesson in course.lessons if lesson.requires and course.layout.lesson_release(lesson.id).is_dir()]
    if not gated:
        return []
    published: list[tuple[str, str]] = []
    base = course.layout.exchange.personal_dir
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # students reach their own folder by name; nobody can list the others
    with Ledger.open(course.layout.ledger_path) as ledger:
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
    mine = course.layout.exchange.personal(student_id)
    mine.mkdir(parents=True, exist_ok=True)
    account = _account(student_id)
    if account is not None and os.getuid() == 0:
        # Theirs to read, nobody else's: a group could be shared by every student.
        os.chown(mine, *account)
        os.chmod(mine, 0o500)
    else:
        os.chmod(mine, 0o700)
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


def _account(student_id: str) -> tuple[int, int] | None:
    """(uid, gid) of the student's account on this machine, if they have one."""
    try:
        entry = pwd.getpwnam(account_name(student_id))
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid
