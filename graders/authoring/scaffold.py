"""Scaffolding: a new course folder, and new lessons from paceline's template.

The lesson template (``templates/lesson.ipynb``) is a real nbgrader source
notebook that passes ``check``: a course made here can be released at once,
and an instructor learns the cell roles by editing a working example.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..course.clock import Clock, SystemClock
from ..course.layout import DEFAULT_EXCHANGE, DEFAULT_ROSTER, DEFAULT_SOURCE, STUDENT_DATA_PATTERNS, CourseLayout
from ..course.plan import find_config, load_course
from ..course.toml_reader import SAFE_ID
from ..errors import ConfigError, PacelineError

LESSON_DATE_KEYS = ("opens", "target", "due")
TomlDate = dt.date | dt.datetime  # as written in course.toml: a day, or a wall-clock time in the course's zone

TEMPLATE_PATH = Path(__file__).parent / "templates" / "lesson.ipynb"
TITLE_PLACEHOLDER = "{{ lesson_title }}"
EXAMPLE_LESSON_ID = "01-getting-started"
EXAMPLE_LESSON_TITLE = "Getting started"

_README = """\
# {title}

A self-paced Jupyter course managed with paceline and graded by nbgrader.

- `course.toml`: the course plan (time zone, late policy, and when each lesson opens, is targeted and is due).
- `students.csv`: the roster (`id,name,email,enrolled_at`); replace the example row with your students.
- `course_source/<lesson>/`: the nbgrader source notebooks of each lesson, with solutions and hidden tests.

Check lessons before releasing them with `paceline check`; `paceline --help` lists every command.
Student submissions, grades and reports stay out of version control (see `.gitignore`).
"""


def init_course(
    directory: Path,
    *,
    course_id: str,
    title: str,
    timezone: str,
    clock: Clock | None = None,
) -> Path:
    """Create a course in ``directory`` (made if missing) with one example lesson; returns the course root.

    Refuses a folder that already holds a ``course.toml``; an existing README or
    roster is kept, and an existing ``.gitignore`` gains the student-data patterns.
    """
    _require_safe_id(course_id, what="course id")
    _require_title(title)
    zone = _zone(timezone)
    layout = CourseLayout.of(directory, course_id=course_id)
    config_path = layout.config_path
    if config_path.exists():
        raise PacelineError(f"{config_path} already exists: edit it, or create the new course in another folder")
    example_dir = layout.lesson_source(EXAMPLE_LESSON_ID)
    if example_dir.exists():
        raise PacelineError(f"{example_dir} already exists: move it away, or create the course in another folder")

    clock = clock or SystemClock()
    today = clock.now().astimezone(zone).date()
    layout.source_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(course_toml(course_id=course_id, title=title, timezone=timezone), encoding="utf-8")
    _write_unless_present(layout.roster_path, roster_example(enrolled=today))
    _write_unless_present(layout.readme_path, _README.format(title=title))
    gitignore = layout.gitignore_path
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    gitignore.write_text(gitignore_text(existing), encoding="utf-8")
    new_lesson(directory, EXAMPLE_LESSON_ID, title=EXAMPLE_LESSON_TITLE, clock=clock)
    return directory


def new_lesson(course_root: Path, lesson_id: str, *, title: str, clock: Clock | None = None) -> Path:
    """Add ``<source>/<lesson_id>/<lesson_id>.ipynb`` from the template and schedule it in ``course.toml``.

    In a cohort course the lesson comes after the last scheduled one: its opens,
    target and due are the last lesson's, moved on by the step between the last
    two lessons' opening days (by the last lesson's own opens-to-target span when
    it is the only one), so the spacing an instructor chose carries on. The first
    lesson opens today (in the course time zone), is targeted in a week and due
    in two. In a self-paced course each student's dates come from ``[pacing]``,
    so the table has none. The new ``[[lessons]]`` table is appended to the file as text,
    so comments and layout survive; if the result does not load, the file and
    the lesson folder are put back as they were and the error is raised.
    Returns the new notebook's path.
    """
    _require_safe_id(lesson_id, what="lesson id")
    _require_title(title)
    config_path = find_config(course_root)
    text = config_path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(config_path, None, f"not valid TOML: {exc}") from None
    course = raw.get("course") if isinstance(raw.get("course"), dict) else {}
    lessons = raw.get("lessons") if isinstance(raw.get("lessons"), list) else []
    if any(isinstance(lesson, dict) and lesson.get("id") == lesson_id for lesson in lessons):
        raise PacelineError(f"{config_path} already schedules a lesson {lesson_id!r}: choose another id")
    source_dir = CourseLayout.of(config_path.parent, course_id=str(course.get("id", "")),
                                source=str(course.get("source", DEFAULT_SOURCE))).source_dir
    if not source_dir.is_dir():
        raise ConfigError(config_path, "course.source", f"folder {source_dir} does not exist")
    lesson_dir = source_dir / lesson_id
    if lesson_dir.exists():
        raise PacelineError(f"{lesson_dir} already exists: new_lesson will not overwrite it (choose another id)")

    if course.get("mode") == "self-paced":
        dates: dict[str, TomlDate] = {}  # each student's dates come from [pacing]
    else:
        dates = (next_lesson_dates([lesson for lesson in lessons if isinstance(lesson, dict)])
                 or _first_lesson_dates(course, clock=clock))
    notebook_path = lesson_dir / f"{lesson_id}.ipynb"
    lesson_dir.mkdir()
    notebook_path.write_text(lesson_notebook(title=title), encoding="utf-8")
    separator = "" if not text or text.endswith("\n") else "\n"
    config_path.write_text(text + separator + lesson_table(lesson_id=lesson_id, title=title, dates=dates), encoding="utf-8")
    try:
        load_course(config_path)
    except PacelineError:
        config_path.write_text(text, encoding="utf-8")
        shutil.rmtree(lesson_dir)
        raise
    return notebook_path


def lesson_notebook(*, title: str) -> str:
    """The lesson template with ``title`` in its heading, as notebook JSON.

    Plain JSON, not nbformat: importing nbformat (jsonschema and its format
    checkers) costs seconds, and ``paceline init`` and ``new`` should be instant.
    The template is a valid v4 notebook (``paceline check`` runs it in the tests)
    and a title is one printable line, so the result is one too; it is written
    as nbformat writes notebooks.
    """
    nb = json.loads(TEMPLATE_PATH.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            lines = cell["source"] if isinstance(cell["source"], list) else [cell["source"]]
            cell["source"] = [line.replace(TITLE_PLACEHOLDER, title) for line in lines]
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def course_toml(*, course_id: str, title: str, timezone: str) -> str:
    """A ``course.toml`` without lessons (``new_lesson`` appends them)."""
    return f"""\
