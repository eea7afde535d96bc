"""Due dates and late penalties as nbgrader's gradebook keeps them.

nbgrader's due date for a submission is its lesson's due date plus the
submission's ``extension``; its late penalty is computed by the course's
plugin (:mod:`.policy`) through nbgrader's own ``AssignLatePenalties``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties

from ...course.plan import CourseConfig
from ...engine.wiring import naive_utc, nbgrader_config, open_gradebook


def apply_lateness(course: CourseConfig, *, student_id: str, lesson_id: str, due_at: dt.datetime | None) -> float:
    """Move the graded submission's due date and recompute its late penalty, as nbgrader would.

    Used when an extension is granted or grace days move after the work was
    graded; returns the new penalty.
    """
    config = nbgrader_config(course)
    with open_gradebook(course) as gb:
        set_due(gb.find_submission(lesson_id, student_id), due_at)
        gb.db.commit()
    for path in sorted(course.layout.autograded(student_id=student_id, lesson_id=lesson_id).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        resources = {"nbgrader": {"db_url": course.layout.gradebook_url, "assignment": lesson_id,
                                  "notebook": path.stem, "student": student_id}}
        AssignLatePenalties(config=config).preprocess(nb, resources)
    with open_gradebook(course) as gb:
        return float(gb.find_submission(lesson_id, student_id).late_submission_penalty or 0.0)


def gradebook_dues(course: CourseConfig, pairs: Iterable[tuple[str, str]], *,
                   gradebook: Gradebook | None = None) -> dict[tuple[str, str], dt.datetime | None]:
    """The due date nbgrader currently applies to each (student, lesson) submission (UTC), read at once,
    from ``gradebook`` (the course's, open) or from the course's gradebook opened here."""
    if gradebook is None:
        with open_gradebook(course) as opened:
            return gradebook_dues(course, pairs, gradebook=opened)
    dues: dict[tuple[str, str], dt.datetime | None] = {}
    try:
        for student_id, lesson_id in pairs:
            due = gradebook.find_submission(lesson_id, student_id).duedate
            dues[(student_id, lesson_id)] = due.replace(tzinfo=dt.timezone.utc) if due is not None else None
    finally:
        gradebook.db.rollback()  # read only: hold no transaction while AssignLatePenalties writes
    return dues


def set_due(submission, due_at: dt.datetime | None) -> None:
    """nbgrader's due date for one submission is the lesson's plus the submission's extension."""
    lesson_due = submission.assignment.duedate
    if lesson_due is None or due_at is None:
        submission.extension = None
        return
    submission.extension = naive_utc(due_at) - lesson_due
