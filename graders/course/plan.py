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
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from ..errors import ConfigError, PacelineError
from .layout import CONFIG_NAME, DEFAULT_EXCHANGE, DEFAULT_ROSTER, DEFAULT_SOURCE, CourseLayout, ExchangeLayout
from .nbgrader_table import NbgraderSettings, parse_nbgrader_table
from .pacing import Pacing, paced_dates
from .toml_reader import Reader

LateMethod = Literal["none", "zero", "per_day"]
LATE_METHODS: tuple[LateMethod, ...] = get_args(LateMethod)  # course.toml's and nbgrader's plugin's one list
Mode = Literal["cohort", "self-paced"]
SAFE_KERNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a kernelspec folder name


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
    output_mb: int = 20  # output kept from one attempt's kernel, all cells together (one cell: at most 16 MB)
    cpus: float = 1.0  # CPU share of one attempt's kernel and everything it starts (cgroup quota)
    # Checked on the coordinator before a submitted notebook is parsed (graders.exchange.submission_checks):
    # a few MB of empty cells cost minutes of nbformat's and nbgrader's time.
    max_notebook_mb: int = 10  # largest submitted notebook
    max_cells: int = 2000  # most cells in a submitted notebook


GRADING_KEYS = tuple(GradingSettings.__dataclass_fields__)


@dataclass(frozen=True)
class CollectLimits:
    """What one submission may hold; larger ones are refused, with the reason recorded."""

    max_submission_mb: int = 20
    max_files: int = 100
    # Per student (graders.exchange.quotas): one student's flood costs the host neither disk nor other students' time.
    max_attempts_per_hour: int = 30  # per lesson, by paceline's receipt times
    student_quota_mb: int = 500  # everything a student's collected attempts hold


DEFAULT_ENV_PYTHON = "/usr/bin/python3"  # Debian's: students and sandbox users can run it (/root is 0700)


@dataclass(frozen=True)
class EnvironmentPlan:
    """``[environment]``: the one Python environment that check, grading and students' servers run lessons in.

    Built by ``paceline environment build`` (:mod:`graders.course.environment`)
    from ``requirements`` with the interpreter ``python``, into ``location``.
    Notebooks whose kernelspec names ``python3``, ``python`` or one of
    ``kernels`` run in it; any other kernel name is refused by check and grade.
    """

    requirements: Path
    python: str = DEFAULT_ENV_PYTHON
    location: Path | None = None  # None: the default place outside any private home (layout)
    kernels: tuple[str, ...] = ()
    system_site_packages: bool = False


@dataclass(frozen=True)
class DataFile:
    """A file a lesson reads, fetched from ``url`` into the lesson folder by the instructor (``[[lessons]] data``):
    grading has no network, so the lesson ships it."""

    url: str
    name: str  # file name in the lesson folder
    sha256: str | None = None  # when given: the file must have this hash (a present file with it is not fetched again)


