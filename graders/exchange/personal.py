"""Paceline's exchange classes for students: nbgrader's, plus lessons unlocked for them alone.

A lesson gated by mastery is never published to the course's shared
``outbound`` folder. When a student unlocks it, :mod:`graders.exchange.unlock` copies
it to ``<exchange>/<course>/personal/<student>/<lesson>``, readable only by
that student's account. These subclasses of nbgrader's list and fetch look
there too, so the lesson appears in the student's Assignments panel, can be
fetched, and can be submitted (nbgrader's submit compares the submission with
the release, which it looks for in ``outbound`` alone). They are
configured in the students' ``nbgrader_config.py`` (see
:func:`graders.exchange.student.student_config`); a student who swaps them back for
nbgrader's own classes just stops seeing gated lessons, and one who looks
for another student's folder finds it unreadable.

:class:`PacelineExchangeFetchFeedback` is nbgrader's *Fetch Feedback* with
folders a student can read: ``feedback/attempt-3 (2026-11-30 14-02)/`` (the
attempt number and receipt time, in the course's time zone, from the
student's progress document) instead of nbgrader's microsecond UTC
timestamp. nbgrader's timestamp name stays, as a link to that folder, so
its list (*feedback already fetched*) and its copy work as before; without a
progress document the folder keeps nbgrader's name.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
from pathlib import Path

from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback
from nbgrader.exchange.default.list import ExchangeList
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import check_mode, get_username, parse_utc

from ..course.layout import PERSONAL, PROGRESS_DOCUMENT, ExchangeLayout, feedback_folder_name

_PERSONAL_PATH = re.compile(rf".*/(?P<course_id>[^/]+)/{PERSONAL}/[^/]+/(?P<assignment_id>[^/]+)$")


def personal_root(exchange_root: str, course_id: str, student_id: str) -> str:
    return str(ExchangeLayout(Path(exchange_root), course_id).personal(student_id))


def _student(coursedir) -> str:
    student_id = coursedir.student_id
    return student_id if student_id and student_id != "*" else get_username()


class PacelineExchangeList(ExchangeList):
    def init_dest(self) -> None:
        super().init_dest()
        if self.inbound or self.cached or not self.coursedir.course_id:
            return
        lesson = self.coursedir.assignment_id or "*"
        mine = personal_root(self.root, self.coursedir.course_id, _student(self.coursedir))
        self.assignments = sorted(set(self.assignments) | set(glob.glob(os.path.join(mine, lesson))))

    def parse_assignment(self, assignment: str) -> dict:
        match = _PERSONAL_PATH.match(assignment)
        if match and not (self.inbound or self.cached):
            return match.groupdict()
        return super().parse_assignment(assignment)


class PacelineExchangeFetchAssignment(ExchangeFetchAssignment):
    def init_src(self) -> None:
        mine = _personal_lesson(self)
        if mine is not None:
            self.course_path = os.path.join(self.root, self.coursedir.course_id)
            self.outbound_path = os.path.dirname(mine)
            self.src_path = mine
            return
        super().init_src()


class PacelineExchangeSubmit(ExchangeSubmit):
    def init_release(self) -> None:
        mine = _personal_lesson(self)
        if mine is not None:
            self.release_path = mine  # a lesson unlocked for this student: its release is theirs alone
            return
        super().init_release()


def _personal_lesson(app: ExchangeFetchAssignment | ExchangeSubmit) -> str | None:
    """The lesson's folder in the student's personal exchange folder, if it is there and theirs to read."""
    course_id, lesson_id = app.coursedir.course_id, app.coursedir.assignment_id
    if not course_id or not lesson_id:
        return None
    mine = os.path.join(personal_root(app.root, course_id, _student(app.coursedir)), lesson_id)
    return mine if os.path.isdir(mine) and check_mode(mine, read=True, execute=True) else None


class PacelineExchangeFetchFeedback(ExchangeFetchFeedback):
    def do_copy(self, src: str, dest: str) -> None:
        names = attempt_folder_names(
            self._progress_document(), lesson_id=self.coursedir.assignment_id,
            timestamps={timestamp for _, timestamp, _ in self.feedback_files})
        for timestamp, name in names.items():
            readable, linked = os.path.join(dest, name), os.path.join(dest, timestamp)
            if os.path.islink(linked):
                continue
            os.makedirs(dest, exist_ok=True)
            if os.path.isdir(linked) and not os.path.exists(readable):
                os.rename(linked, readable)  # fetched before paceline named folders
            os.makedirs(readable, exist_ok=True)
            if not os.path.exists(linked):
                os.symlink(name, linked)  # nbgrader copies into, and lists, its own name
        super().do_copy(src, dest)

    def _progress_document(self) -> dict | None:
        path = os.path.join(personal_root(self.root, self.coursedir.course_id, _student(self.coursedir)), PROGRESS_DOCUMENT)
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None


def attempt_folder_names(document: dict | None, *, lesson_id: str, timestamps: set[str]) -> dict[str, str]:
    """nbgrader's submission timestamp -> ``attempt-N (YYYY-MM-DD HH-MM)``, for the attempts the progress
    document knows by the student's own timestamp (``claimed_at``); the others keep nbgrader's name."""
    if not document:
        return {}
    claimed: dict[dt.datetime, dict] = {}
    for lesson in document.get("lessons", []):
        if lesson.get("id") != lesson_id:
            continue
        for attempt in lesson.get("attempts", []):
            try:
                claimed.setdefault(dt.datetime.fromisoformat(attempt["claimed_at"]), attempt)
            except (KeyError, TypeError, ValueError):
                continue
    names = {}
    for timestamp in timestamps:
        try:
            when = parse_utc(timestamp).replace(tzinfo=dt.timezone.utc)
            attempt = claimed[when]
            local = dt.datetime.fromisoformat(attempt["received_at"])  # already in the course's time zone
            names[timestamp] = feedback_folder_name(int(attempt["number"]), f"{local:%Y-%m-%d %H-%M}")
        except (KeyError, TypeError, ValueError):
            continue
    return names
