"""A password per student for the course's hub: generated, stored hashed, handed out once.

- :func:`ensure_student_passwords` (``paceline hub`` runs it at every start)
  gives every active roster student without one a new random password, keeps
  everyone else's, and drops withdrawn students' (so they cannot log in);
- the hashes (scrypt, a random salt each) live in the hub's private folder in
  ``password-hashes.json`` (0600), keyed by unix account, and
  :class:`graders.hub.authenticator.PacelineAuthenticator` reads that file at
  every login;
- the new passwords in plain text go to ``student-passwords.csv`` (0600,
  ``student_id,account,password``) for the instructor to hand out; rows of
  students whose password did not change stay as they were, so the file can
  be deleted once passwords are distributed; a student's row goes by itself
  at their first login (:func:`take_off_list`), and the file with the last
  row, so plain-text passwords do not outlive their use;
- :func:`reset_student_password` gives one student a new password.

Stdlib only: the hub process imports it through the authenticator.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import HubError

if TYPE_CHECKING:
    from ..course.plan import CourseConfig

SCHEME = "scrypt"
# scrypt's cost: 16 MiB and ~70 ms per hash on a 2-core machine. The passwords are random (96 bits),
# so the cost only has to make an offline guess of a stolen hash file pointless, not slow a login.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
PASSWORD_BYTES = 12  # token_urlsafe: 16 characters
CSV_HEADER = ("student_id", "account", "password")


@dataclass(frozen=True)
class NewPassword:
    student_id: str
    account: str
    password: str


@dataclass(frozen=True)
class PasswordChanges:
    """What :func:`ensure_student_passwords` did: passwords made, accounts whose password was removed."""

    created: tuple[NewPassword, ...]
    removed: tuple[str, ...]
    csv_path: Path


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$key`` (base64), with a new random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join([SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one hashed in ``stored``; a malformed ``stored`` matches nothing."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(key, validate=True)
        found = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


@cache
def _dummy_hash() -> str:
    # Compared against when the user name has no hash, so an unknown name takes as long as a wrong password.
    return hash_password(secrets.token_urlsafe(PASSWORD_BYTES))


def check_login(hashes: Mapping[str, str], account: str, password: str) -> bool:
    """Whether ``account`` has a stored hash and ``password`` matches it (in the same time either way)."""
    stored = hashes.get(account)
    matched = verify_password(password, stored if isinstance(stored, str) else _dummy_hash())
    return matched and isinstance(stored, str)


def read_hashes(path: Path) -> dict[str, str]:
    """The stored hashes (account -> hash); no file: no passwords yet."""
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HubError(f"{path}: cannot read the students' password hashes: {exc}") from None
    if not isinstance(found, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        raise HubError(f"{path}: not a JSON object of account -> password hash")
    return found


def ensure_student_passwords(
    accounts: Mapping[str, str], *, hashes_path: Path, csv_path: Path, reset: frozenset[str] = frozenset(),
) -> PasswordChanges:
    """A password for every account in ``accounts`` (roster id -> account) that has none, or is in ``reset``.

    Accounts not in ``accounts`` (withdrawn or removed students) lose their
    hash. ``reset`` holds roster ids. The hub's folder must exist (it is 0700).
    """
    unknown = sorted(reset - set(accounts))
    if unknown:
        raise HubError(f"no active roster student {', '.join(map(repr, unknown))}: nobody to give a new password")
    old = read_hashes(hashes_path)
    hashes = {account: old[account] for account in accounts.values() if account in old}
    created = []
    for student_id, account in accounts.items():
        if account in hashes and student_id not in reset:
            continue
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        hashes[account] = hash_password(password)
        created.append(NewPassword(student_id, account, password))
    removed = tuple(sorted(set(old) - set(hashes)))
    if created or removed or not hashes_path.exists():
        _write_secret(hashes_path, json.dumps(dict(sorted(hashes.items())), indent=1) + "\n")
    if created or removed:
        _update_csv(csv_path, created=created, keep=set(hashes))
    return PasswordChanges(created=tuple(created), removed=removed, csv_path=csv_path)


def course_passwords(course: CourseConfig, *, reset: Sequence[str] = ()) -> PasswordChanges:
    """``paceline hub passwords``: what the next hub start would do, now; ``reset`` (roster ids) get new ones."""
    from .accounts import student_accounts

    hub_dir = course.layout.hub_dir
    hub_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(hub_dir, 0o700)
    return ensure_student_passwords(student_accounts(course), hashes_path=course.layout.hub_password_hashes,
                                    csv_path=course.layout.hub_passwords_csv, reset=frozenset(reset))


def take_off_list(path: Path, account: str) -> bool:
    """``account`` has logged in with its password: its row leaves the plain-text list at ``path`` (whoever
    needed it has it), and the list goes with its last row. Whether a row went."""
    with _list_lock(path):
        rows = _read_list(path)
        kept = [row for row in rows if row[1] != account]
        if len(kept) == len(rows):
            return False
        if kept:
            _write_list(path, kept)
        else:
            path.unlink()
        return True


def _update_csv(path: Path, *, created: list[NewPassword], keep: set[str]) -> None:
    """Rows of unchanged passwords stay; new ones replace or join them; rows of removed accounts go."""
    changed = {entry.account for entry in created}
    with _list_lock(path):
        rows = [row for row in _read_list(path) if row[1] in keep and row[1] not in changed]
        rows += [(entry.student_id, entry.account, entry.password) for entry in created]
        _write_list(path, rows)


@contextlib.contextmanager
def _list_lock(path: Path) -> Iterator[None]:
    """The list's lock: the hub's logins and ``paceline hub passwords`` each rewrite it whole."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_list(path: Path) -> list[tuple[str, str, str]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [(row.get("student_id") or "", row.get("account") or "", row.get("password") or "")
            for row in csv.DictReader(io.StringIO(text))]


def _write_list(path: Path, rows: list[tuple[str, str, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(sorted(rows))
    _write_secret(path, out.getvalue())


def _write_secret(path: Path, text: str) -> None:
    # Written aside, then renamed: the authenticator never reads a half-written file.
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=64 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
