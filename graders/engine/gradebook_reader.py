"""Reading nbgrader's gradebook as SQLite: what a submission scored, and what its feedback page shows.

nbgrader's ORM (SQLAlchemy, and nbgrader's apps behind it) takes about a second to import, more than
``paceline status STUDENT`` may spend in all; the gradebook is an SQLite file whose tables nbgrader
documents. This module is the one place that reads them without nbgrader, and it reads them as
nbgrader's own computed columns define them (``nbgrader.api``):

- a grade's score is its manual score plus extra credit when a teacher gave one, else its auto score
  plus extra credit, else 0 (``Grade.score``); a submission's score is the sum over its notebooks
  (``SubmittedAssignment.score``), its late penalty the sum of its notebooks' (``late_submission_penalty``);
- a grade's points are its grade cell's, or its task cell's (``Grade.max_score``);
- a cell that still waits for a teacher's marks records no score (as
  :func:`graders.engine.wiring.recorded_score` does with the ORM: a manually graded answer, Markdown
  or a solution cell, not marked yet).

``basis`` is a digest of everything of the gradebook that nbgrader's ``GenerateFeedback`` puts on a
submission's feedback page (every grade's auto, manual and extra-credit score and its points, every comment,
every notebook's late penalty): when it changes, the page rendered before is out of date.

Read-only: opened with ``mode=ro``; nothing here writes the gradebook (:mod:`graders.grading.record` does).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GradedCell:
    notebook: str
    grade_id: str
    score: float | None  # None: a manually graded cell no teacher has marked yet
    max_score: float


@dataclass(frozen=True)
class GradebookSubmission:
    """One (student, lesson) submission as nbgrader's gradebook holds it (nbgrader keeps the latest attempt)."""

    student_id: str
    lesson_id: str
    score: float
    late_penalty: float
    cells: tuple[GradedCell, ...]  # by notebook, then grade id
    basis: str  # digest of what its feedback page shows (see the module's docstring)


# One row per grade, with what nbgrader's computed columns need. A grade's cell is a grade cell or a
# task cell (base_cell.type tells which; their own tables hold max_score and cell_type).
GRADES = """
SELECT sa.student_id, a.name, nb.name, bc.name,
       g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade,
       COALESCE(gc.max_score, tc.max_score, 0.0), COALESCE(gc.cell_type, tc.cell_type),
       EXISTS (SELECT 1 FROM base_cell sol WHERE sol.notebook_id = bc.notebook_id AND sol.name = bc.name
               AND sol.type = 'SolutionCell')
FROM submitted_assignment sa
JOIN assignment a ON a.id = sa.assignment_id
JOIN submitted_notebook sn ON sn.assignment_id = sa.id
JOIN notebook nb ON nb.id = sn.notebook_id
JOIN grade g ON g.notebook_id = sn.id
JOIN base_cell bc ON bc.id = g.cell_id
LEFT JOIN grade_cells gc ON gc.id = g.cell_id
LEFT JOIN task_cells tc ON tc.id = g.cell_id
WHERE {where}
ORDER BY sa.student_id, a.name, nb.name, bc.name
"""

# Every submitted notebook, with or without grades: its late penalty is on the page either way.
NOTEBOOKS = """
SELECT sa.student_id, a.name, nb.name, sn.late_submission_penalty
FROM submitted_assignment sa
JOIN assignment a ON a.id = sa.assignment_id
JOIN submitted_notebook sn ON sn.assignment_id = sa.id
JOIN notebook nb ON nb.id = sn.notebook_id
WHERE {where}
ORDER BY sa.student_id, a.name, nb.name
"""

COMMENTS = """
SELECT sa.student_id, a.name, nb.name, bc.name, c.auto_comment, c.manual_comment
FROM submitted_assignment sa
JOIN assignment a ON a.id = sa.assignment_id
JOIN submitted_notebook sn ON sn.assignment_id = sa.id
JOIN notebook nb ON nb.id = sn.notebook_id
JOIN comment c ON c.notebook_id = sn.id
JOIN base_cell bc ON bc.id = c.cell_id
WHERE {where}
ORDER BY sa.student_id, a.name, nb.name, bc.name
"""


def read_submissions(
    gradebook: Path, *, student_ids: Collection[str] | None = None, lesson_ids: Collection[str] | None = None,
) -> dict[tuple[str, str], GradebookSubmission]:
    """The gradebook's submissions by (student, lesson), of the named students and lessons (all when None).

    A gradebook that does not exist yet (nothing released) holds none.
    """
    if not gradebook.exists():
        return {}
    where, params = _filter(student_ids=student_ids, lesson_ids=lesson_ids)
    with closing(sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)) as db:
        grades = db.execute(GRADES.format(where=where), params).fetchall()
        notebooks = db.execute(NOTEBOOKS.format(where=where), params).fetchall()
        comments = db.execute(COMMENTS.format(where=where), params).fetchall()
    facts: dict[tuple[str, str], dict[str, list]] = {}
    for student, lesson, notebook, penalty in notebooks:
        facts.setdefault((student, lesson), {"notebooks": [], "grades": [], "comments": []})["notebooks"].append(
            (notebook, penalty))
    cells: dict[tuple[str, str], list[GradedCell]] = {}
    scores: dict[tuple[str, str], float] = {}
    for student, lesson, notebook, grade_id, auto, manual, extra, needs_manual, points, cell_type, solution in grades:
        key = (student, lesson)
        facts[key]["grades"].append((notebook, grade_id, auto, manual, extra, points))
        score = _score(auto=auto, manual=manual, extra=extra)
        scores[key] = scores.get(key, 0.0) + score
        waiting = awaits_a_teacher(needs_manual_grade=bool(needs_manual), manual_score=manual,
                                   cell_type=cell_type, is_solution=bool(solution))
        cells.setdefault(key, []).append(GradedCell(notebook, grade_id, None if waiting else score, float(points)))
    for student, lesson, notebook, grade_id, auto_comment, manual_comment in comments:
        facts[(student, lesson)]["comments"].append((notebook, grade_id, auto_comment, manual_comment))
    return {
        key: GradebookSubmission(
            student_id=key[0], lesson_id=key[1], score=scores.get(key, 0.0),
            late_penalty=sum(float(penalty or 0.0) for _, penalty in found["notebooks"]),
            cells=tuple(cells.get(key, ())), basis=_digest(found),
        )
        for key, found in facts.items()
    }


def awaits_a_teacher(*, needs_manual_grade: bool, manual_score: float | None, cell_type: str | None,
                     is_solution: bool) -> bool:
    """Whether a graded cell has no score until a teacher marks it. nbgrader's manually graded cells are the
    graded answers: Markdown, or code that is also a solution cell. An autograder test the student deleted
    waits in nbgrader's eyes too (no auto score), but nobody is meant to mark it: it scores 0 until overridden."""
    return needs_manual_grade and manual_score is None and (cell_type == "markdown" or is_solution)


def _score(*, auto: float | None, manual: float | None, extra: float | None) -> float:
    """``nbgrader.api.Grade.score``."""
    if manual is not None:
        return float(manual) + float(extra or 0.0)
    if auto is not None:
        return float(auto) + float(extra or 0.0)
    return 0.0


def _filter(*, student_ids: Collection[str] | None, lesson_ids: Collection[str] | None) -> tuple[str, list[str]]:
    clauses, params = ["1"], []
    for column, values in (("sa.student_id", student_ids), ("a.name", lesson_ids)):
        if values is not None:
            values = sorted(values)
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
            params += values
    return " AND ".join(clauses), params


def _digest(facts: dict[str, list]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]