@dataclass(frozen=True)
class LessonPlan:
    """One lesson as scheduled: dates are aware UTC datetimes.

    In a self-paced course the dates are the nominal plan of a student who
    enrolled at ``[pacing].start``; everyone's own dates come from
    :func:`graders.course.timeline.personal_dates`.
    """

    id: str
    title: str
    order: int
    notebooks: tuple[str, ...]
    opens_at: dt.datetime
    target_at: dt.datetime
    due_at: dt.datetime | None
    grading: GradingSettings = GradingSettings()
    requires: tuple[str, ...] = ()  # lessons to pass first (mastery gating)
    days: int | None = None  # self-paced: days of pace this lesson takes
    # Release patterns (graders.authoring.lesson_files): files published beside the notebooks, on top of the
    # data and asset defaults, and files held back even so. Hidden files and checkpoints never go out.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    data: tuple[DataFile, ...] = ()  # fetched at release (graders.authoring.lesson_data), published with the lesson


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
    mode: Mode = "cohort"
    pacing: Pacing | None = None
    grace_days: int = 0  # per student, spent automatically on late work before any penalty
    pass_fraction: float = 0.6  # share of a lesson's points that passes it, for mastery gating
    collect_limits: CollectLimits = CollectLimits()
    # ``[at_risk]`` as written (key, value): analytics owns these thresholds and checks them where
    # they are used (``paceline status``, reports), so reading course.toml never imports analytics.
    at_risk: tuple[tuple[str, Any], ...] = ()
    nbgrader: NbgraderSettings = NbgraderSettings()  # [nbgrader]: nbgrader's own settings, applied wherever it runs
    environment: EnvironmentPlan | None = None  # None: kernels run in paceline's own interpreter

    @property
    def layout(self) -> CourseLayout:
        """Every path of the course folder and its exchange."""
        return CourseLayout(root=self.root, source_dir=self.source_dir, roster_path=self.roster_path,
                            exchange=ExchangeLayout(self.exchange_root, self.id))

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
    reader = Reader(config_path)
    reader.keys(raw, "", required={"course", "lessons"}, optional={"late_policy", "grading", "pacing", "grace", "gating", "collect", "at_risk", "nbgrader", "environment"})

    course = reader.table(raw, "course")
    reader.keys(
        course, "course",
        required={"id", "title", "timezone"},
        optional={"roster", "source", "exchange", "mode"},
    )
    course_id = reader.safe_id(course, "course.id")
    title = reader.string(course, "course.title")
    timezone = reader.timezone(course, "course.timezone")
    layout = CourseLayout.of(
        root, course_id=course_id, roster=reader.string(course, "course.roster", default=DEFAULT_ROSTER),
        source=reader.string(course, "course.source", default=DEFAULT_SOURCE),
        exchange=reader.string(course, "course.exchange", default=DEFAULT_EXCHANGE),
    )
    roster_path, source_dir, exchange_root = layout.roster_path, layout.source_dir, layout.exchange.root
    if not source_dir.is_dir():
        raise ConfigError(config_path, "course.source", f"folder {source_dir} does not exist")

    mode = course.get("mode", "cohort")
    if mode not in ("cohort", "self-paced"):
        raise ConfigError(config_path, "course.mode", f"must be cohort or self-paced, not {mode!r}")
    pacing = _parse_pacing(reader, raw.get("pacing"), mode=mode, timezone=timezone)
    grace = reader.table({"grace": raw.get("grace", {})}, "grace")
    reader.keys(grace, "grace", required=set(), optional={"days"})
    grace_days = reader.whole(grace, "grace.days", default=0, minimum=0)
    gating = reader.table({"gating": raw.get("gating", {})}, "gating")
    reader.keys(gating, "gating", required=set(), optional={"pass_fraction"})
    pass_fraction = reader.fraction(gating, "gating.pass_fraction", default=0.6)
    collect = reader.table({"collect": raw.get("collect", {})}, "collect")
    reader.keys(collect, "collect", required=set(),
                optional={"max_submission_mb", "max_files", "max_attempts_per_hour", "student_quota_mb"})
    collect_limits = CollectLimits(
        max_submission_mb=reader.whole(collect, "collect.max_submission_mb", default=20, minimum=1),
        max_files=reader.whole(collect, "collect.max_files", default=100, minimum=1),
        max_attempts_per_hour=reader.whole(collect, "collect.max_attempts_per_hour", default=30, minimum=1),
        student_quota_mb=reader.whole(collect, "collect.student_quota_mb", default=500, minimum=1),
    )
    at_risk = reader.table({"at_risk": raw.get("at_risk", {})}, "at_risk")
    late_policy = _parse_late_policy(reader, raw.get("late_policy", {}))
    environment = _parse_environment(reader, raw["environment"], root=root) if "environment" in raw else None
    grading = _parse_grading(reader, raw.get("grading", {}), where="grading", defaults=GradingSettings())

    lessons_raw = raw["lessons"]
    if not isinstance(lessons_raw, list) or not lessons_raw:
        raise ConfigError(config_path, "lessons", "needs at least one [[lessons]] table")
    lessons: list[LessonPlan] = []
    for index, lesson_raw in enumerate(lessons_raw):
        lessons.append(_parse_lesson(
            reader, lesson_raw, index=index, timezone=timezone, layout=layout, grading=grading,
            pacing=pacing, earlier=lessons,
        ))
    seen: set[str] = set()
    for index, lesson in enumerate(lessons):
        if lesson.id in seen:
            raise ConfigError(config_path, f"lessons[{index}].id", f"duplicate lesson id {lesson.id!r}")
        for required in lesson.requires:
            if required not in seen:
                raise ConfigError(config_path, f"lessons[{index}].requires",
                                  f"{required!r} is not an earlier lesson (a lesson can only require lessons before it)")
        seen.add(lesson.id)
    nbgrader = parse_nbgrader_table(reader, raw.get("nbgrader", {}), root=root)
    for lesson_id, _ in nbgrader.exclude_overwriting:
        if lesson_id not in seen:
            raise ConfigError(config_path, f"nbgrader.exclude_overwriting.{lesson_id}",
                              f"{lesson_id!r} is not a lesson (lessons: {', '.join(sorted(seen))})")

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
        mode=mode,
        pacing=pacing,
        grace_days=grace_days,
        pass_fraction=pass_fraction,
        collect_limits=collect_limits,
        at_risk=tuple(at_risk.items()),
        nbgrader=nbgrader,
        environment=environment,
    )


