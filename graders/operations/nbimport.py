"""``paceline import``: an existing nbgrader course becomes a paceline course.

From an nbgrader course folder (nbgrader's documented layout: ``nbgrader_config.py``,
``source/<assignment>/``, ``gradebook.db``, ``submitted/<student>/<assignment>/``,
``autograded/``) into a new folder:

- ``course_source/<lesson>/``: each lesson's source folder, copied as it is;
- ``course.toml``: lessons in order of their gradebook due dates, due dates
  from the gradebook (nbgrader keeps no opening or target date: every lesson
  opens at the first date the course knows of and targets its due date), and
  ``[nbgrader]``/``[grading]`` settings from ``nbgrader_config.py``, which is
  read as data, never run (:mod:`.nbgrader_settings`); whatever cannot be
  mapped is listed with the reason;
- ``students.csv`` from the gradebook's students (and anyone who submitted);
- ``gradebook.db``: a copy of the old gradebook, so grades given there
  (manual ones included) are kept and formgrader shows them, and ``autograded/``
  for the attempts nbgrader graded;
- every ``submitted/<student>/<assignment>/`` as the student's attempt in the
  ledger, marked *imported*, received at the time nbgrader recorded
  (``timestamp.txt``), so history and lateness survive. An attempt nbgrader graded
  keeps its gradebook score (``paceline grade`` leaves it, ``--all`` regrades it); the
  others wait for ``paceline grade``. Submitted folders get collection's
  hostile-input checks: a folder that fails them is left out and reported.

The nbgrader course itself is only read. An existing folder that is not empty is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..course.clock import Clock, SystemClock
from ..course.layout import AUTOGRADED, DEFAULT_SOURCE, GRADEBOOK, NBGRADER_CONFIG_NAME, TIMESTAMP, CourseLayout
from ..course.plan import CourseConfig, load_course
from ..course.roster import Student, validate_student_id, write_roster
from ..course.toml_reader import SAFE_ID
from ..errors import PacelineError, StudentIdError, SubmissionError, describe
from ..exchange.submission_checks import entry_name_problem, shown
from .nbgrader_settings import NbgraderCourseSettings, Unmapped, read_nbgrader_config

UTC = dt.timezone.utc


@dataclass
class ImportReport:
    root: Path
    course_id: str = ""
    lessons: list[str] = field(default_factory=list)
    students: int = 0
    attempts: int = 0  # submitted folders imported as attempts
    grades_kept: int = 0  # of which nbgrader's gradebook already had the grade
    unmapped: list[str] = field(default_factory=list)  # what was not carried over, each with the reason
    problems: list[PacelineError] = field(default_factory=list)  # submitted folders refused


@dataclass(frozen=True)
class _Lesson:
    id: str
    due: dt.datetime | None  # aware UTC


def import_nbgrader_course(nbgrader_dir: Path, *, into: Path | None = None, clock: Clock = SystemClock()) -> ImportReport:
    """Import the nbgrader course at ``nbgrader_dir`` into ``into`` (default: ``<nbgrader_dir>-paceline`` beside it)."""
    source_root = nbgrader_dir.resolve()
    if not source_root.is_dir():
        raise PacelineError(f"{nbgrader_dir} is not a folder (expected an nbgrader course folder)")
    root = (into if into is not None else source_root.parent / f"{source_root.name}-paceline").resolve()
    if root == source_root or source_root in root.parents:
        raise PacelineError(f"import into a folder outside the nbgrader course, not {root}: the nbgrader course is only read")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        what = "a paceline course" if (root / "course.toml").exists() else "not empty"
        raise PacelineError(f"{root} is {what}: import into a new or empty folder (nothing was changed)")

    settings = _read_settings(source_root)
    report = ImportReport(root=root, unmapped=[str(u) for u in settings.unmapped])
    timezone = _timezone(settings, report)
    gradebook = _gradebook_path(source_root, settings, report)
    assignments, people, submitted = _read_gradebook(gradebook) if gradebook else ({}, {}, {})
    source_dir = source_root / settings.source_directory
    if not source_dir.is_dir():
        raise PacelineError(f"{source_dir} does not exist: no nbgrader source folder to import")
    lessons = _lessons(source_dir, assignments, report)
    if not lessons:
        raise PacelineError(f"{source_dir} has no lesson folders with notebooks")
    submitted_dir = source_root / settings.submitted_directory
    stamps = _timestamps(submitted_dir, submitted)
    start = min([lesson.due for lesson in lessons if lesson.due] + list(stamps.values()) + [clock.now()])
    start_day = dt.datetime.combine(start.astimezone(timezone).date(), dt.time(), tzinfo=timezone)

    course_id = settings.course_id or source_root.name
    if not SAFE_ID.match(course_id) or ".." in course_id:
        report.unmapped.append(f"course id {course_id!r} is not a safe id: the course is called 'imported'")
        course_id = "imported"
    report.course_id = course_id
    root.mkdir(parents=True, exist_ok=True)
    layout = CourseLayout.of(root, course_id=course_id)
    for lesson in lessons:
        shutil.copytree(source_dir / lesson.id, layout.lesson_source(lesson.id))
    table = _nbgrader_table(settings, source_root=source_root, source_dir=source_dir, layout=layout, report=report,
                            lesson_ids={lesson.id for lesson in lessons})
    students = _students(people, submitted_dir, enrolled=start_day, report=report)
    write_roster(layout.roster_path, students, timezone=timezone)
    layout.config_path.write_text(_course_toml(
        course_id=course_id, title=f"{course_id} (imported from nbgrader)", timezone=timezone, lessons=lessons,
        start=start_day, timeout=settings.timeout, nbgrader=table, imported_from=source_root, report=report,
    ), encoding="utf-8")
    from ..authoring.scaffold import gitignore_text

    layout.gitignore_path.write_text(gitignore_text(""), encoding="utf-8")
    course = load_course(root)
    if gradebook:
        with sqlite3.connect(gradebook) as old, sqlite3.connect(layout.gradebook_path) as new:
            old.backup(new)  # a consistent copy even if formgrader has the old one open
    from ..engine.wiring import write_nbgrader_config

    write_nbgrader_config(course)
    report.lessons = [lesson.id for lesson in lessons]
    report.students = len(students)
    _import_attempts(course, submitted_dir, source_root=source_root, stamps=stamps, report=report, clock=clock)
    return report


def _read_settings(source_root: Path) -> NbgraderCourseSettings:
    path = source_root / NBGRADER_CONFIG_NAME
    if not path.is_file():
        return NbgraderCourseSettings()
    try:
        return read_nbgrader_config(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        raise PacelineError(f"{path} cannot be read as Python: {describe(exc)}") from None


def _timezone(settings: NbgraderCourseSettings, report: ImportReport) -> ZoneInfo:
    try:
        return ZoneInfo(settings.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        report.unmapped.append(f"Exchange.timezone {settings.timezone!r} is not an IANA time zone: the course uses UTC")
        return ZoneInfo("UTC")


def _gradebook_path(source_root: Path, settings: NbgraderCourseSettings, report: ImportReport) -> Path | None:
    url = settings.db_url or f"sqlite:///{source_root / GRADEBOOK}"
    if not url.startswith("sqlite:///"):
        report.unmapped.append(f"CourseDirectory.db_url {url!r}: only an SQLite gradebook can be imported; "
                               "no due dates, students or grades came from it")
        return None
    path = Path(url.removeprefix("sqlite:///"))
    path = path if path.is_absolute() else source_root / path
    if not path.is_file():
        report.unmapped.append(f"no gradebook at {path}: due dates and students come from the folders alone")
        return None
    return path


def _read_gradebook(path: Path) -> tuple[dict[str, dt.datetime | None], dict[str, dict[str, str]], dict[tuple[str, str], dt.datetime]]:
    """Assignments' due dates, students, and the timestamps of recorded submissions, read with plain SQL
    (opening it with nbgrader's Gradebook would upgrade the old file in place)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        assignments = {row["name"]: _utc(row["duedate"]) for row in db.execute("SELECT name, duedate FROM assignment")}
        people = {row["id"]: {"first": row["first_name"] or "", "last": row["last_name"] or "", "email": row["email"] or ""}
                  for row in db.execute("SELECT id, first_name, last_name, email FROM student")}
        submitted = {(row["student_id"], row["name"]): _utc(row["timestamp"]) for row in db.execute(
            "SELECT s.student_id, a.name, s.timestamp FROM submitted_assignment s JOIN assignment a ON a.id = s.assignment_id")}
    return assignments, people, {key: when for key, when in submitted.items() if when is not None}


def _utc(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=UTC)  # nbgrader keeps naive UTC


def _lessons(source_dir: Path, assignments: dict[str, dt.datetime | None], report: ImportReport) -> list[_Lesson]:
    found = []
    names = sorted({p.name for p in source_dir.iterdir() if p.is_dir() and not p.name.startswith(".")} | set(assignments))
    for name in names:
        folder = source_dir / name
        if not SAFE_ID.match(name) or ".." in name:
            report.unmapped.append(f"lesson {shown(name)}: not a safe lesson id (letters, digits, . _ @ -); left out")
        elif not folder.is_dir():
            report.unmapped.append(f"assignment {name!r} is in the gradebook but has no source folder; left out")
        elif not any(folder.glob("*.ipynb")):
            report.unmapped.append(f"folder {name!r} in {source_dir.name}/ has no notebooks: not a lesson; left out")
        else:
            found.append(_Lesson(name, assignments.get(name)))
    far = dt.datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda lesson: (lesson.due or far, lesson.id))


