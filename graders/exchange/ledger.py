"""The attempt ledger: every submission paceline has collected, and its grade.

nbgrader's gradebook holds one submission per student and lesson (the latest,
which formgrader shows); the ledger keeps the history nbgrader throws away:
every attempt with its receipt time, content hash, and the score it earned.
It is a small SQLite file in the course's private state folder.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..course.timeline import Extension

AttemptStatus = Literal["collected", "graded", "failed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id            INTEGER PRIMARY KEY,
    student_id    TEXT NOT NULL,
    lesson_id     TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    exchange_name TEXT NOT NULL UNIQUE,
    received_at   TEXT NOT NULL,
    claimed_at    TEXT,
    content_hash  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    file_count    INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'collected',
    score         REAL,
    max_score     REAL,
    late_penalty  REAL,
    graded_at     TEXT,
    error         TEXT,
    feedback_digest TEXT,
    UNIQUE (student_id, lesson_id, attempt)
);
CREATE TABLE IF NOT EXISTS unlocks (
    student_id  TEXT NOT NULL,
    lesson_id   TEXT NOT NULL,
    unlocked_at TEXT NOT NULL,
    PRIMARY KEY (student_id, lesson_id)
);
CREATE TABLE IF NOT EXISTS releases (
    lesson_id   TEXT PRIMARY KEY,
    source_hash TEXT NOT NULL,
    released_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejections (
    exchange_name TEXT PRIMARY KEY,
    student_id    TEXT,
    lesson_id     TEXT,
    received_at   TEXT NOT NULL,
    reason        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS extensions (
    id         INTEGER PRIMARY KEY,
    student_id TEXT NOT NULL,
    lesson_id  TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    reason     TEXT NOT NULL,
    shareable  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cell_scores (
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    notebook   TEXT NOT NULL,
    grade_id   TEXT NOT NULL,
    score      REAL,
    max_score  REAL NOT NULL,
    PRIMARY KEY (attempt_id, notebook, grade_id)
);
"""


# (table, column, type) added since the first ledgers: an older ledger gains them when opened.
ADDED_COLUMNS = (
    ("attempts", "feedback_digest", "TEXT"), ("attempts", "feedback_error", "TEXT"),
    ("attempts", "origin", "TEXT"),  # "imported": from an nbgrader course (paceline import); NULL: collected
    # The gradebook's facts (graders.engine.gradebook_reader's basis) the attempt's kept feedback pages show;
    # NULL: not known to match the gradebook (rendered by a worker from other facts, or by an older paceline).
    ("attempts", "feedback_basis", "TEXT"),
    ("extensions", "shareable", "INTEGER NOT NULL DEFAULT 0"),
    ("extensions", "revoked", "INTEGER NOT NULL DEFAULT 0"),  # 1: takes the extension back (due_at: the planned date)
    ("releases", "withdrawn_at", "TEXT"), ("releases", "withdrawn_by", "TEXT"),  # taken back by `paceline unrelease`
)
AttemptOrigin = Literal["collected", "imported"]


@dataclass(frozen=True)
class Attempt:
    id: int
    student_id: str
    lesson_id: str
    attempt: int
    exchange_name: str
    received_at: dt.datetime
    claimed_at: dt.datetime | None
    content_hash: str
    size_bytes: int
    file_count: int
    status: AttemptStatus
    score: float | None
    max_score: float | None
    late_penalty: float | None
    graded_at: dt.datetime | None
    error: str | None
    feedback_digest: str | None = None  # digest of the feedback last released (or that failed to be) for this attempt
    feedback_error: str | None = None  # why that feedback could not be released; None once released
    # "imported": brought in from an nbgrader course's submitted/ (paceline import); its receipt time is
    # the time nbgrader recorded (timestamp.txt), not when paceline read it.
    origin: AttemptOrigin = "collected"
    feedback_basis: str | None = None  # the gradebook facts its kept feedback pages show (see ADDED_COLUMNS)

    @property
    def submitted_at(self) -> dt.datetime:
        """When the attempt counts as submitted: paceline's receipt time.

        The student's own timestamp (``claimed_at``) is kept for reference
        only: it is written on the student's side and can say anything.
        """
        return self.received_at


@dataclass(frozen=True)
class ExtensionRevoked:
    """An instructor took an extension back: the student's planned due date applies again."""

    student_id: str
    lesson_id: str
    planned_due_at: dt.datetime
    revoked_by: str
    revoked_at: dt.datetime
    reason: str


@dataclass(frozen=True)
class Withdrawal:
    """A lesson taken back from the exchange by ``paceline unrelease``; released again only when named."""

    lesson_id: str
    withdrawn_at: dt.datetime
    withdrawn_by: str