def _parse_environment(reader: Reader, raw: Any, *, root: Path) -> EnvironmentPlan:
    table = reader.table({"environment": raw}, "environment")
    reader.keys(table, "environment", required={"requirements"},
                optional={"python", "location", "kernels", "system_site_packages"})
    requirements_name = reader.string(table, "environment.requirements")
    requirements = (root / requirements_name).resolve()
    if not requirements.is_file():
        raise ConfigError(reader.path, "environment.requirements",
                          f"{requirements} does not exist (a pip requirements file, e.g. requirements.txt beside course.toml)")
    python = reader.string(table, "environment.python", default=DEFAULT_ENV_PYTHON)
    if not Path(python).is_absolute():
        raise ConfigError(reader.path, "environment.python",
                          f"must be an absolute interpreter path that students can run (e.g. {DEFAULT_ENV_PYTHON}), not {python!r}")
    location = None
    if "location" in table:
        location = Path(reader.string(table, "environment.location"))
        if not location.is_absolute():
            raise ConfigError(reader.path, "environment.location",
                              "must be an absolute folder outside any private home (e.g. /opt/paceline-envs/COURSE)")
    kernels = table.get("kernels", [])
    if not isinstance(kernels, list) or not all(isinstance(k, str) and SAFE_KERNEL.match(k) for k in kernels):
        raise ConfigError(reader.path, "environment.kernels",
                          f"must be a list of kernel names (letters, digits, ., _ and -), not {kernels!r}")
    site = table.get("system_site_packages", False)
    if not isinstance(site, bool):
        raise ConfigError(reader.path, "environment.system_site_packages", f"must be true or false, not {site!r}")
    return EnvironmentPlan(requirements=requirements, python=python, location=location, kernels=tuple(kernels),
                           system_site_packages=site)


