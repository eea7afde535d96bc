"""paceline export without kernels: the timelines table carries each student's own dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

from analytics import TIMELINES_COLUMNS, load_tables, pacing_table
from graders.course.plan import load_course
from graders.grading.lateness import grant_extension
from graders.course.roster import Student
from graders.operations.export import canvas_frame, export_tables, grades_frame
from graders.operations.status import cohort_status

UTC = dt.timezone.utc


def at(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True), dtype="datetime64[ns, UTC]")


def test_timelines_hold_personal_dates_with_extensions(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    # Berlin is UTC+2 in September: due 2026-09-20 (end of day) is 21:59:59 UTC; five more days for brook.
    grant_extension(course, student_id="brook", lesson_id="01-add", days=5, reason="ill")
    result = export_tables(course)
    assert result.rows["timelines"] == 6
    assert [path.name for path in result.files["timelines"]] == ["timelines.parquet", "timelines.csv"]

    tables = load_tables(result.directory)
    expected = pd.DataFrame({
        "student_id": pd.Series(["ada", "ada", "brook", "brook", "cyd", "cyd"], dtype="str"),
        "lesson_id": pd.Series(["01-add", "02-words"] * 3, dtype="str"),
        "opens_at": at(*["2026-09-07T07:00Z", "2026-09-14T07:00Z"] * 3),
        # The extension moves brook's target by as much as his due date.
        "target_at": at("2026-09-13T21:59:59Z", "2026-09-20T21:59:59Z", "2026-09-18T21:59:59Z",
                        "2026-09-20T21:59:59Z", "2026-09-13T21:59:59Z", "2026-09-20T21:59:59Z"),
        "due_at": at("2026-09-20T21:59:59Z", "2026-09-27T21:59:59Z", "2026-09-25T21:59:59Z",
                     "2026-09-27T21:59:59Z", "2026-09-20T21:59:59Z", "2026-09-27T21:59:59Z"),
    })
    assert_frame_equal(tables.timelines, expected)
    assert list(tables.timelines.columns) == [column.name for column in TIMELINES_COLUMNS]

    # Analytics measures brook against his own target: not missing on 09-15, when the others are.
    pacing = pacing_table(tables, as_of=dt.datetime(2026, 9, 15, tzinfo=UTC))
    first = pacing.loc[pacing["lesson_id"] == "01-add"].set_index("student_id")["status"]
    assert first.to_dict() == {"ada": "missing", "brook": "not_yet_due", "cyd": "missing"}


def test_cohort_status_uses_the_course_tables_and_at_risk_thresholds(fixture_course: Path) -> None:
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace("[grading]", "[at_risk]\nbehind_lessons = 1\ninactive_days = 5\n\n[grading]"))
    course = load_course(fixture_course)
    grant_extension(course, student_id="brook", lesson_id="01-add", days=5, reason="ill")
    status = cohort_status(course, as_of=dt.datetime(2026, 9, 16, tzinfo=UTC))
    # Nobody has submitted: ada and cyd are a lesson behind; brook's target moved to 09-18.
    assert status.at_risk["student_id"].tolist() == ["ada", "cyd", "brook"]
    assert status.at_risk["reasons"].tolist() == [
        # Work started when 01-add opened (09-07 07:00 UTC), for cyd when she enrolled (09-09 22:00 UTC).
        "1 lesson behind pace; no submission yet, 8 days after starting",
        "1 lesson behind pace; no submission yet, 6 days after starting",
        "no submission yet, 8 days after starting",
    ]
    assert not (fixture_course / "exports").exists()  # status writes nothing


def test_canvas_leaves_a_lesson_blank_without_a_graded_attempt_where_grades_csv_counts_zero(tmp_path: Path) -> None:
    enrolled = dt.datetime(2026, 9, 1, tzinfo=UTC)
    students = tuple(Student(id=s, name=s.title(), email=f"{s}@example.org", enrolled_at=enrolled)
                     for s in ("ada", "brook", "cyd"))
    lessons = pd.DataFrame({"lesson_id": ["01-add", "02-words"], "title": ["Adding", "Words"], "order": [1, 2],
                            "max_score": [3.0, 3.0]})
    submissions = pd.DataFrame({
        "student_id": ["ada", "ada", "ada", "brook"],
        "lesson_id": ["01-add", "01-add", "02-words", "01-add"],
        "attempt": [1, 2, 1, 1],
        "score": [0.0, 2.0, 0.0, float("nan")],
        "late_penalty": [0.0, 0.5, 0.0, 0.0],
        "status": ["graded", "graded", "graded", "failed"],  # brook's only attempt could not be graded
    })
    grades = grades_frame(submissions, students=students, lessons=lessons)
    # grades.csv as documented: a row per student and lesson, final_score 0 when nothing counts.
    final = grades.set_index(["student_id", "lesson_id"])[["attempts", "final_score"]]
    assert final.to_dict("index") == {
        ("ada", "01-add"): {"attempts": 2, "final_score": 1.5}, ("ada", "02-words"): {"attempts": 1, "final_score": 0.0},
        ("brook", "01-add"): {"attempts": 1, "final_score": 0.0}, ("brook", "02-words"): {"attempts": 0, "final_score": 0.0},
        ("cyd", "01-add"): {"attempts": 0, "final_score": 0.0}, ("cyd", "02-words"): {"attempts": 0, "final_score": 0.0},
    }

    path = tmp_path / "grades_canvas.csv"
    canvas_frame(grades, lessons=lessons, section="pyda").to_csv(path, index=False)
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows == [
        "Student,ID,SIS User ID,SIS Login ID,Section,Adding (01-add),Words (02-words)",
        "Points Possible,,,,,3.0,3.0",
        "Ada,,ada,ada@example.org,pyda,1.5,0.0",  # a graded 0 is a real zero
        "Brook,,brook,brook@example.org,pyda,,",
        "Cyd,,cyd,cyd@example.org,pyda,,",
    ]


def test_a_lesson_awaiting_manual_grading_is_exported_empty_never_zero_and_in_nbgrader_columns(tmp_path: Path) -> None:
    from graders.operations.export import nbgrader_grades_frame

    enrolled = dt.datetime(2026, 9, 1, tzinfo=UTC)
    students = (Student(id="ada", name="Ada King Lovelace", email="ada@example.org", enrolled_at=enrolled),
                Student(id="bo", name="Bo", email="bo@example.org", enrolled_at=enrolled))
    lessons = pd.DataFrame({"lesson_id": ["01-add"], "title": ["Adding"], "order": [1], "max_score": [3.0],
                            "due_at": pd.to_datetime(["2026-09-20 21:59:59"], utc=True)})
    submissions = pd.DataFrame({
        "student_id": ["ada", "ada"], "lesson_id": ["01-add", "01-add"], "attempt": [1, 2],
        "submitted_at": pd.to_datetime(["2026-09-10 08:00:00", "2026-09-12 09:30:15.5"], utc=True, format="ISO8601"),
        "score": [2.0, 2.0], "late_penalty": [0.0, 0.0], "status": ["graded", "graded"],
    })
    # Attempt 1's answer was marked; attempt 2 (the one that counts) has an answer nobody marked yet.
    cells = pd.DataFrame({"student_id": ["ada"] * 4, "lesson_id": ["01-add"] * 4, "attempt": [1, 1, 2, 2],
                          "notebook": ["add"] * 4, "grade_id": ["test", "explain", "test", "explain"],
                          "score": [2.0, 1.0, 2.0, float("nan")], "max_score": [2.0, 1.0, 2.0, 1.0]})
    grades = grades_frame(submissions, students=students, lessons=lessons, cell_scores=cells)
    ada = grades.set_index("student_id").loc["ada"]
    assert bool(ada["awaiting_manual_grading"]) and pd.isna(ada["score"]) and pd.isna(ada["final_score"])
    assert grades.set_index("student_id").loc["bo", "final_score"] == 0.0  # nothing submitted: 0, as before

    path = tmp_path / "grades_nbgrader.csv"
    nbgrader_grades_frame(grades, lessons=lessons, submissions=submissions).to_csv(path, index=False)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,late_submission_penalty,score,max_score",
        "01-add,2026-09-20 21:59:59,2026-09-12 09:30:15.500000,ada,Lovelace,Ada King,ada@example.org,,0.0,,3.0",
        "01-add,2026-09-20 21:59:59,,bo,,Bo,bo@example.org,0.0,0.0,0.0,3.0",
    ]
    canvas = canvas_frame(grades, lessons=lessons, section="pyda")
    assert pd.isna(canvas.set_index("SIS User ID").loc["ada", "Adding (01-add)"])

    marked = cells.assign(score=cells["score"].fillna(1.0))  # the teacher marks it (formgrader, then export)
    regraded = grades_frame(submissions, students=students, lessons=lessons, cell_scores=marked)
    assert not regraded["awaiting_manual_grading"].any() and regraded.set_index("student_id").loc["ada", "final_score"] == 2.0
