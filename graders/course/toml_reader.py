"""Typed getters for course.toml: a wrong value becomes a ConfigError naming its key."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


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


class Reader:
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

    def whole(self, table: dict[str, Any], key: str, *, default: int | None, minimum: int) -> int | None:
        value = table.get(key.rsplit(".", 1)[-1], default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(self.path, key, f"must be a whole number of at least {minimum}, not {value!r}")
        return value

    def date(self, table: dict[str, Any], key: str, *, timezone: ZoneInfo, end_of_day: bool) -> dt.datetime:
        try:
            return parse_local_datetime(table[key.rsplit(".", 1)[-1]], timezone=timezone, end_of_day=end_of_day)
        except ValueError as exc:
            raise ConfigError(self.path, key, str(exc)) from None
