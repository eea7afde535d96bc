"""What ``paceline watch`` keeps of the gradebooks from one grading run to the next.

Lesson templates. Every grading run hands its workers a gradebook holding the lesson's cells and no students
(:func:`graders.grading.record.lesson_gradebook`). Making one backs up the whole course gradebook,
deletes every student's rows and vacuums: a third of a second for the fixture course, more as the
gradebook grows with a course's grades, on the path of every score watch delivers. What a template
is made of changes only when lessons are released again, so watch keeps each lesson's template and
makes it again only when the gradebook's tables other than the students' ones have changed.

The course gradebook's engine. SQLAlchemy compiles each of nbgrader's queries once per engine, and
a gradebook opened afresh for every run compiled them all again, on the path of every score watch
delivers. Watch keeps one :class:`~nbgrader.api.Gradebook` and gives its connections back after
each run, so between runs it holds no connection and no transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from nbgrader.api import Gradebook

from ..course.plan import CourseConfig
from ..engine.wiring import open_gradebook
from .record import STUDENT_TABLES, lesson_gradebook


class KeptGradebooks:
    """Each lesson's gradebook template, with the digest of the course gradebook's lessons it was made
    from; and the course gradebook, open between runs without a connection."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[str, bytes]] = {}
        self._course: tuple[tuple[str, str, int | None], Gradebook] | None = None

    @contextmanager
    def course_gradebook(self, course: CourseConfig) -> Iterator[Gradebook]:
        """The course's gradebook for one run; its connections are given back when the run ends."""
        # A gradebook file replaced or deleted meanwhile is opened afresh (nbgrader then makes its tables).
        path = course.layout.gradebook_path
        if self._course is None or self._course[0] != (course.layout.gradebook_url, course.id, _inode(path)):
            gradebook = open_gradebook(course)  # creates the file when there is none: its inode is known after
            self._course = ((course.layout.gradebook_url, course.id, _inode(path)), gradebook)
        gradebook = self._course[1]
        try:
            yield gradebook
        finally:
            gradebook.close()  # the session and the pooled connections go; the engine, and what it compiled, stay

    def template(self, course: CourseConfig, lesson_id: str) -> bytes:
        digest = lessons_digest(course.layout.gradebook_path)
        kept = self._kept.get(lesson_id)
        if kept is not None and kept[0] == digest:
            return kept[1]
        template = lesson_gradebook(course, lesson_id)
        self._kept[lesson_id] = (digest, template)
        return template


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def lessons_digest(gradebook: Path) -> str:
    """A digest of every table of the gradebook but the students' and their work: lessons, notebooks,
    cells with their checksums and sources, the course (read-only, in one transaction)."""
    digest = hashlib.sha256()
    with closing(sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)) as db:
        db.execute("BEGIN")  # one snapshot, even while a grade is being recorded
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                  if name not in STUDENT_TABLES]
        for table in tables:
            digest.update(table.encode() + b"\0")
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr(row).encode() + b"\n")
    return digest.hexdigest()
