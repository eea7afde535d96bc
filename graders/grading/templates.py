"""Lesson gradebook templates kept from one grading run to the next, for ``paceline watch``.

Every grading run hands its workers a gradebook holding the lesson's cells and no students
(:func:`graders.grading.record.lesson_gradebook`). Making one backs up the whole course gradebook,
deletes every student's rows and vacuums: a third of a second for the fixture course, more as the
gradebook grows with a course's grades, on the path of every score watch delivers. What a template
is made of changes only when lessons are released again, so watch keeps each lesson's template and
makes it again only when the gradebook's tables other than the students' ones have changed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

from ..course.plan import CourseConfig
from .record import STUDENT_TABLES, lesson_gradebook


class TemplateCache:
    """Each lesson's gradebook template, with the digest of the course gradebook's lessons it was made from."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[str, bytes]] = {}

    def template(self, course: CourseConfig, lesson_id: str) -> bytes:
        digest = lessons_digest(course.layout.gradebook_path)
        kept = self._kept.get(lesson_id)
        if kept is not None and kept[0] == digest:
            return kept[1]
        template = lesson_gradebook(course, lesson_id)
        self._kept[lesson_id] = (digest, template)
        return template


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