# Paceline course plan. Dates are wall-clock times in [course].timezone.

[course]
id = {_toml_string(course_id)}
title = {_toml_string(title)}
timezone = {_toml_string(timezone)}
roster = "{DEFAULT_ROSTER}"          # id, name, email, enrolled_at[, withdrawn_at]
source = "{DEFAULT_SOURCE}"         # nbgrader source notebooks, one folder per lesson
exchange = "{DEFAULT_EXCHANGE}"  # nbgrader exchange root; on a shared server e.g. /srv/nbgrader/exchange

[late_policy]
method = "none"      # none | zero | per_day (then set per_day = 0.10 and cap = 0.50, say)

[grading]
timeout = 30         # seconds per cell

# One [[lessons]] table per lesson, in course order: opens (start of day unless a
# time is given), target (end of day), and optionally due (end of day).
"""


def lesson_table(*, lesson_id: str, title: str, dates: dict[str, TomlDate]) -> str:
    """A ``[[lessons]]`` table with ``dates`` (``opens``, ``target``, ``due``, any of them) as TOML dates."""
    lines = [f"id = {_toml_string(lesson_id)}", f"title = {_toml_string(title)}"]
    lines += [f"{key} = {dates[key].isoformat()}" for key in LESSON_DATE_KEYS if key in dates]
    return "\n[[lessons]]\n" + "\n".join(lines) + "\n"


def next_lesson_dates(lessons: list[dict[str, Any]]) -> dict[str, TomlDate] | None:
    """The dates of a lesson scheduled after ``lessons`` (course.toml's tables, in order), or None without one.

    The last lesson's dates, each as written (a date, or a time of day), moved on
    by the days between the last two lessons' openings, or by the last lesson's
    opens-to-target span when that is the only step there is (a week when neither is a day or more).
    """
    if not lessons:
        return None
    last = {key: when for key in LESSON_DATE_KEYS if (when := _toml_date(lessons[-1].get(key))) is not None}
    if "opens" not in last:
        return None
    previous = _toml_date(lessons[-2].get("opens")) if len(lessons) > 1 else None
    step = (_day(last["opens"]) - _day(previous)).days if previous is not None else 0
    if step <= 0 and "target" in last:
        step = (_day(last["target"]) - _day(last["opens"])).days
    step = step if step > 0 else 7
    return {key: when + dt.timedelta(days=step) for key, when in last.items()}


def _first_lesson_dates(course: dict[str, Any], *, clock: Clock | None) -> dict[str, TomlDate]:
    try:
        zone = ZoneInfo(str(course.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")  # load_course names the bad time zone
    today = (clock or SystemClock()).now().astimezone(zone).date()
    return {"opens": today, "target": today + dt.timedelta(days=7), "due": today + dt.timedelta(days=14)}


def _toml_date(value: Any) -> TomlDate | None:
    """A course.toml date as written (TOML date or datetime, or an ISO string as the plan reads it); None if not one."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    return value if isinstance(value, dt.date) else None


def _day(value: TomlDate) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def roster_example(*, enrolled: dt.date) -> str:
    return f"id,name,email,enrolled_at\nexample-student,Example Student,student@example.org,{enrolled.isoformat()}\n"


def gitignore_text(existing: str) -> str:
    """``existing`` plus whichever student-data patterns it lacks."""
    present = {line.strip() for line in existing.splitlines()}
    missing = [pattern for pattern in STUDENT_DATA_PATTERNS if pattern not in present]
    if not missing:
        return existing
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    spacer = "\n" if prefix else ""
    return prefix + spacer + "# student data and everything derived from it: never committed\n" + "\n".join(missing) + "\n"


def _write_unless_present(path: Path, text: str) -> None:
    if not path.exists():
        path.write_text(text, encoding="utf-8")


def _require_safe_id(value: str, *, what: str) -> None:
    if not SAFE_ID.match(value) or ".." in value:
        raise PacelineError(
            f"{value!r} is not a safe {what}: use letters, digits, . _ @ - "
            "(no spaces, slashes or '..'; at most 64 characters)"
        )


def _require_title(title: str) -> None:
    if not title.strip() or not title.isprintable():
        raise PacelineError(f"title {title!r} must be one line of text")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PacelineError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def _toml_string(value: str) -> str:
    # For printable one-line text a JSON string is also a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)
