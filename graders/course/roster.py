"""The student roster, ``students.csv``: id, name, email, enrolled_at[, withdrawn_at].

Student ids become folder names in the exchange and under ``submitted/``, so
they are validated before anything touches the filesystem.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ..errors import RosterError, StudentIdError
from .toml_reader import SAFE_ID, parse_local_datetime

REQUIRED_COLUMNS = ("id", "name", "email", "enrolled_at")
OPTIONAL_COLUMNS = ("withdrawn_at",)
PORTABLE_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    email: str
    enrolled_at: dt.datetime  # aware UTC
    withdrawn_at: dt.datetime | None = None


def validate_student_id(student_id: str) -> str:
    """Return ``student_id`` if it is safe as a single path component, else raise.

    Refuses path separators, ``..``, whitespace, a leading dot, and nbgrader's
    own separators (``+`` and ``*``).
    """
    if not isinstance(student_id, str) or not SAFE_ID.match(student_id) or ".." in student_id:
        raise StudentIdError(
            f"unsafe student id {student_id!r}: use letters, digits, . _ @ - "
            "(no spaces, slashes, '+', '*' or '..'; at most 64 characters)"
        )
    return student_id


def load_roster(path: Path | str, *, timezone: ZoneInfo) -> tuple[Student, ...]:
    """Read and validate ``students.csv``; dates are read in the course time zone."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(path, None, "roster file does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(path, None, f"not UTF-8 text: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise RosterError(path, 1, f"missing column(s): {', '.join(missing)} (need {', '.join(REQUIRED_COLUMNS)})")
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise RosterError(path, 1, f"unknown column(s): {', '.join(unknown)}")

    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            student_id = validate_student_id(row["id"])
        except StudentIdError as exc:
            raise RosterError(path, line, str(exc)) from None
        if student_id in seen:
            raise RosterError(path, line, f"duplicate student id {student_id!r} (first on line {seen[student_id]})")
        seen[student_id] = line
        enrolled_at = _date(path, line, "enrolled_at", row["enrolled_at"], timezone)
        withdrawn_at = _date(path, line, "withdrawn_at", row["withdrawn_at"], timezone) if row.get("withdrawn_at") else None
        if withdrawn_at is not None and withdrawn_at < enrolled_at:
            raise RosterError(path, line, "withdrawn_at is before enrolled_at")
        students.append(Student(student_id, row["name"], row["email"], enrolled_at, withdrawn_at))
    return tuple(students)


def write_roster(path: Path | str, students: list[Student] | tuple[Student, ...], *, timezone: ZoneInfo) -> None:
    """Write ``students.csv`` with dates in the course time zone."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
        for s in students:
            withdrawn = s.withdrawn_at.astimezone(timezone).strftime("%Y-%m-%d %H:%M") if s.withdrawn_at else ""
            writer.writerow([s.id, s.name, s.email, s.enrolled_at.astimezone(timezone).strftime("%Y-%m-%d %H:%M"), withdrawn])


def _date(path: Path, line: int, column: str, value: str, timezone: ZoneInfo) -> dt.datetime:
    if not value:
        raise RosterError(path, line, f"{column} is empty")
    try:
        return parse_local_datetime(value, timezone=timezone, end_of_day=False)
    except ValueError as exc:
        raise RosterError(path, line, f"{column}: {exc}") from None


def account_name(student_id: str) -> str:
    """The unix account (and JupyterHub user) name of a roster student id.

    An id that is already a portable account name (``^[a-z_][a-z0-9_.-]{0,31}$``:
    lower case, starts with a letter or ``_``, at most 32 characters) is used as
    it is; any other id (capitals, which JupyterHub would lower-case, ``@``, a
    leading digit, too long) becomes its lower-cased form with every other
    character replaced by ``-``, cut to 23 characters, plus ``-`` and the first
    8 hex digits of the SHA-256 of the id: ``Ada@uni`` -> ``ada-uni-<8 hex>``,
    ``20231234`` -> ``s20231234-<8 hex>``. The hash keeps the mapping one-to-one
    and stable across runs. The exchange names submissions by roster id, so
    whoever checks a submission's owner compares it with this name.
    """
    if PORTABLE_NAME.match(student_id):
        return student_id
    base = re.sub(r"[^a-z0-9_.-]", "-", student_id.lower()).strip("-.") or "student"
    if not re.match(r"[a-z_]", base):
        base = "s" + base
    return f"{base[:23]}-{hashlib.sha256(student_id.encode()).hexdigest()[:8]}"
