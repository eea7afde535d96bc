"""Paceline's exchange classes for students: nbgrader's, plus lessons unlocked for them alone.

A lesson gated by mastery is never published to the course's shared
``outbound`` folder. When a student unlocks it, :mod:`graders.exchange.unlock` copies
it to ``<exchange>/<course>/personal/<student>/<lesson>``, readable only by
that student's account. These subclasses of nbgrader's list and fetch look
there too, so the lesson appears in the student's Assignments panel. They are
configured in the students' ``nbgrader_config.py`` (see
:func:`graders.exchange.student.student_config`); a student who swaps them back for
nbgrader's own classes just stops seeing gated lessons, and one who looks
for another student's folder finds it unreadable.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.list import ExchangeList
from nbgrader.utils import check_mode, get_username

from ..course.layout import PERSONAL, ExchangeLayout

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
        mine = os.path.join(personal_root(self.root, self.coursedir.course_id, _student(self.coursedir)),
                            self.coursedir.assignment_id)
        if self.coursedir.course_id and os.path.isdir(mine) and check_mode(mine, read=True, execute=True):
            self.course_path = os.path.join(self.root, self.coursedir.course_id)
            self.outbound_path = os.path.dirname(mine)
            self.src_path = mine
            return
        super().init_src()
