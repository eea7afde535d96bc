"""Unrelease: take a lesson back from the exchange, the undo of a release.

Removes the lesson from the course's shared ``outbound`` folder (nbgrader's
``list --remove``) and every student's personal copy of a gated lesson,
forgets those unlocks (so a later release publishes it to them again), and
records the withdrawal, so that ``release --due`` and ``paceline watch`` do
not publish it again by themselves; ``paceline release LESSON`` does.

Who already fetched it cannot be known: nbgrader's fetch copies the lesson
into the student's own home folder and leaves no record in the exchange, and
a copy there cannot be recalled. What paceline does know is who submitted it
(collected, or still waiting in ``inbound``): they certainly have a copy.
Collected attempts, grades and feedback are kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from ..course.clock import Clock, SystemClock
from ..course.lock import current_user
from ..course.plan import CourseConfig
from ..course.roster import load_roster
from ..errors import PacelineError
from .ledger import Ledger


@dataclass(frozen=True)
class UnreleaseReport:
    lesson_id: str
    from_outbound: bool  # it was in the shared outbound folder
    personal_copies: tuple[str, ...]  # students whose personal (unlocked) copy was removed
    submitted: tuple[str, ...]  # students known to have it: they submitted it (collected or waiting)


def unrelease_lesson(
    course: CourseConfig, *, lesson_id: str, by: str | None = None, clock: Clock = SystemClock(),
) -> UnreleaseReport:
    """Take ``lesson_id`` back from the exchange; raises :class:`PacelineError` when it is not there."""
    lesson = course.lesson(lesson_id)
    exchange = course.layout.exchange
    outbound = exchange.released(lesson.id)
    personal = sorted(p.parent.name for p in exchange.personal_dir.glob(f"*/{lesson.id}")) \
        if exchange.personal_dir.is_dir() else []
    with Ledger.open(course.layout.ledger_path) as ledger:
        if not outbound.exists() and not personal:
            withdrawn = ledger.withdrawals().get(lesson.id)
            already = (f" (taken back on {withdrawn.withdrawn_at.astimezone(course.timezone):%Y-%m-%d %H:%M %Z} "
                       f"by {withdrawn.withdrawn_by})") if withdrawn else ""
            raise PacelineError(f"{lesson.id} is not in the exchange{already}: there is nothing to take back")
        from_outbound = outbound.exists()
        if from_outbound:
            from ..engine.wiring import check_result, instructor_api, write_nbgrader_config

            write_nbgrader_config(course)
            check_result(f"unrelease {lesson.id}", instructor_api(course).unrelease(lesson.id))
        for student_id in personal:
            copy = exchange.personal(student_id) / lesson.id
            # The student owns their folder: a link planted there is removed itself, never followed.
            if copy.is_symlink():
                copy.unlink()
            else:
                shutil.rmtree(copy)
        ledger.remove_unlocks(lesson.id)
        ledger.record_withdrawal(lesson_id=lesson.id, at=clock.now(), by=by or current_user())
        submitted = {a.student_id for a in ledger.attempts(lesson_ids=[lesson.id])}
    submitted |= _waiting_in_inbound(course, lesson_id=lesson.id)
    return UnreleaseReport(lesson.id, from_outbound, tuple(personal), tuple(sorted(submitted)))


def _waiting_in_inbound(course: CourseConfig, *, lesson_id: str) -> set[str]:
    """Students with a submission of the lesson not collected yet (nbgrader names it student+lesson+time+random).
    Only a hint, read from names students control: shown, never acted on."""
    inbound = course.layout.exchange.inbound
    if not inbound.is_dir():
        return set()
    enrolled = {s.id for s in load_roster(course.roster_path, timezone=course.timezone)}
    found = set()
    for path in inbound.iterdir():
        parts = path.name.split("+")
        if len(parts) in (3, 4) and parts[1] == lesson_id and parts[0] in enrolled:
            found.add(parts[0])
    return found