def _timestamps(submitted_dir: Path, recorded: dict[tuple[str, str], dt.datetime]) -> dict[tuple[str, str], dt.datetime]:
    """When each submission was made: its ``timestamp.txt``, else the gradebook's record of it."""
    from nbgrader.utils import parse_utc

    stamps = dict(recorded)
    if not submitted_dir.is_dir():
        return stamps
    for student in submitted_dir.iterdir():
        if student.is_symlink() or not student.is_dir():
            continue
        for lesson in student.iterdir():
            stamp = lesson / TIMESTAMP
            if lesson.is_symlink() or stamp.is_symlink() or not stamp.is_file() or stamp.stat().st_size > 200:
                continue
            try:
                stamps[(student.name, lesson.name)] = parse_utc(stamp.read_text(encoding="utf-8").strip()).replace(tzinfo=UTC)
            except Exception:  # noqa: BLE001 - dateutil raises several types for a student's text
                continue
    return stamps


def _nbgrader_table(settings: NbgraderCourseSettings, *, source_root: Path, source_dir: Path, layout: CourseLayout,
                    report: ImportReport, lesson_ids: set[str]) -> dict[str, Any]:
    """course.toml's ``[nbgrader]``; header and footer notebooks are copied into the new course."""
    table = dict(settings.nbgrader_table)
    for key in ("header", "footer"):
        if key not in table:
            continue
        given = Path(str(table.pop(key)))
        old = (given if given.is_absolute() else source_root / given).resolve()
        if not old.is_file():
            report.unmapped.append(f"IncludeHeaderFooter.{key} {str(given)!r}: no such notebook; left out")
            continue
        inside_source = source_dir.resolve() in old.parents
        new = layout.source_dir / old.relative_to(source_dir.resolve()) if inside_source else layout.root / old.name
        new.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(old, new)
        table[key] = new.relative_to(layout.root).as_posix()
    kept = table.get("exclude_overwriting")
    if isinstance(kept, dict):
        unknown = sorted(set(kept) - lesson_ids)
        for lesson_id in unknown:
            report.unmapped.append(f"Autograde.exclude_overwriting names {lesson_id!r}, which is not an imported lesson; left out")
        table["exclude_overwriting"] = {k: v for k, v in kept.items() if k in lesson_ids}
        if not table["exclude_overwriting"]:
            del table["exclude_overwriting"]
    return table