def _parse_pacing(reader: Reader, raw: Any, *, mode: str, timezone: ZoneInfo) -> Pacing | None:
    if mode == "cohort":
        if raw is not None:
            raise ConfigError(reader.path, "pacing", "is only for self-paced courses (set [course] mode = \"self-paced\")")
        return None
    if raw is None:
        raise ConfigError(reader.path, "pacing", "is required in a self-paced course (at least [pacing] start)")
    table = reader.table({"pacing": raw}, "pacing")
    reader.keys(table, "pacing", required={"start"}, optional={"days_per_lesson", "due_after_days", "course_end"})
    start = reader.date(table, "pacing.start", timezone=timezone, end_of_day=False)
    course_end = reader.date(table, "pacing.course_end", timezone=timezone, end_of_day=True) if "course_end" in table else None
    if course_end is not None and course_end <= start:
        raise ConfigError(reader.path, "pacing.course_end", "is before the course starts")
    due_after = reader.whole(table, "pacing.due_after_days", default=None, minimum=0) if "due_after_days" in table else None
    return Pacing(
        start=start, days_per_lesson=reader.whole(table, "pacing.days_per_lesson", default=7, minimum=1),
        due_after_days=due_after, course_end=course_end,
    )


def _parse_late_policy(reader: Reader, raw: Any) -> LatePolicy:
    table = reader.table({"late_policy": raw}, "late_policy")
    reader.keys(table, "late_policy", required=set(), optional={"method", "per_day", "cap"})
    method = table.get("method", "none")
    if method not in LATE_METHODS:
        raise ConfigError(reader.path, "late_policy.method", f"must be {', '.join(LATE_METHODS[:-1])} or {LATE_METHODS[-1]}, not {method!r}")
    per_day = reader.fraction(table, "late_policy.per_day", default=0.0)
    cap = reader.fraction(table, "late_policy.cap", default=1.0)
    if method == "per_day" and per_day <= 0:
        raise ConfigError(reader.path, "late_policy.per_day", "must be above 0 when method is per_day")
    return LatePolicy(method=method, per_day=per_day, cap=cap)


def _parse_grading(reader: Reader, raw: Any, *, where: str, defaults: GradingSettings) -> GradingSettings:
    """``[grading]``, or a lesson's ``[lessons.grading]`` overriding the course's values."""
    table = reader.table({where: raw}, where)
    reader.keys(table, where, required=set(), optional=set(GRADING_KEYS))
    values = {}
    for key in GRADING_KEYS:
        value = table.get(key, getattr(defaults, key))
        if key == "cpus":
            # A share of a core is fine; a quota under a tenth of one starves the kernel's own heartbeat.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.1 <= value <= 256:
                raise ConfigError(reader.path, f"{where}.cpus", f"must be a number of CPUs from 0.1 to 256 (e.g. 1 or 0.5), not {value!r}")
            values[key] = float(value)
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(reader.path, f"{where}.{key}", f"must be a whole number above 0, not {value!r}")
        values[key] = value
    if values["processes"] < 8:
        raise ConfigError(reader.path, f"{where}.processes", "must be at least 8: a kernel alone runs about 6 threads")
    if values["open_files"] < 64:
        raise ConfigError(reader.path, f"{where}.open_files", "must be at least 64: a kernel alone opens about 30 files")
    return GradingSettings(**values)