@dataclass(frozen=True)
class CellScore:
    notebook: str
    grade_id: str
    score: float | None
    max_score: float


class Ledger:
    """Open with ``Ledger.open(course.layout.ledger_path)``; use as a context manager."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Ledger:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in columns:  # a ledger written by an older paceline
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        return cls(db)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def known_exchange_names(self) -> set[str]:
        """Inbound folders already dealt with: collected or refused (names as :func:`storable_text` stores them)."""
        return {row[0] for row in self._db.execute("SELECT exchange_name FROM attempts UNION SELECT exchange_name FROM rejections")}

    def add_rejection(self, *, exchange_name: str, student_id: str | None, lesson_id: str | None,
                      received_at: dt.datetime, reason: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO rejections (exchange_name, student_id, lesson_id, received_at, reason) VALUES (?, ?, ?, ?, ?)",
            (storable_text(exchange_name), _storable(student_id), _storable(lesson_id), _iso(received_at), storable_text(reason)),
        )

    def rejections(self, *, student_id: str | None = None) -> list[tuple[str, str | None, str | None, dt.datetime, str]]:
        """(exchange name, claimed student, lesson, when seen, why) of every refused submission."""
        query = "SELECT * FROM rejections" + (" WHERE student_id = ?" if student_id else "") + " ORDER BY received_at"
        rows = self._db.execute(query, (student_id,) if student_id else ())
        return [(r["exchange_name"], r["student_id"], r["lesson_id"], _parse(r["received_at"]), r["reason"]) for r in rows]

    def next_attempt_number(self, student_id: str, lesson_id: str) -> int:
        (number,) = self._db.execute(
            "SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE student_id = ? AND lesson_id = ?",
            (student_id, lesson_id),
        ).fetchone()
        return number

    def add_attempt(
        self,
        *,
        student_id: str,
        lesson_id: str,
        attempt: int,
        exchange_name: str,
        received_at: dt.datetime,
        claimed_at: dt.datetime | None,
        content_hash: str,
        size_bytes: int,
        file_count: int,
        origin: AttemptOrigin = "collected",
    ) -> Attempt:
        """Record a collected (or imported) attempt; (student, lesson, attempt) and exchange_name are unique."""
        cursor = self._db.execute(
            "INSERT INTO attempts (student_id, lesson_id, attempt, exchange_name, received_at, claimed_at,"
            " content_hash, size_bytes, file_count, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (student_id, lesson_id, attempt, storable_text(exchange_name), _iso(received_at), _iso(claimed_at),
             content_hash, size_bytes, file_count, None if origin == "collected" else origin),
        )
        return self.get(cursor.lastrowid)

    def get(self, attempt_id: int) -> Attempt:
        row = self._db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            raise KeyError(attempt_id)
        return _attempt(row)

    def attempts(
        self,
        *,
        lesson_ids: Iterable[str] | None = None,
        student_ids: Iterable[str] | None = None,
        statuses: Iterable[AttemptStatus] | None = None,
    ) -> list[Attempt]:
        """Attempts matching every given filter, in (lesson, student, attempt) order."""
        clauses, params = [], []
        for column, values in (("lesson_id", lesson_ids), ("student_id", student_ids), ("status", statuses)):
            if values is not None:
                values = list(values)
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
                params.extend(values)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(f"SELECT * FROM attempts {where} ORDER BY lesson_id, student_id, attempt", params)
        return [_attempt(row) for row in rows]

    def record_grade(
        self,
        attempt_id: int,
        *,
        score: float,
        max_score: float,
        late_penalty: float,
        graded_at: dt.datetime,
        cells: Iterable[CellScore],
        feedback_basis: str | None = None,
    ) -> None:
        """A graded attempt; ``feedback_basis``: the gradebook facts its new feedback pages show, if known."""
        with self._transaction():
            self._db.execute(
                "UPDATE attempts SET status = 'graded', score = ?, max_score = ?, late_penalty = ?,"
                " graded_at = ?, error = NULL, feedback_basis = ? WHERE id = ?",
                (score, max_score, late_penalty, _iso(graded_at), feedback_basis, attempt_id),
            )
            self._db.execute("DELETE FROM cell_scores WHERE attempt_id = ?", (attempt_id,))
            self._db.executemany(
                "INSERT INTO cell_scores (attempt_id, notebook, grade_id, score, max_score) VALUES (?, ?, ?, ?, ?)",
                [(attempt_id, c.notebook, c.grade_id, c.score, c.max_score) for c in cells],
            )

    def record_failure(self, attempt_id: int, *, error: str, graded_at: dt.datetime) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE attempts SET status = 'failed', score = NULL, late_penalty = NULL, graded_at = ?,"
                " error = ? WHERE id = ?",
                (_iso(graded_at), storable_text(error), attempt_id),
            )

    def update_score(self, attempt_id: int, *, score: float, late_penalty: float) -> None:
        """Refresh a graded attempt's score from the gradebook (after manual grading)."""
        with self._transaction():
            self._db.execute(
                "UPDATE attempts SET score = ?, late_penalty = ? WHERE id = ? AND status = 'graded'",
                (score, late_penalty, attempt_id),
            )

    def update_cell_scores(self, attempt_id: int, *, cells: Iterable[CellScore]) -> None:
        """Refresh a graded attempt's cell scores from the gradebook (manual marks given in formgrader)."""
        with self._transaction():
            self._db.execute("DELETE FROM cell_scores WHERE attempt_id = ?", (attempt_id,))
            self._db.executemany(
                "INSERT INTO cell_scores (attempt_id, notebook, grade_id, score, max_score) VALUES (?, ?, ?, ?, ?)",
                [(attempt_id, c.notebook, c.grade_id, c.score, c.max_score) for c in cells],
            )

    def record_feedback_basis(self, attempt_id: int, *, basis: str) -> None:
        """The attempt's kept feedback pages were rendered again, from the gradebook facts ``basis``."""
        with self._transaction():
            self._db.execute("UPDATE attempts SET feedback_basis = ? WHERE id = ?", (basis, attempt_id))

    def mark_feedback_released(self, attempt_id: int, *, digest: str) -> None:
        with self._transaction():
            self._db.execute("UPDATE attempts SET feedback_digest = ?, feedback_error = NULL WHERE id = ?", (digest, attempt_id))

    def record_feedback_failure(self, attempt_id: int, *, digest: str, error: str) -> None:
        """This feedback (``digest``) could not be released: not tried again until the feedback changes."""
        with self._transaction():
            self._db.execute("UPDATE attempts SET feedback_digest = ?, feedback_error = ? WHERE id = ?",
                             (digest, storable_text(error), attempt_id))

    def add_unlock(self, *, student_id: str, lesson_id: str, at: dt.datetime) -> None:
        self._db.execute("INSERT OR IGNORE INTO unlocks (student_id, lesson_id, unlocked_at) VALUES (?, ?, ?)",
                         (student_id, lesson_id, _iso(at)))

    def unlocks(self) -> dict[tuple[str, str], dt.datetime]:
        return {(r["student_id"], r["lesson_id"]): _parse(r["unlocked_at"]) for r in self._db.execute("SELECT * FROM unlocks")}

    def remove_unlocks(self, lesson_id: str) -> list[str]:
        """Forget who unlocked ``lesson_id`` (its personal copies were taken back); returns those students."""
        with self._transaction():
            students = [r[0] for r in self._db.execute(
                "SELECT student_id FROM unlocks WHERE lesson_id = ? ORDER BY student_id", (lesson_id,))]
            self._db.execute("DELETE FROM unlocks WHERE lesson_id = ?", (lesson_id,))
        return students

    def release_hash(self, lesson_id: str) -> str | None:
        row = self._db.execute("SELECT source_hash FROM releases WHERE lesson_id = ?", (lesson_id,)).fetchone()
        return row[0] if row else None

    def record_release(self, *, lesson_id: str, source_hash: str, at: dt.datetime) -> None:
        """A release; it ends any earlier withdrawal of the lesson."""
        self._db.execute("INSERT OR REPLACE INTO releases (lesson_id, source_hash, released_at) VALUES (?, ?, ?)",
                         (lesson_id, source_hash, _iso(at)))

    def record_withdrawal(self, *, lesson_id: str, at: dt.datetime, by: str) -> None:
        """``lesson_id`` was taken back: automatic releases (``release --due``, watch) leave it alone."""
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO releases (lesson_id, source_hash, released_at) VALUES (?, '', ?)",
                             (lesson_id, _iso(at)))
            self._db.execute("UPDATE releases SET withdrawn_at = ?, withdrawn_by = ?, source_hash = '' WHERE lesson_id = ?",
                             (_iso(at), by, lesson_id))

    def withdrawals(self) -> dict[str, Withdrawal]:
        rows = self._db.execute("SELECT * FROM releases WHERE withdrawn_at IS NOT NULL")
        return {r["lesson_id"]: Withdrawal(r["lesson_id"], _parse(r["withdrawn_at"]), r["withdrawn_by"]) for r in rows}

    def add_extension(self, extension: Extension) -> None:
        """Record a grant; the latest grant for a student and lesson is the one in force."""
        self._db.execute(
            "INSERT INTO extensions (student_id, lesson_id, due_at, granted_by, granted_at, reason, shareable)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (extension.student_id, extension.lesson_id, _iso(extension.due_at), extension.granted_by,
             _iso(extension.granted_at), extension.reason, int(extension.shareable)),
        )

    def add_revocation(self, revoked: ExtensionRevoked) -> None:
        """Record that the extension in force for a student and lesson was taken back."""
        self._db.execute(
            "INSERT INTO extensions (student_id, lesson_id, due_at, granted_by, granted_at, reason, revoked)"
            " VALUES (?, ?, ?, ?, ?, ?, 1)",
            (revoked.student_id, revoked.lesson_id, _iso(revoked.planned_due_at), revoked.revoked_by,
             _iso(revoked.revoked_at), revoked.reason),
        )

    def extensions(self) -> dict[tuple[str, str], Extension]:
        """The extension in force per (student, lesson): the latest grant, unless revoked since."""
        in_force: dict[tuple[str, str], Extension] = {}
        for change in self._extension_changes("SELECT * FROM extensions ORDER BY id", ()):
            key = (change.student_id, change.lesson_id)
            if isinstance(change, ExtensionRevoked):
                in_force.pop(key, None)
            else:
                in_force[key] = change
        return in_force

    def extension_history(self, student_id: str) -> list[Extension | ExtensionRevoked]:
        """Every grant and revocation for ``student_id``, oldest first: who, when and why."""
        return self._extension_changes("SELECT * FROM extensions WHERE student_id = ? ORDER BY id", (student_id,))

    def _extension_changes(self, query: str, params: tuple) -> list[Extension | ExtensionRevoked]:
        changes: list[Extension | ExtensionRevoked] = []
        for r in self._db.execute(query, params):
            if r["revoked"]:
                changes.append(ExtensionRevoked(r["student_id"], r["lesson_id"], _parse(r["due_at"]), r["granted_by"],
                                                _parse(r["granted_at"]), r["reason"]))
            else:
                changes.append(_extension(r))
        return changes

    def releases(self) -> dict[str, dt.datetime]:
        """When each released lesson was last released."""
        return {row["lesson_id"]: _parse(row["released_at"]) for row in self._db.execute("SELECT * FROM releases")}

    def awaiting_manual_grading(self) -> frozenset[int]:
        """Ids of the attempts with a cell no score yet: a manually graded cell a teacher has not marked."""
        return frozenset(row[0] for row in self._db.execute("SELECT DISTINCT attempt_id FROM cell_scores WHERE score IS NULL"))

    def cell_scores(self, attempt_id: int) -> list[CellScore]:
        rows = self._db.execute(
            "SELECT notebook, grade_id, score, max_score FROM cell_scores WHERE attempt_id = ? ORDER BY notebook, grade_id",
            (attempt_id,),
        )
        return [CellScore(*row) for row in rows]

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *rest) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def storable_text(text: str) -> str:
    """``text`` as SQLite can store it. Names read from the filesystem carry bytes that are not
    UTF-8 as lone surrogates (Python's surrogateescape), which SQLite refuses: those become
    ``\\xff``-style escapes. Valid text is stored unchanged, so names in older ledgers still match.
    No valid name nbgrader's submit makes can read like an escape, so only a student's own
    deliberately odd names could collide."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _storable(text: str | None) -> str | None:
    return None if text is None else storable_text(text)


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when} stored in the ledger")
    return when.astimezone(dt.timezone.utc).isoformat()


def _parse(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _extension(row: sqlite3.Row) -> Extension:
    return Extension(row["student_id"], row["lesson_id"], _parse(row["due_at"]), row["granted_by"],
                     _parse(row["granted_at"]), row["reason"], bool(row["shareable"]))


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        id=row["id"], student_id=row["student_id"], lesson_id=row["lesson_id"], attempt=row["attempt"],
        exchange_name=row["exchange_name"], received_at=_parse(row["received_at"]), claimed_at=_parse(row["claimed_at"]),
        content_hash=row["content_hash"], size_bytes=row["size_bytes"], file_count=row["file_count"],
        status=row["status"], score=row["score"], max_score=row["max_score"], late_penalty=row["late_penalty"],
        graded_at=_parse(row["graded_at"]), error=row["error"], feedback_digest=row["feedback_digest"],
        feedback_error=row["feedback_error"], origin=row["origin"] or "collected", feedback_basis=row["feedback_basis"],
    )