def _students(people: dict[str, dict[str, str]], submitted_dir: Path, *, enrolled: dt.datetime,
              report: ImportReport) -> list[Student]:
    ids = set(people)
    if submitted_dir.is_dir():
        ids |= {p.name for p in submitted_dir.iterdir() if p.is_dir() and not p.is_symlink()}
    students = []
    for student_id in sorted(ids):
        try:
            validate_student_id(student_id)
        except StudentIdError as exc:
            report.unmapped.append(f"student {shown(student_id)}: {exc}; left out")
            continue
        person = people.get(student_id, {"first": "", "last": "", "email": ""})
        name = " ".join(part for part in (person["first"], person["last"]) if part) or student_id
        students.append(Student(student_id, name, person["email"], enrolled.astimezone(UTC)))
    return students


def _toml(value: Any) -> str:
    """A TOML value (strings as basic strings: JSON's escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def _course_toml(*, course_id: str, title: str, timezone: ZoneInfo, lessons: list[_Lesson], start: dt.datetime,
                 timeout: int | None, nbgrader: dict[str, Any], imported_from: Path, report: ImportReport) -> str:
    local = "%Y-%m-%dT%H:%M:%S"
    last = max((lesson.due for lesson in lessons if lesson.due), default=None)
    lines = [
        f"# Imported by `paceline import` from the nbgrader course {imported_from}.",
        "# nbgrader keeps no opening or target dates: every lesson opens when the course starts and targets its due date.",
        "", "[course]", f"id = {_toml(course_id)}", f"title = {_toml(title)}", f"timezone = {_toml(timezone.key)}",
        f'source = "{DEFAULT_SOURCE}"', "", "[late_policy]",
        'method = "none"      # nbgrader\'s default: late work is flagged, not penalised', "",
        "[grading]", f"timeout = {timeout if timeout and timeout > 0 else 30}", "",
    ]
    if nbgrader:
        lines += ["[nbgrader]"] + [f"{key} = {_toml(value)}" for key, value in nbgrader.items()] + [""]
    for lesson in lessons:
        target = lesson.due or last or start + dt.timedelta(days=7)
        if lesson.due is None:
            report.unmapped.append(f"lesson {lesson.id!r} has no due date in the gradebook: its target is "
                                   f"{target.astimezone(timezone):%Y-%m-%d %H:%M} and it has no due date")
        target = max(target, start)
        lines += ["[[lessons]]", f"id = {_toml(lesson.id)}", f"title = {_toml(lesson.id)}",
                  f"opens = {start.astimezone(timezone).strftime(local)}",
                  f"target = {target.astimezone(timezone).strftime(local)}"]
        if lesson.due is not None:
            lines.append(f"due = {max(lesson.due, start).astimezone(timezone).strftime(local)}")
        lines.append("")
    return "\n".join(lines)


def _import_attempts(course: CourseConfig, submitted_dir: Path, *, source_root: Path,
                     stamps: dict[tuple[str, str], dt.datetime], report: ImportReport, clock: Clock) -> None:
    """Every submitted folder as an imported attempt; nbgrader's grades kept where the gradebook has them."""
    if not submitted_dir.is_dir():
        return
    from ..exchange.collect import import_attempt
    from ..exchange.ledger import Ledger

    students = {student.id for student in _roster(course)}
    lesson_ids = {lesson.id for lesson in course.lessons}
    with Ledger.open(course.layout.ledger_path) as ledger:
        for student_dir in sorted(submitted_dir.iterdir()):
            try:
                problem = entry_name_problem(student_dir.name)
                if problem or student_dir.name not in students:
                    raise PacelineError(f"submitted/{shown(student_dir.name)}: refused: "
                                        f"{problem or 'not a safe student id'}")
                if student_dir.is_symlink() or not student_dir.is_dir():
                    raise PacelineError(f"submitted/{shown(student_dir.name)}: refused: not a folder (a symbolic link or a file)")
                lessons = sorted(student_dir.iterdir())
            except PacelineError as exc:
                report.problems.append(exc)
                continue
            for folder in lessons:
                student_id, lesson_id = student_dir.name, folder.name
                try:
                    if lesson_id not in lesson_ids:
                        raise SubmissionError(student_id, lesson_id, None,
                                              f"submitted/{student_id}/{shown(lesson_id)} is not an imported lesson; left out")
                    when = stamps.get((student_id, lesson_id))
                    if when is None:
                        raise SubmissionError(student_id, lesson_id, None,
                                              f"no readable {TIMESTAMP} and no time in the gradebook: when it was "
                                              "submitted is unknown, so it is left out")
                    attempt = import_attempt(course, ledger, folder=folder, student_id=student_id, lesson_id=lesson_id,
                                             submitted_at=when)
                except Exception as exc:  # noqa: BLE001 - one bad folder is reported, the rest imported
                    report.problems.append(exc if isinstance(exc, PacelineError) else
                                           SubmissionError(student_id, lesson_id, None, describe(exc)))
                    continue
                report.attempts += 1
                if _keep_grade(course, ledger, attempt, source_root=source_root, report=report, clock=clock):
                    report.grades_kept += 1


