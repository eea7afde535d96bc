"""paceline import: an nbgrader course (tests/fixtures/nbgrader_course) becomes a paceline course. No kernels run."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from graders.cli import main
from graders.course.plan import load_course
from graders.errors import PacelineError
from graders.exchange.ledger import Ledger
from graders.operations.nbgrader_settings import read_nbgrader_config
from graders.operations.nbimport import import_nbgrader_course

UTC = dt.timezone.utc


def test_nbgrader_config_is_read_as_data_and_what_cannot_be_mapped_is_listed_with_its_line() -> None:
    settings = read_nbgrader_config(
        "import os\n"
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'pyda'\n"
        "c.ClearSolutions.begin_solution_delimeter = 'BEGIN ANSWER'\n"
        "c.Execute.timeout = 45\n"
        "c.Exchange.root = '/srv/nbgrader/exchange'\n"
        "c.ClearSolutions.text_stub = os.environ['STUB']\n"
        "c.Foo.bar = 1\n"
        "open('/tmp/pwned', 'w')\n"
    )
    assert (settings.course_id, settings.timeout) == ("pyda", 45)
    assert settings.nbgrader_table == {"begin_solution_delimiter": "BEGIN ANSWER"}
    assert [(u.line, u.setting) for u in settings.unmapped] == [
        (1, "import os"), (6, "Exchange.root"), (7, "ClearSolutions.text_stub"), (8, "Foo.bar"), (9, "open('/tmp/pwned', 'w')"),
    ]
    assert "computed" in settings.unmapped[2].reason and "does not run the file" in settings.unmapped[4].reason


def test_import_makes_a_paceline_course_keeping_dates_students_settings_and_submission_times(
        nbgrader_course: Path, tmp_path: Path) -> None:
    report = import_nbgrader_course(nbgrader_course, into=tmp_path / "pyda", clock=_Clock())
    assert report.problems == []
    course = load_course(tmp_path / "pyda")
    assert course.id == "databasics" and course.timezone.key == "Europe/Berlin"
    # Lessons in order of their gradebook due dates, due at the gradebook's time (naive UTC there).
    assert [lesson.id for lesson in course.lessons] == [
        "basics", "reads-data", "needs-package", "downloads", "asks-input", "grading-mode", "uses-helper"]
    assert course.lesson("basics").due_at == dt.datetime(2026, 3, 6, 22, 59, 59, tzinfo=UTC)
    assert course.lesson("asks-input").due_at == dt.datetime(2026, 4, 3, 21, 59, 59, tzinfo=UTC)
    assert (course.grading.timeout, course.nbgrader.text_stub) == (20, "WRITE YOUR ANSWER HERE")
    assert dict(course.nbgrader.code_stub)["python"].endswith("NotImplementedError('write your answer here')")
    assert course.nbgrader.header == (tmp_path / "pyda" / "course_source" / "header.ipynb").resolve()
    assert course.nbgrader.kept_files("uses-helper") == ("notes.txt",)
    assert (course.source_dir / "reads-data" / "data" / "temperatures.csv").is_file()
    assert (course.source_dir / "uses-helper" / "helpers.py").is_file()  # copied as it is; check and release judge it
    roster = (tmp_path / "pyda" / "students.csv").read_text().splitlines()
    assert roster[1:] == ["alice,Alice Archer,alice@example.org,2026-03-05 00:00,",
                          "bob,Bob Baker,bob@example.org,2026-03-05 00:00,",
                          "carol,Carol Cole,carol@example.org,2026-03-05 00:00,"]
    assert "load_course" in (tmp_path / "pyda" / "nbgrader_config.py").read_text()  # paceline's, reading course.toml
    unmapped = "\n".join(report.unmapped)
    for expected in ("line 2: import os", "line 7: Exchange.root", "line 16: NbGrader.logfile",
                     "line 17: ClearOutput.remove_metadata_fields", "line 18: if os.environ"):
        assert expected in unmapped

    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = {(a.student_id, a.lesson_id): a for a in ledger.attempts()}
    assert len(attempts) == report.attempts == 11
    carol = attempts[("carol", "basics")]
    # Received when nbgrader recorded it (timestamp.txt), not at import: late, as it was.
    assert (carol.origin, carol.received_at, carol.status) == ("imported", dt.datetime(2026, 3, 8, 9, 30, tzinfo=UTC), "collected")
    assert carol.received_at > course.lesson("basics").due_at
    archived = course.layout.attempt_dir(student_id="carol", lesson_id="basics", attempt=1)
    assert sorted(p.name for p in archived.iterdir()) == ["basics.ipynb", "timestamp.txt"]
    assert report.grades_kept == 0  # nothing was autograded in this gradebook

    # The imported course's [nbgrader] settings reach release: the header notebook leads the released lesson.
    from graders.exchange.release import release_lessons

    assert release_lessons(course, lesson_ids=["basics"]).problems == []
    released = json.loads((course.layout.lesson_release("basics") / "basics.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in released["cells"]]
    assert sources[0].startswith("**Data Basics**")
    assert "raise NotImplementedError('write your answer here')" in sources[3] and "return a + b" not in sources[3]
    assert sources[5] == "WRITE YOUR ANSWER HERE"


def test_import_refuses_to_overwrite_a_course_and_never_writes_into_the_nbgrader_course(
        nbgrader_course: Path, tmp_path: Path) -> None:
    import_nbgrader_course(nbgrader_course, into=tmp_path / "pyda", clock=_Clock())
    before = (tmp_path / "pyda" / "course.toml").read_text()
    with pytest.raises(PacelineError, match="is a paceline course"):
        import_nbgrader_course(nbgrader_course, into=tmp_path / "pyda", clock=_Clock())
    assert (tmp_path / "pyda" / "course.toml").read_text() == before
    with pytest.raises(PacelineError, match="outside the nbgrader course"):
        import_nbgrader_course(nbgrader_course, into=nbgrader_course / "paceline", clock=_Clock())
    result = CliRunner().invoke(main, ["import", str(nbgrader_course), "--into", str(tmp_path / "pyda")])
    assert result.exit_code == 1 and "is a paceline course" in result.output


def test_hostile_submitted_folders_are_left_out_with_the_reason_and_the_rest_imported(
        nbgrader_course: Path, tmp_path: Path) -> None:
    submitted = nbgrader_course / "submitted"
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's private key")
    (submitted / "mallory").symlink_to(submitted / "alice")  # a student folder that is a link
    (submitted / "bob" / "downloads").symlink_to(nbgrader_course / "source" / "downloads")  # a lesson folder link
    (submitted / "carol" / "uses-helper").mkdir()
    (submitted / "carol" / "uses-helper" / "uses-helper.ipynb").symlink_to(secret)  # a file link
    (submitted / "carol" / "uses-helper" / "timestamp.txt").write_text("2026-04-16 10:00:00.000000 UTC")
    (submitted / "eve\nx").mkdir()  # a name no student id can have
    (submitted / "eve\nx" / "basics").mkdir()
    report = import_nbgrader_course(nbgrader_course, into=tmp_path / "pyda", clock=_Clock())
    problems = "\n".join(map(str, report.problems))
    assert "mallory" in problems and "symbolic link" in problems
    assert "mallory" not in (tmp_path / "pyda" / "students.csv").read_text()
    assert "downloads" in problems and "uses-helper.ipynb is a symbolic link" in problems
    assert "eve\\nx" in problems
    assert report.attempts == 11  # every honest submission
    course = load_course(tmp_path / "pyda")
    for path in course.layout.submitted_dir.rglob("*"):
        assert not path.is_symlink() and "private key" not in (path.read_text() if path.is_file() else "")
    result = CliRunner().invoke(main, ["import", str(nbgrader_course), "--into", str(tmp_path / "again")])
    assert result.exit_code == 1 and "submitted folders could not be imported" in result.output


class _Clock:
    def now(self) -> dt.datetime:
        return dt.datetime(2026, 11, 30, 12, tzinfo=UTC)
