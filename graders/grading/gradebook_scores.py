"""The ledger's scores brought in line with nbgrader's gradebook, the source of truth for each student's
latest attempt: marks a teacher gave in formgrader after autograding count wherever paceline shows a score
(the export, ``paceline status``, the student's progress document).

The gradebook is read as SQLite (:mod:`graders.engine.gradebook_reader`), not through nbgrader's ORM:
``paceline status STUDENT`` does this on every run and must start in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Collection

from ..course.plan import CourseConfig
from ..engine.gradebook_reader import read_submissions
from ..exchange.ledger import Attempt, CellScore, Ledger


def sync_gradebook_scores(
    course: CourseConfig, ledger: Ledger, *, student_ids: Collection[str] | None = None,
) -> list[Attempt]:
    """Give each latest graded attempt (of the named students; all when None) the gradebook's score, late
    penalty and cell scores; returns the attempts whose ledger rows changed. Unchanged rows are not written."""
    latest: dict[tuple[str, str], Attempt] = {}
    for attempt in ledger.attempts(student_ids=student_ids):
        latest[(attempt.student_id, attempt.lesson_id)] = attempt  # attempts() is ordered by attempt number
    graded = {key: attempt for key, attempt in latest.items() if attempt.status == "graded"}
    if not graded:
        return []
    submissions = read_submissions(course.layout.gradebook_path, student_ids={s for s, _ in graded},
                                   lesson_ids={lesson for _, lesson in graded})
    changed = []
    for key, attempt in graded.items():
        submission = submissions.get(key)
        if submission is None:
            continue
        if (attempt.score, attempt.late_penalty) != (submission.score, submission.late_penalty):
            ledger.update_score(attempt.id, score=submission.score, late_penalty=submission.late_penalty)
            changed.append(attempt)
        cells = [CellScore(c.notebook, c.grade_id, c.score, c.max_score) for c in submission.cells]
        if sorted(ledger.cell_scores(attempt.id), key=_cell_key) != sorted(cells, key=_cell_key):
            ledger.update_cell_scores(attempt.id, cells=cells)
            if not changed or changed[-1] is not attempt:
                changed.append(attempt)
    return changed


def _cell_key(cell: CellScore) -> tuple[str, str]:
    return cell.notebook, cell.grade_id