def _roster(course: CourseConfig) -> tuple[Student, ...]:
    from ..course.roster import load_roster

    return load_roster(course.roster_path, timezone=course.timezone)


def _keep_grade(course: CourseConfig, ledger, attempt, *, source_root: Path, report: ImportReport, clock: Clock) -> bool:
    """The gradebook's grade of this submission, recorded for the imported attempt (and nbgrader's
    ``autograded/`` copy of it, which formgrader shows); False if nbgrader had not graded it."""
    if not course.layout.gradebook_path.exists():
        return False
    from nbgrader.api import MissingEntry

    from ..engine.wiring import open_gradebook, recorded_score
    from ..exchange.ledger import CellScore

    with open_gradebook(course) as gb:
        try:
            submission = gb.find_submission(attempt.lesson_id, attempt.student_id)
        except MissingEntry:
            return False
        cells = [CellScore(notebook.name, grade.name, recorded_score(grade), float(grade.max_score))
                 for notebook in submission.notebooks for grade in notebook.grades]
        if not cells or all(grade.auto_score is None and grade.manual_score is None
                            for notebook in submission.notebooks for grade in notebook.grades):
            return False
        ledger.record_grade(attempt.id, score=float(submission.score or 0.0), max_score=float(submission.max_score or 0.0),
                            late_penalty=float(submission.late_submission_penalty or 0.0), graded_at=clock.now(), cells=cells)
    graded = source_root / AUTOGRADED / attempt.student_id / attempt.lesson_id
    if graded.is_dir() and not graded.is_symlink():
        from ..exchange.collect import copy_graded_folder

        try:
            copy_graded_folder(course, graded, student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                               dest=course.layout.autograded(student_id=attempt.student_id, lesson_id=attempt.lesson_id))
        except PacelineError as exc:
            report.problems.append(exc)
    return True
