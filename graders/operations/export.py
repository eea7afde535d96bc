"""Export: the tidy tables that are the contract between grading and analytics.

``lessons``, ``enrollments``, ``submissions`` (one row per attempt),
``cell_scores`` (one row per graded cell of each attempt) and ``timelines``
(each student's own dates per lesson) are written as Parquet and CSV, plus ``grades.csv``, the per-student gradebook an
instructor uploads, ``grades_canvas.csv`` (Canvas's import format) and ``grades_nbgrader.csv`` (the columns of
``nbgrader export``'s grades.csv, for scripts written against nbgrader). Column meanings are documented in
``analytics.tables``; the analytics package reads nothing else.

A lesson whose counting attempt has a manually graded cell still waiting for
its marks is exported with an empty score in every grades file, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analytics.tables import CELL_SCORES_COLUMNS, CourseTables, validate_tables

from ..authoring.lesson import lesson_max_score
from ..course.plan import CourseConfig
from ..course.roster import Student, load_roster
from ..course.timeline import LessonDue
from ..exchange.ledger import Attempt, Ledger
from ..grading.gradebook_scores import sync_gradebook_scores
from ..grading.lateness import student_dues


@dataclass
class ExportResult:
    directory: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)


def export_tables(course: CourseConfig, *, directory: Path | None = None) -> ExportResult:
    """Write every table into ``directory`` (default ``<course>/exports``)."""
    directory = directory or course.layout.export_dir
    tables = course_tables(course)
    frames = {
        "lessons": tables.lessons,
        "enrollments": tables.enrollments,
        "submissions": tables.submissions,
        "cell_scores": tables.cell_scores,
        "timelines": tables.timelines,
    }
    directory.mkdir(parents=True, exist_ok=True)
    result = ExportResult(directory=directory)
    for name, frame in frames.items():
        result.files[name] = [directory / f"{name}.parquet", directory / f"{name}.csv"]
        frame.to_parquet(result.files[name][0], index=False)
        frame.to_csv(result.files[name][1], index=False)
        result.rows[name] = len(frame)
    students = load_roster(course.roster_path, timezone=course.timezone)
    grades = grades_frame(tables.submissions, students=students, lessons=tables.lessons, cell_scores=tables.cell_scores)
    canvas = canvas_frame(grades, lessons=tables.lessons, section=course.id)
    nbgrader = nbgrader_grades_frame(grades, lessons=tables.lessons, submissions=tables.submissions)
    result.files["grades"] = [directory / "grades.csv", directory / "grades_canvas.csv", directory / "grades_nbgrader.csv"]
    grades.to_csv(result.files["grades"][0], index=False)
    canvas.to_csv(result.files["grades"][1], index=False)
    nbgrader.to_csv(result.files["grades"][2], index=False)
    result.rows["grades"] = len(grades)
    return result


def course_tables(course: CourseConfig) -> CourseTables:
    """The analytics tables of the course as they stand (validated), without writing anything.

    Scores of each student's latest attempt are first brought in line with
    the gradebook, as for an export.
    """
    students = load_roster(course.roster_path, timezone=course.timezone)
    max_scores = {lesson.id: lesson_max_score(course, lesson) for lesson in course.lessons}
    with Ledger.open(course.layout.ledger_path) as ledger:
        sync_gradebook_scores(course, ledger)  # manual marks given in formgrader count in the export
        attempts = ledger.attempts(lesson_ids=[lesson.id for lesson in course.lessons])
        cells = [(attempt, ledger.cell_scores(attempt.id)) for attempt in attempts if attempt.status == "graded"]
        dues = [student_dues(course, ledger, student=student, include_ungraded=False) for student in students]
    return validate_tables(CourseTables(
        lessons=lessons_frame(course, max_scores=max_scores),
        enrollments=enrollments_frame(students),
        submissions=submissions_frame(attempts, max_scores=max_scores),
        cell_scores=cell_scores_frame(cells),
        timelines=timelines_frame(dues),
    ))


def lessons_frame(course: CourseConfig, *, max_scores: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({
        "lesson_id": [lesson.id for lesson in course.lessons],
        "title": [lesson.title for lesson in course.lessons],
        "order": [lesson.order for lesson in course.lessons],
        "opens_at": pd.to_datetime([lesson.opens_at for lesson in course.lessons], utc=True),
        "target_at": pd.to_datetime([lesson.target_at for lesson in course.lessons], utc=True),
        "due_at": pd.to_datetime([lesson.due_at for lesson in course.lessons], utc=True),
        "max_score": [max_scores[lesson.id] for lesson in course.lessons],
    })


def enrollments_frame(students: tuple[Student, ...]) -> pd.DataFrame:
    return pd.DataFrame({
        "student_id": [s.id for s in students],
        "enrolled_at": pd.to_datetime([s.enrolled_at for s in students], utc=True),
        "withdrawn_at": pd.to_datetime([s.withdrawn_at for s in students], utc=True),
    })


def submissions_frame(attempts: list[Attempt], *, max_scores: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({
        "student_id": [a.student_id for a in attempts],
        "lesson_id": [a.lesson_id for a in attempts],
        "attempt": pd.array([a.attempt for a in attempts], dtype="int64"),
        "submitted_at": pd.to_datetime([a.submitted_at for a in attempts], utc=True),
        "score": pd.array([a.score for a in attempts], dtype="float64"),
        "max_score": pd.array([a.max_score if a.max_score is not None else max_scores[a.lesson_id] for a in attempts], dtype="float64"),
        "late_penalty": pd.array([a.late_penalty or 0.0 for a in attempts], dtype="float64"),
        "graded_at": pd.to_datetime([a.graded_at for a in attempts], utc=True),
        "status": [a.status for a in attempts],
    })


def cell_scores_frame(cells: list[tuple[Attempt, list]]) -> pd.DataFrame:
    rows = [
        (attempt.student_id, attempt.lesson_id, attempt.attempt, cell.notebook, cell.grade_id, cell.score, cell.max_score)
        for attempt, attempt_cells in cells
        for cell in attempt_cells
    ]
    frame = pd.DataFrame(rows, columns=[column.name for column in CELL_SCORES_COLUMNS])
    return frame.astype({"attempt": "int64", "score": "float64", "max_score": "float64"})


def timelines_frame(dues: list[dict[str, LessonDue]]) -> pd.DataFrame:
    """Every student's dates per lesson, as grading applies them (graders.course.timeline): self-paced
    dates, an extension moving due and target, grace days spent moving the due date."""
    rows = [(due.dates.student_id, due.dates.lesson_id, due.dates.opens_at, due.dates.target_at, due.due_at)
            for student_dues_ in dues for due in student_dues_.values()]
    frame = pd.DataFrame(rows, columns=["student_id", "lesson_id", "opens_at", "target_at", "due_at"])
    return frame.astype({column: "datetime64[ns, UTC]" for column in ("opens_at", "target_at", "due_at")})


def grades_frame(submissions: pd.DataFrame, *, students: tuple[Student, ...], lessons: pd.DataFrame,
                 cell_scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per student and lesson: the latest graded attempt counts, as in nbgrader.

    ``awaiting_manual_grading``: the counting attempt has a cell with no score yet
    (in ``cell_scores``: a manually graded cell nobody has marked); its ``score``
    and ``final_score`` are then empty, not 0.
    """
    roster = pd.DataFrame({
        "student_id": [s.id for s in students], "name": [s.name for s in students], "email": [s.email for s in students],
    })
    grid = roster.merge(lessons[["lesson_id", "order", "max_score"]], how="cross")
    graded = submissions[submissions["status"] == "graded"].sort_values("attempt")
    latest = graded.groupby(["student_id", "lesson_id"], as_index=False).last()[["student_id", "lesson_id", "attempt", "score", "late_penalty"]]
    waiting = awaiting_manual_grading(cell_scores)
    latest = latest.merge(waiting, on=["student_id", "lesson_id", "attempt"], how="left")
    latest["awaiting_manual_grading"] = latest["awaiting_manual_grading"].astype("boolean").fillna(False).astype(bool)
    counts = submissions.groupby(["student_id", "lesson_id"], as_index=False).size().rename(columns={"size": "attempts"})
    grades = grid.merge(latest, on=["student_id", "lesson_id"], how="left").merge(counts, on=["student_id", "lesson_id"], how="left")
    grades["attempts"] = grades["attempts"].fillna(0).astype("int64")
    grades["late_penalty"] = grades["late_penalty"].fillna(0.0)
    grades["awaiting_manual_grading"] = grades["awaiting_manual_grading"].astype("boolean").fillna(False).astype(bool)
    grades["final_score"] = (grades["score"] - grades["late_penalty"]).fillna(0.0)
    grades.loc[grades["awaiting_manual_grading"], ["score", "final_score"]] = float("nan")
    columns = ["student_id", "name", "email", "lesson_id", "attempts", "score", "late_penalty", "final_score", "max_score",
               "awaiting_manual_grading"]
    return grades.sort_values(["student_id", "order"])[columns].reset_index(drop=True)


