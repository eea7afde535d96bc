"""students.csv: validated rows, safe ids."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from graders.course.roster import Student, load_roster, validate_student_id, write_roster
from graders.errors import RosterError, StudentIdError

BERLIN = ZoneInfo("Europe/Berlin")
HEADER = "id,name,email,enrolled_at,withdrawn_at\n"


def roster(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "students.csv"
    path.write_text(header + body)
    return path


def test_reads_students_in_course_time_zone(tmp_path: Path) -> None:
    students = load_roster(roster(tmp_path, "ada,Ada L,ada@x.org,2026-09-01,\nbo,Bo,bo@x.org,2026-09-02 08:00,2026-10-01\n"), timezone=BERLIN)
    assert [s.id for s in students] == ["ada", "bo"]
    assert students[0].enrolled_at == dt.datetime(2026, 8, 31, 22, 0, tzinfo=dt.timezone.utc)
    assert students[0].withdrawn_at is None
    assert students[1].withdrawn_at == dt.datetime(2026, 9, 30, 22, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("bad", ["../etc", "a/b", "a b", ".hidden", "a+b", "a*", "", "x" * 65, "a\\b", "tab\tid"])
def test_unsafe_student_ids_are_refused(bad: str) -> None:
    with pytest.raises(StudentIdError, match="unsafe student id"):
        validate_student_id(bad)


@pytest.mark.parametrize("good", ["ada", "s001", "jane.doe", "j_doe-2", "ada@uni.edu"])
def test_ordinary_student_ids_pass(good: str) -> None:
    assert validate_student_id(good) == good


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("../x,X,x@x.org,2026-09-01,\n", 2, "unsafe student id"),
        ("ada,A,a@x.org,2026-09-01,\nada,A2,a2@x.org,2026-09-01,\n", 3, "duplicate student id 'ada' (first on line 2)"),
        ("ada,A,a@x.org,01.09.2026,\n", 2, "enrolled_at: '01.09.2026' is not a date"),
        ("ada,A,a@x.org,,\n", 2, "enrolled_at is empty"),
        ("ada,A,a@x.org,2026-09-05,2026-09-01\n", 2, "withdrawn_at is before enrolled_at"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, body: str, line: int, problem: str) -> None:
    with pytest.raises(RosterError) as info:
        load_roster(roster(tmp_path, body), timezone=BERLIN)
    assert info.value.line == line
    assert problem in str(info.value)


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="missing column.*email"):
        load_roster(roster(tmp_path, "", header="id,name,enrolled_at\n"), timezone=BERLIN)
    with pytest.raises(RosterError, match="unknown column.*phone"):
        load_roster(roster(tmp_path, "", header="id,name,email,enrolled_at,phone\n"), timezone=BERLIN)


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    when = dt.datetime(2026, 9, 1, 7, 30, tzinfo=dt.timezone.utc)
    students = (Student("ada", "Ada", "ada@x.org", when), Student("bo", "Bo", "bo@x.org", when, when + dt.timedelta(days=3)))
    write_roster(tmp_path / "students.csv", students, timezone=BERLIN)
    assert load_roster(tmp_path / "students.csv", timezone=BERLIN) == students
