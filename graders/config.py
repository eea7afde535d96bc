"""The course plan: one typed, validated object read from ``course.toml``.

Dates in ``course.toml`` are wall-clock times in the course's time zone; every
date this module hands out is an aware UTC ``datetime``. Validation errors name
the key (``lessons[2].due``) and say what is wrong, so an instructor can fix
the file without reading code.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError, PacelineError

CONFIG_NAME = "course.toml"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

LateMethod = Literal["none", "zero", "per_day"]


@dataclass(frozen=True)
class LatePolicy:
    """How late work is penalised, applied per notebook by nbgrader.

    ``per_day``: the penalty is ``min(cap, per_day * days_late)`` of the score,
    where any started day counts as a whole day.
    """

    method: LateMethod = "none"
    per_day: float = 0.0
    cap: float = 1.0


@dataclass(frozen=True)
class GradingSettings:
    """Limits for executing one student notebook (per lesson; course-wide defaults)."""

    timeout: int = 30  # seconds per cell, nbgrader's ``Execute.timeout``
    memory_mb: int = 1024  # the kernel and its children
    cpu_seconds: int = 120  # CPU time over the kernel's life
    processes: int = 64  # processes and threads the kernel may run
    file_size_mb: int = 64  # largest file the kernel may write
    open_files: int = 256


GRADING_KEYS = tuple(GradingSettings.__dataclass_fields__)


@dataclass(frozen=True)
class LessonPlan:
    """One lesson as scheduled: dates are aware UTC datetimes."""

    id: str
    title: str
    order: int
    notebooks: tuple[str, ...]
    opens_at: dt.datetime
    target_at: dt.datetime
    due_at: dt.datetime | None
    grading: GradingSettings = GradingSettings()


@dataclass(frozen=True)
class CourseConfig:
    """Everything ``course.toml`` says, with paths resolved against the course root."""

    root: Path
    id: str
    title: str
    timezone: ZoneInfo
    roster_path: Path
    source_dir: Path
    exchange_root: Path
    late_policy: LatePolicy
    grading: GradingSettings
    lessons: tuple[LessonPlan, ...] = field(default_factory=tuple)

    @property
    def release_dir(self) -> Path:
        return self.root / "release"

    @property
    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    @property
    def state_dir(self) -> Path:
        """Paceline's own private state (attempt ledger, simulation homes)."""
        return self.root / ".paceline"

    @property
    def gradebook_path(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def export_dir(self) -> Path:
        return self.root / "exports"

    def lesson(self, lesson_id: str) -> LessonPlan:
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        known = ", ".join(lesson.id for lesson in self.lessons) or "none"
        raise PacelineError(f"unknown lesson {lesson_id!r} (lessons in {CONFIG_NAME}: {known})")

    def select_lessons(self, lesson_ids: list[str] | tuple[str, ...] | None) -> tuple[LessonPlan, ...]:
        """The named lessons in course order, or all lessons when none are named."""
        if not lesson_ids:
            return self.lessons
        wanted = {self.lesson(lesson_id).id for lesson_id in lesson_ids}
        return tuple(lesson for lesson in self.lessons if lesson.id in wanted)


def find_config(path: Path | str) -> Path:
    """``path`` itself if it is a file, else ``path/course.toml``."""
    path = Path(path)
    candidate = path if path.is_file() else path / CONFIG_NAME
    if not candidate.is_file():
        raise ConfigError(candidate, None, "no course.toml here (run `paceline init DIR` to create a course)")
    return candidate


def load_course(path: Path | str = ".") -> CourseConfig:
    """Read and validate ``course.toml`` (a file, or the folder holding it)."""
    config_path = find_config(path).resolve()
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(config_path, None, f"not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(config_path, None, f"not UTF-8 text: {exc}") from exc
    return parse_course(raw, config_path=config_path)


def parse_course(raw: dict[str, Any], *, config_path: Path) -> CourseConfig:
    """Validate an already-parsed ``course.toml`` mapping."""
    root = config_path.parent
    reader = _Reader(config_path)
    reader.keys(raw, "", required={"course", "lessons"}, optional={"late_policy", "grading"})

    course = reader.table(raw, "course")
    reader.keys(
        course, "course",
        required={"id", "title", "timezone"},
        optional={"roster", "source", "exchange"},
    )
    course_id = reader.safe_id(course, "course.id")
    title = reader.string(course, "course.title")
    timezone = reader.timezone(course, "course.timezone")
    roster_path = root / reader.string(course, "course.roster", default="students.csv")
    source_dir = root / reader.string(course, "course.source", default="course_source")
    exchange_root = root / reader.string(course, "course.exchange", default=".paceline/exchange")
    if not source_dir.is_dir():
        raise ConfigError(config_path, "course.source", f"folder {source_dir} does not exist")

    late_policy = _parse_late_policy(reader, raw.get("late_policy", {}))
    grading = _parse_grading(reader, raw.get("grading", {}), where="grading", defaults=GradingSettings())

    lessons_raw = raw["lessons"]
    if not isinstance(lessons_raw, list) or not lessons_raw:
        raise ConfigError(config_path, "lessons", "needs at least one [[lessons]] table")
    lessons: list[LessonPlan] = []
    for index, lesson_raw in enumerate(lessons_raw):
        lessons.append(_parse_lesson(reader, lesson_raw, index=index, timezone=timezone, source_dir=source_dir, grading=grading))
    seen: set[str] = set()
    for index, lesson in enumerate(lessons):
        if lesson.id in seen:
            raise ConfigError(config_path, f"lessons[{index}].id", f"duplicate lesson id {lesson.id!r}")
        seen.add(lesson.id)

    return CourseConfig(
        root=root,
        id=course_id,
        title=title,
        timezone=timezone,
        roster_path=roster_path,
        source_dir=source_dir,
        exchange_root=exchange_root,
        late_policy=late_policy,
        grading=grading,
        lessons=tuple(lessons),
    )


def _parse_late_policy(reader: _Reader, raw: Any) -> LatePolicy:
    table = reader.table({"late_policy": raw}, "late_policy")
    reader.keys(table, "late_policy", required=set(), optional={"method", "per_day", "cap"})
    method = table.get("method", "none")
    if method not in ("none", "zero", "per_day"):
        raise ConfigError(reader.path, "late_policy.method", f"must be none, zero or per_day, not {method!r}")
    per_day = reader.fraction(table, "late_policy.per_day", default=0.0)
    cap = reader.fraction(table, "late_policy.cap", default=1.0)
    if method == "per_day" and per_day <= 0:
        raise ConfigError(reader.path, "late_policy.per_day", "must be above 0 when method is per_day")
    return LatePolicy(method=method, per_day=per_day, cap=cap)


def _parse_grading(reader: _Reader, raw: Any, *, where: str, defaults: GradingSettings) -> GradingSettings:
    """``[grading]``, or a lesson's ``[lessons.grading]`` overriding the course's values."""
    table = reader.table({where: raw}, where)
    reader.keys(table, where, required=set(), optional=set(GRADING_KEYS))
    values = {}
    for key in GRADING_KEYS:
        value = table.get(key, getattr(defaults, key))
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(reader.path, f"{where}.{key}", f"must be a whole number above 0, not {value!r}")
        values[key] = value
    if values["processes"] < 8:
        raise ConfigError(reader.path, f"{where}.processes", "must be at least 8: a kernel alone runs about 6 threads")
    if values["open_files"] < 64:
        raise ConfigError(reader.path, f"{where}.open_files", "must be at least 64: a kernel alone opens about 30 files")
    return GradingSettings(**values)


def _parse_lesson(
    reader: _Reader, raw: Any, *, index: int, timezone: ZoneInfo, source_dir: Path, grading: GradingSettings,
) -> LessonPlan:
    where = f"lessons[{index}]"
    table = reader.table({where: raw}, where)
    reader.keys(table, where, required={"id", "title", "opens", "target"}, optional={"due", "notebooks", "grading"})
    lesson_id = reader.safe_id(table, f"{where}.id")
    title = reader.string(table, f"{where}.title")
    lesson_dir = source_dir / lesson_id
    if not lesson_dir.is_dir():
        raise ConfigError(reader.path, f"{where}.id", f"lesson folder {lesson_dir} does not exist")

    if "notebooks" in table:
        names = table["notebooks"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(reader.path, f"{where}.notebooks", "must be a non-empty list of notebook file names")
        for name in names:
            if Path(name).name != name or not name.endswith(".ipynb"):
                raise ConfigError(reader.path, f"{where}.notebooks", f"{name!r} is not a notebook file name in the lesson folder")
            if not (lesson_dir / name).is_file():
                raise ConfigError(reader.path, f"{where}.notebooks", f"{lesson_dir / name} does not exist")
        notebooks = tuple(names)
    else:
        notebooks = tuple(sorted(p.name for p in lesson_dir.glob("*.ipynb")))
        if not notebooks:
            raise ConfigError(reader.path, f"{where}.id", f"lesson folder {lesson_dir} has no notebooks")

    opens_at = reader.date(table, f"{where}.opens", timezone=timezone, end_of_day=False)
    target_at = reader.date(table, f"{where}.target", timezone=timezone, end_of_day=True)
    due_at = reader.date(table, f"{where}.due", timezone=timezone, end_of_day=True) if "due" in table else None
    if target_at < opens_at:
        raise ConfigError(reader.path, f"{where}.target", "is before the lesson opens")
    if due_at is not None and due_at < opens_at:
        raise ConfigError(reader.path, f"{where}.due", "is before the lesson opens")
    if due_at is not None and due_at < target_at:
        raise ConfigError(reader.path, f"{where}.due", "is before the target date")
    if "grading" in table:
        grading = _parse_grading(reader, table["grading"], where=f"{where}.grading", defaults=grading)
    return LessonPlan(
        id=lesson_id, title=title, order=index + 1, notebooks=notebooks,
        opens_at=opens_at, target_at=target_at, due_at=due_at, grading=grading,
    )


def parse_local_datetime(value: Any, *, timezone: ZoneInfo, end_of_day: bool) -> dt.datetime:
    """A TOML date/datetime or an ISO string, read in ``timezone``, returned in UTC.

    A bare date means the start of that day, or its last second when
    ``end_of_day`` (a target "on the 8th" means by the end of the 8th).
    Raises ``ValueError`` with a readable message.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date; write 2026-09-14 or 2026-09-14 17:00") from None
    if isinstance(value, dt.datetime):
        local = value if value.tzinfo else value.replace(tzinfo=timezone)
    elif isinstance(value, dt.date):
        clock = dt.time(23, 59, 59) if end_of_day else dt.time(0, 0)
        local = dt.datetime.combine(value, clock, tzinfo=timezone)
    else:
        raise ValueError(f"{value!r} is not a date; write 2026-09-14 or 2026-09-14 17:00")
    return local.astimezone(dt.timezone.utc)


class _Reader:
    """Typed getters that turn a wrong value into a ConfigError naming its key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def keys(self, table: dict[str, Any], where: str, *, required: set[str], optional: set[str]) -> None:
        prefix = f"{where}." if where else ""
        for key in table:
            if key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                raise ConfigError(self.path, f"{prefix}{key}", f"unknown key (allowed here: {allowed})")
        for key in sorted(required):
            if key not in table:
                raise ConfigError(self.path, f"{prefix}{key}", "is required but missing")

    def table(self, parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent[key]
        if not isinstance(value, dict):
            raise ConfigError(self.path, key, "must be a table")
        return value

    def string(self, table: dict[str, Any], key: str, *, default: str | None = None) -> str:
        value = table.get(key.rsplit(".", 1)[-1], default)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(self.path, key, f"must be a non-empty string, not {value!r}")
        return value

    def safe_id(self, table: dict[str, Any], key: str) -> str:
        value = self.string(table, key)
        if not SAFE_ID.match(value) or ".." in value:
            raise ConfigError(
                self.path, key,
                f"{value!r} is not a safe id (letters, digits, . _ @ -; no spaces, slashes or '..'; at most 64 characters)",
            )
        return value

    def timezone(self, table: dict[str, Any], key: str) -> ZoneInfo:
        name = self.string(table, key)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(self.path, key, f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None

    def fraction(self, table: dict[str, Any], key: str, *, default: float) -> float:
        value = table.get(key.rsplit(".", 1)[-1], default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(self.path, key, f"must be a number from 0 to 1, not {value!r}")
        return float(value)

    def date(self, table: dict[str, Any], key: str, *, timezone: ZoneInfo, end_of_day: bool) -> dt.datetime:
        try:
            return parse_local_datetime(table[key.rsplit(".", 1)[-1]], timezone=timezone, end_of_day=end_of_day)
        except ValueError as exc:
            raise ConfigError(self.path, key, str(exc)) from None
