"""What a student (an unrelated "other" user) can reach: checks, the exchange's modes, file modes."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from ..course.plan import CourseConfig
from ..errors import HubError


def blocked_for_others(path: Path, *, want: str) -> str | None:
    """Why a user in none of the owner's groups cannot use ``path``, or None if they can.

    ``want`` is what they must do with ``path`` itself: "r" (read a file or
    list a folder), "x" (run a file or enter a folder), "wx" (create in a
    folder). Every parent folder must let them through (o+x). Only the "other"
    permission bits count: students share no group with the instructor.
    """
    path = Path(os.path.abspath(path))
    for parent in reversed(path.parents):
        try:
            mode = parent.stat().st_mode
        except OSError as exc:
            return f"{parent}: {exc.strerror}"
        if not mode & stat.S_IXOTH:
            return f"{parent} is mode {stat.filemode(mode)} (others cannot enter it)"
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    bits = {"r": stat.S_IROTH, "w": stat.S_IWOTH, "x": stat.S_IXOTH}
    missing = [flag for flag in want if not mode & bits[flag]]
    if missing:
        return f"{path} is mode {stat.filemode(mode)} (others need {want})"
    return None


def exposed_instructor_paths(course: CourseConfig) -> list[Path]:
    """Instructor-only paths that a student account could read (solutions, grades, submissions).

    On a shared machine the course folder should not be world-readable: keep
    it private (chmod 700) and the exchange outside it (``[course] exchange``).
    """
    exposed = []
    for path in course.layout.instructor_only():
        if path.exists() and blocked_for_others(path, want="r") is None:
            exposed.append(path)
    return exposed


def prepare_exchange(course: CourseConfig) -> Path:
    """Create the course's exchange with nbgrader's modes, root-owned, before any student exists.

    - root: 1777. nbgrader needs it world-writable (every student-side call
      checks w+x on it, and release resets anything whose low bits differ from
      0777); the sticky bit, which release leaves alone, stops a student from
      renaming or replacing the root-owned course folder in it.
    - ``<course>`` and ``outbound``: 0755, as release makes them.
    - ``inbound``: 2733 (drwx-ws-wx), as release makes it: students create
      submissions in it but cannot list it.
    - ``feedback``: 0711: students open feedback by a name derived from their
      submission's secret, and cannot list it.
    Creating them here means no student can create them first (nbgrader
    refuses a course folder it does not own, which would block every release).
    """
    exchange = course.layout.exchange
    root = exchange.root
    root.mkdir(parents=True, exist_ok=True)
    _own(root, 0o1777)
    for path, mode in ((exchange.course_dir, 0o755), (exchange.outbound, 0o755),
                       (exchange.inbound, 0o2733), (exchange.feedback, 0o711)):
        path.mkdir(exist_ok=True)
        _own(path, mode)
    blocked = blocked_for_others(root, want="wx")
    if blocked:
        raise HubError(
            f"students cannot reach the exchange {root}: {blocked}. Put the exchange where every "
            "student can reach it (course.toml: [course] exchange = \"/srv/nbgrader/exchange\") "
            "or open the folders above it (chmod o+x)"
        )
    return root


def _own(path: Path, mode: int) -> None:
    """Refuse a folder someone else owns (a student may have planted it); else set its mode."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise HubError(f"{path} is not a folder (a symlink or a file is there): remove it")
    if info.st_uid != os.geteuid():
        owner = user_name(info.st_uid)
        raise HubError(f"{path} belongs to {owner}, not to paceline's user: remove it and run again")
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def write_secret(path: Path, text: str) -> None:
    """A file only its owner (root) reads, created with that mode (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def write_public(path: Path, text: str) -> None:
    """A file every student may read (nothing secret in it)."""
    path.write_text(text)
    os.chmod(path, 0o644)
