"""A student's personal exchange folder: theirs to read, nobody else's, and written only by paceline.

``<exchange>/<course>/personal/<student>/`` holds the gated lessons a student
has unlocked (:mod:`.unlock`), their progress document and their feedback
pages by attempt (:mod:`graders.operations.progress_files`). As root, the
folder belongs to the student's unix account with mode 0500, so only they can
enter it (a group could be shared by every student); without root (a course
run without a hub) it is the instructor's, mode 0700.

The student owns the folder, so they could make it writable and plant a
symbolic link in it: paceline, writing there as root, never follows one
(every step is opened relative to its parent with ``O_NOFOLLOW``) and replaces
files by renaming a fresh file over them, so a student never reads half a file.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..course.plan import CourseConfig
from ..course.roster import account_name

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def personal_folder(course: CourseConfig, student_id: str) -> Path:
    """The student's personal folder, created if needed, with its owner and mode (re)set."""
    base = course.layout.exchange.personal_dir
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # students reach their own folder by name; nobody can list the others
    mine = course.layout.exchange.personal(student_id)
    mine.mkdir(exist_ok=True)
    account = student_account_ids(student_id)
    if account is not None and os.getuid() == 0:
        os.chown(mine, *account)
        os.chmod(mine, 0o500)
    else:
        os.chmod(mine, 0o700)
    return mine


def student_account_ids(student_id: str) -> tuple[int, int] | None:
    """(uid, gid) of the student's account on this machine, if they have one."""
    try:
        entry = pwd.getpwnam(account_name(student_id))
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def write_personal_file(folder: Path, parts: Sequence[str], data: bytes) -> None:
    """Replace ``folder/parts[0]/.../parts[-1]`` with ``data`` at once, creating the folders between
    (mode 0755: ``folder`` already keeps everyone else out), following no link on the way."""
    *folders, name = parts
    with _open_folder(folder, folders) as fd:
        temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fchmod(fh.fileno(), 0o644)
                os.fsync(fh.fileno())
            os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=fd)
            raise


def read_personal_file(folder: Path, parts: Sequence[str]) -> bytes | None:
    """The file's bytes, None if it is not there (links are not followed)."""
    *folders, name = parts
    try:
        with _open_folder(folder, folders, create=False) as fd:
            handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    except FileNotFoundError:
        return None
    with os.fdopen(handle, "rb") as fh:
        return fh.read()


@contextlib.contextmanager
def _open_folder(folder: Path, parts: Sequence[str], *, create: bool = True) -> Iterator[int]:
    fd = os.open(folder, _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)  # a planted link fails here (ELOOP / ENOTDIR)
            if create and os.fstat(child).st_uid == os.geteuid():
                os.fchmod(child, 0o755)  # whatever the umask: the student's server reads it
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)