def awaiting_manual_grading(cell_scores: pd.DataFrame | None) -> pd.DataFrame:
    """The attempts (student_id, lesson_id, attempt) with a cell that has no score yet, flagged True."""
    keys = ["student_id", "lesson_id", "attempt"]
    if cell_scores is None or cell_scores.empty:
        return pd.DataFrame({**{k: pd.Series(dtype="object") for k in keys[:2]}, "attempt": pd.Series(dtype="int64"),
                             "awaiting_manual_grading": pd.Series(dtype="bool")})
    waiting = cell_scores.loc[cell_scores["score"].isna(), keys].drop_duplicates()
    return waiting.assign(awaiting_manual_grading=True).reset_index(drop=True)


NBGRADER_CSV_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                        "raw_score", "late_submission_penalty", "score", "max_score")


def nbgrader_grades_frame(grades: pd.DataFrame, *, lessons: pd.DataFrame, submissions: pd.DataFrame) -> pd.DataFrame:
    """``grades`` in the columns of nbgrader's own ``nbgrader export`` (its CsvExportPlugin), row per lesson and student.

    As nbgrader writes them: times as naive UTC, ``score`` = max(0, raw score - penalty), a lesson without a
    graded attempt scores 0 with an empty timestamp. Names are split at the last space (paceline keeps one name).
    A score awaiting manual grading is empty, where nbgrader would write a number without the missing marks.
    """
    graded = submissions[submissions["status"] == "graded"].sort_values("attempt")
    stamps = graded.groupby(["student_id", "lesson_id"], as_index=False).last()[["student_id", "lesson_id", "submitted_at"]]
    frame = (grades.merge(lessons[["lesson_id", "order", "due_at"]], on="lesson_id")
             .merge(stamps, on=["student_id", "lesson_id"], how="left"))
    names = frame["name"].fillna("").str.rsplit(" ", n=1)
    raw = frame["score"].where(frame["attempts"].gt(0) & frame["score"].notna() | frame["awaiting_manual_grading"], 0.0)
    penalty = frame["late_penalty"].fillna(0.0)
    out = pd.DataFrame({
        "assignment": frame["lesson_id"],
        "duedate": _naive_utc_text(frame["due_at"]),
        "timestamp": _naive_utc_text(frame["submitted_at"]),
        "student_id": frame["student_id"],
        "last_name": names.str[-1].where(names.str.len() > 1, ""),
        "first_name": names.str[0].where(names.str.len() > 1, names.str[0]),
        "email": frame["email"],
        "raw_score": raw,
        "late_submission_penalty": penalty,
        "score": (raw - penalty).clip(lower=0.0),
        "max_score": frame["max_score"],
        "order": frame["order"],
    })
    return out.sort_values(["order", "student_id"])[list(NBGRADER_CSV_COLUMNS)].reset_index(drop=True)