def _parse_lesson(
    reader: Reader, raw: Any, *, index: int, timezone: ZoneInfo, layout: CourseLayout, grading: GradingSettings,
    pacing: Pacing | None, earlier: list[LessonPlan],
) -> LessonPlan:
    where = f"lessons[{index}]"
    table = reader.table({where: raw}, where)
    common = {"notebooks", "grading", "requires", "include", "exclude", "data"}
    if pacing is None:
        reader.keys(table, where, required={"id", "title", "opens", "target"}, optional={"due"} | common)
    else:
        for key in ("target", "due"):
            if key in table:
                raise ConfigError(reader.path, f"{where}.{key}",
                                  "is not used in a self-paced course: each student's dates come from [pacing]")
        reader.keys(table, where, required={"id", "title"}, optional={"opens", "days"} | common)
    lesson_id = reader.safe_id(table, f"{where}.id")
    title = reader.string(table, f"{where}.title")
    lesson_dir = layout.lesson_source(lesson_id)
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

    requires = table.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ConfigError(reader.path, f"{where}.requires", "must be a list of earlier lesson ids")
    days = reader.whole(table, f"{where}.days", default=None, minimum=1) if "days" in table else None
    if pacing is None:
        opens_at = reader.date(table, f"{where}.opens", timezone=timezone, end_of_day=False)
        target_at = reader.date(table, f"{where}.target", timezone=timezone, end_of_day=True)
        due_at = reader.date(table, f"{where}.due", timezone=timezone, end_of_day=True) if "due" in table else None
    else:
        opens = reader.date(table, f"{where}.opens", timezone=timezone, end_of_day=False) if "opens" in table else None
        elapsed = sum(lesson.days or pacing.days_per_lesson for lesson in earlier) + (days or pacing.days_per_lesson)
        opens_at, target_at, due_at = paced_dates(pacing, timezone=timezone, enrolled_at=pacing.start,
                                                  opens=opens, elapsed_days=elapsed)
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
        requires=tuple(requires), days=days,
        include=_parse_patterns(reader, table, f"{where}.include"),
        exclude=_parse_patterns(reader, table, f"{where}.exclude"),
        data=_parse_data(reader, table.get("data", []), f"{where}.data"),
    )


DATA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _parse_data(reader: Reader, entries: Any, key: str) -> tuple[DataFile, ...]:
    """``data = ["https://...", { url = "...", name = "x.csv", sha256 = "..." }]``: files fetched into the lesson folder."""
    from urllib.parse import unquote, urlsplit

    if not isinstance(entries, list):
        raise ConfigError(reader.path, key, 'must be a list of URLs (or tables { url = "...", name = "...", sha256 = "..." })')
    found: dict[str, DataFile] = {}
    for number, entry in enumerate(entries):
        where = f"{key}[{number}]"
        table = {"url": entry} if isinstance(entry, str) else entry
        if not isinstance(table, dict):
            raise ConfigError(reader.path, where, f"must be a URL or a table with url, not {entry!r}")
        reader.keys(table, where, required={"url"}, optional={"name", "sha256"})
        url = reader.string(table, f"{where}.url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
            raise ConfigError(reader.path, f"{where}.url", f"{url!r} is not an http:// or https:// URL")
        name = reader.string(table, f"{where}.name") if "name" in table else unquote(parts.path.rsplit("/", 1)[-1])
        if not DATA_NAME.match(name) or ".." in name or name.endswith(".ipynb"):
            what = f"{where}.name" if "name" in table else f"{where}.url"
            raise ConfigError(reader.path, what, f"the file name {name!r} is not a plain file name for the lesson folder "
                                                 "(letters, digits, . _ + -; not a notebook): give one with name = \"...\"")
        if name in found:
            raise ConfigError(reader.path, where, f"{name!r} is already fetched from {found[name].url}")
        sha256 = reader.string(table, f"{where}.sha256").lower() if "sha256" in table else None
        if sha256 is not None and not SHA256.match(sha256):
            raise ConfigError(reader.path, f"{where}.sha256", "must be 64 hexadecimal digits (sha256sum's output)")
        found[name] = DataFile(url=url, name=name, sha256=sha256)
    return tuple(found.values())


def _parse_patterns(reader: Reader, table: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of file patterns relative to the lesson folder (``helpers.py``, ``data/*``)."""
    patterns = table.get(key.rsplit(".", 1)[-1], [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise ConfigError(reader.path, key, f"must be a list of file patterns such as [\"helpers.py\", \"data/*\"], not {patterns!r}")
    for pattern in patterns:
        if pattern.startswith("/") or "\\" in pattern or ".." in pattern.split("/"):
            raise ConfigError(reader.path, key, f"{pattern!r} must be a pattern inside the lesson folder "
                                                "(relative, with / between folders, no '..')")
    return tuple(patterns)
