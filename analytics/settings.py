"""What a report needs to know about a course besides its tables: from options or a small settings file.

An analyst with someone else's tables has no ``course.toml``; the few
settings the reports use fit in a TOML file of their own::

    [analytics]
    title = "Module AAA"
    timezone = "Europe/London"        # how dates are shown (IANA name; default UTC)
    course_start = 2013-10-01         # day 0 of day-offset times and of the "course day" axes
    persistence_since = "course_start"  # or "enrolment" (default)
    gating_pass_fraction = 0.6        # the instructor side's unlock mark, shown beside the pass mark
    cram_hours = 48

    [analytics.cohort_starts]         # day 0 per cohort, where each cohort counts days from its own start
    "2013J" = 2013-10-01
    "2014B" = 2014-02-01

    [at_risk]                         # the thresholds of analytics.risk (pass_fraction is the pass mark)
    pass_fraction = 0.4
    inactive_gap_multiple = 1.5

A paceline ``course.toml`` works too: without an ``[analytics]`` table the
title and time zone come from ``[course]`` and the gating mark from
``[gating]``. Unknown keys in ``[analytics]`` are errors; other tables are
ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import RulesError, SettingsError
from .risk import AtRiskRules, rules_from_mapping

SINCE = ("enrolment", "course_start")
_KEYS = ("title", "timezone", "course_start", "cohort_starts", "persistence_since", "gating_pass_fraction",
         "cram_hours")


@dataclass(frozen=True)
class ReportSettings:
    """Course settings of the reports; every field has a default, so tables alone are enough."""

    title: str = "Cohort progress"
    """The cohort report's title (student and lesson reports add the id to it)."""
    timezone: str = "UTC"
    """IANA time zone the reports show dates and times in."""
    course_start: dt.datetime | None = None
    """Day 0 (aware): day-offset times count from it, and the figures get a "course day" axis."""
    cohort_starts: Mapping[str, dt.datetime] = field(default_factory=dict)
    """Day 0 per cohort, for tables whose cohorts count days from their own start."""
    rules: AtRiskRules = AtRiskRules()
    """The at-risk thresholds; ``rules.pass_fraction`` is the analytics' pass mark."""
    gating_pass_fraction: float | None = None
    """The pass mark that unlocks gated lessons on the instructor side, if any: shown, named, beside it."""
    persistence_since: str = "enrolment"
    """Origin of the persistence curve: ``"enrolment"`` or ``"course_start"``."""
    cram_hours: float = 48.0
    """The cram window before each target, in hours."""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError("timezone", f"unknown time zone {self.timezone!r} (give an IANA name such as "
                                "'Europe/Berlin')") from None
        for name, start in [("course_start", self.course_start), *(
                (f"cohort_starts.{cohort}", start) for cohort, start in self.cohort_starts.items())]:
            if start is not None and (not isinstance(start, dt.datetime) or start.tzinfo is None):
                raise SettingsError(name, f"must be a date or an aware date and time, not {start!r}")
        if self.persistence_since not in SINCE:
            raise SettingsError("persistence_since", f"must be one of {', '.join(SINCE)}, not {self.persistence_since!r}")
        if self.gating_pass_fraction is not None and not 0 <= self.gating_pass_fraction <= 1:
            raise SettingsError("gating_pass_fraction", f"must be between 0 and 1, not {self.gating_pass_fraction!r}")
        if not 0 < self.cram_hours <= 24 * 365:
            raise SettingsError("cram_hours", f"must be above 0 and at most 8,760, not {self.cram_hours!r}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_zero(self) -> dt.datetime | Mapping[str, dt.datetime] | None:
        """What :func:`~analytics.tables.load_tables` takes as ``course_start``: per cohort if given, else one."""
        return dict(self.cohort_starts) if self.cohort_starts else self.course_start

    def replace(self, **changes: Any) -> ReportSettings:
        """These settings with some fields changed (``None`` values are left as they are)."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})

    def to_json(self) -> dict[str, Any]:
        """JSON-safe, for a papermill parameter; :meth:`from_json` reads it back."""
        return {
            "title": self.title, "timezone": self.timezone,
            "course_start": self.course_start.isoformat() if self.course_start else None,
            "cohort_starts": {name: start.isoformat() for name, start in self.cohort_starts.items()},
            "rules": dataclasses.asdict(self.rules), "gating_pass_fraction": self.gating_pass_fraction,
            "persistence_since": self.persistence_since, "cram_hours": self.cram_hours,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportSettings:
        data = dict(data)
        if not data:
            return cls()
        start = data.pop("course_start", None)
        starts = data.pop("cohort_starts", {}) or {}
        rules = data.pop("rules", {}) or {}
        return cls(**data, course_start=dt.datetime.fromisoformat(start) if start else None,
                   cohort_starts={name: dt.datetime.fromisoformat(value) for name, value in starts.items()},
                   rules=AtRiskRules(**rules))


def parse_when(value: object, *, timezone: str, key: str, end_of_day: bool = False) -> dt.datetime:
    """A TOML date or datetime, or ISO 8601 text, as an aware datetime: a date is midnight (or, with
    ``end_of_day``, the end of the day) and a time without an offset is wall-clock time in ``timezone``."""
    zone = ZoneInfo(timezone)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip()) if "T" in value or ":" in value else \
                dt.date.fromisoformat(value.strip())
        except ValueError:
            raise SettingsError(key, f"is not a date or an ISO 8601 date and time: {value!r}") from None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        day = dt.datetime.combine(value, dt.time.max if end_of_day else dt.time(), tzinfo=zone)
        return day
    raise SettingsError(key, f"is not a date or a date and time: {value!r}")


def settings_from_mapping(raw: Mapping[str, Any], *, source: Path | None = None) -> ReportSettings:
    """:class:`ReportSettings` from a parsed settings file (see the module's docstring)."""
    try:
        return _from_mapping(raw)
    except SettingsError as error:
        raise SettingsError(error.key, error.problem, source=source) from None
    except RulesError as error:
        raise SettingsError(f"at_risk.{error.key}" if error.key else "at_risk", error.problem, source=source) from None


def load_settings(path: Path | str) -> ReportSettings:
    """Read a settings file (or a paceline ``course.toml``); errors name the file and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(None, f"cannot read it: {error.strerror or error}", source=path) from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(None, f"not valid TOML: {error}", source=path) from error
    return settings_from_mapping(raw, source=path)


def _from_mapping(raw: Mapping[str, Any]) -> ReportSettings:
    mine = raw.get("analytics")
    course = raw.get("course") if isinstance(raw.get("course"), dict) else {}
    if mine is None:
        # A paceline course.toml: its title, time zone and gating mark are the course's.
        gating = raw.get("gating", {}) if isinstance(raw.get("gating"), dict) else {}
        gated = any(lesson.get("requires") for lesson in raw.get("lessons", []) if isinstance(lesson, dict))
        mine = {key: value for key, value in (("title", course.get("title")), ("timezone", course.get("timezone")),
                                              ("gating_pass_fraction", gating.get("pass_fraction", 0.6 if gated else None)))
                if value is not None}
    if not isinstance(mine, dict):
        raise SettingsError("analytics", f"must be a table, not {type(mine).__name__}")
    unknown = sorted(set(mine) - set(_KEYS))
    if unknown:
        raise SettingsError(f"analytics.{unknown[0]}", f"unknown key (allowed: {', '.join(_KEYS)})")
    timezone = _text(mine, "timezone", "UTC")
    starts = mine.get("cohort_starts", {})
    if not isinstance(starts, dict):
        raise SettingsError("analytics.cohort_starts", "must be a table of cohort = date")
    return ReportSettings(
        title=_text(mine, "title", ReportSettings.title),
        timezone=timezone,
        course_start=parse_when(mine["course_start"], timezone=timezone, key="analytics.course_start")
        if "course_start" in mine else None,
        cohort_starts={str(name): parse_when(value, timezone=timezone, key=f"analytics.cohort_starts.{name}")
                       for name, value in starts.items()},
        rules=rules_from_mapping(raw.get("at_risk", {})),
        gating_pass_fraction=_number(mine, "gating_pass_fraction"),
        persistence_since=_text(mine, "persistence_since", "enrolment"),
        cram_hours=_number(mine, "cram_hours") or 48.0,
    )


def _text(table: Mapping[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise SettingsError(f"analytics.{key}", f"must be text, not {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"analytics.{key}", f"must be a number, not {value!r}")
    return float(value)