def _naive_utc_text(times: pd.Series) -> pd.Series:
    """As nbgrader prints a gradebook time: ``2026-03-06 22:59:59`` (naive UTC), empty when unknown."""
    naive = pd.to_datetime(times, utc=True).dt.tz_localize(None)
    # str() of the datetime, as nbgrader's export formats it (microseconds only when there are any).
    return pd.Series([str(t.to_pydatetime()) if pd.notna(t) else "" for t in naive], index=times.index, dtype=object)


def canvas_frame(grades: pd.DataFrame, *, lessons: pd.DataFrame, section: str) -> pd.DataFrame:
    """The gradebook in Canvas's import format: one row per student, one column per lesson.

    Canvas matches rows by ``SIS User ID`` (the paceline student id) or
    ``SIS Login ID`` (the email); the ``Points Possible`` row comes first.
    Lesson columns are named ``Title (lesson_id)``. A lesson without a graded
    attempt (nothing submitted, or not graded yet) is left blank: Canvas would
    record a 0 that an instructor then has to tell from a real one, where
    ``grades.csv``'s ``final_score`` counts it as 0.
    """
    columns = {row.lesson_id: f"{row.title} ({row.lesson_id})" for row in lessons.sort_values("order").itertuples()}
    grades = grades.assign(canvas_score=grades["final_score"].where(grades["score"].notna()))
    wide = grades.pivot(index=["student_id", "name", "email"], columns="lesson_id", values="canvas_score")
    wide = wide[list(columns)].rename(columns=columns).reset_index()
    wide.insert(3, "Section", section)
    wide.insert(1, "ID", "")
    wide = wide.rename(columns={"name": "Student", "student_id": "SIS User ID", "email": "SIS Login ID"})
    wide = wide[["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns.values()]]
    points = pd.DataFrame([{"Student": "Points Possible", "ID": "", "SIS User ID": "", "SIS Login ID": "", "Section": "",
                            **{columns[row.lesson_id]: row.max_score for row in lessons.itertuples()}}])
    return pd.concat([points, wide], ignore_index=True)
