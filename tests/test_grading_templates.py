"""watch keeps each lesson's gradebook template between cycles, and makes it again when the lesson changes; and keeps
the course gradebook's engine, with no connection held between cycles."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import graders.grading.templates as templates_module
from graders.course.plan import load_course
from graders.engine.wiring import open_gradebook
from graders.exchange.release import release_lessons
from graders.grading.templates import KeptGradebooks


def test_a_template_is_made_again_only_when_the_lessons_in_the_gradebook_change(fixture_course: Path, monkeypatch) -> None:
    course = load_course(fixture_course)
    release_lessons(course, lesson_ids=["01-add"])
    made = []
    real = templates_module.lesson_gradebook
    monkeypatch.setattr(templates_module, "lesson_gradebook", lambda c, lesson_id: made.append(lesson_id) or real(c, lesson_id))
    cache = KeptGradebooks()
    first = cache.template(course, "01-add")
    assert cache.template(course, "01-add") is first and made == ["01-add"]

    # Students and their grades are not part of a template: recording them changes nothing.
    with open_gradebook(course) as gb:
        gb.add_student("ada")
    assert cache.template(course, "01-add") is first and made == ["01-add"]

    # A lesson released again with other points is: the next template has them.
    with closing(sqlite3.connect(course.layout.gradebook_path)) as db, db:
        db.execute("UPDATE grade_cells SET max_score = max_score + 1")
    second = cache.template(course, "01-add")
    assert made == ["01-add", "01-add"] and second != first
    with closing(sqlite3.connect(":memory:")) as db:
        db.deserialize(second)
        old = sqlite3.connect(":memory:")
        old.deserialize(first)
        total = "SELECT sum(max_score) FROM grade_cells"
        assert db.execute(total).fetchone()[0] == old.execute(total).fetchone()[0] + db.execute(
            "SELECT count(*) FROM grade_cells").fetchone()[0]
        assert db.execute("SELECT count(*) FROM student").fetchone()[0] == 0
        old.close()


def test_the_course_gradebook_keeps_its_engine_and_holds_no_connection_between_runs(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    release_lessons(course, lesson_ids=["01-add"])
    kept = KeptGradebooks()
    with kept.course_gradebook(course) as gb:
        gb.add_student("ada")
        engine = gb.engine
    assert engine.pool.checkedout() == 0
    # Between runs another process writes (formgrader, paceline extend): the next run sees it, and
    # nothing kept could have locked it out.
    with closing(sqlite3.connect(course.layout.gradebook_path, timeout=0)) as db, db:
        db.execute("UPDATE student SET first_name = 'Ada' WHERE id = 'ada'")
    with kept.course_gradebook(course) as gb:
        assert gb.engine is engine and gb.find_student("ada").first_name == "Ada"
    assert engine.pool.checkedout() == 0
    # A gradebook deleted meanwhile is opened afresh: nbgrader makes its tables again.
    course.layout.gradebook_path.unlink()
    with kept.course_gradebook(course) as gb:
        assert gb.engine is not engine and gb.students == []
