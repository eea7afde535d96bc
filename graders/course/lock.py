"""The course lock: one command at a time writes a course's state.

Commands that write (collect, grade, feedback, export, release, unrelease,
extend, simulate, and each cycle of watch) hold an exclusive ``flock`` on
``.paceline/course.lock`` (:attr:`CourseLayout.lock_path`); read-only commands
(status, check, report) never take it. The kernel drops a ``flock`` when its
holder's process ends, however it ends, so a lock left by a killed command
is free again at once: no pid file to go stale, nothing to clean up. The file
only says who holds the lock (command, pid, user, host, start), for the
waiting message; an old holder's record is simply overwritten.

Taken at the edge (a command's entry, one watch cycle), never inside pure
steps. Re-entrant within one thread, so an operation that calls another
under the same lock does not deadlock on itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ..errors import PacelineError
from .layout import CourseLayout

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class LockHolder:
    """Who holds a course lock, as the holder wrote it."""

    command: str
    pid: int
    user: str
    host: str
    started_at: dt.datetime  # aware UTC

    def describe(self, timezone: ZoneInfo, *, now: dt.datetime | None = None) -> str:
        """``paceline grade (pid 4242, started 10:02)``: the start in the course's time zone, with the
        date when it was not today, and the host when it is another machine sharing the folder."""
        started = self.started_at.astimezone(timezone)
        today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(timezone).date()
        when = f"{started:%H:%M}" if started.date() == today else f"{started:%Y-%m-%d %H:%M}"
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"{self.command} (pid {self.pid}{where}, started {when})"


class CourseBusy(PacelineError):
    """Another command holds the course lock and the caller would not wait."""

    def __init__(self, holder: LockHolder | None, *, timezone: ZoneInfo) -> None:
        self.holder = holder
        who = holder.describe(timezone) if holder else "another paceline command"
        super().__init__(f"the course is busy: {who} is writing it; try again when it has finished "
                         "(or leave out --no-wait to wait for it)")


# (lock file, thread) -> [open file descriptor, depth]: re-entry in the same thread only counts.
_held: dict[tuple[Path, int], list[int]] = {}
_held_guard = threading.Lock()


@contextlib.contextmanager
def course_lock(
    layout: CourseLayout,
    *,
    command: str,
    timezone: ZoneInfo,
    wait: bool = True,
    on_wait: Callable[[LockHolder | None], None] | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """Hold the course's lock for the ``with`` block.

    When another process holds it: with ``wait``, call ``on_wait`` with the
    holder (again whenever the holder changes) and block until it is free,
    or until ``cancel`` is set (then raise :class:`CourseBusy`); without
    ``wait``, raise :class:`CourseBusy` naming the holder at once.
    """
    path = layout.lock_path
    path.parent.mkdir(parents=True, exist_ok=True)
    key = (path.resolve(), threading.get_ident())
    with _held_guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
    if entry is not None:
        try:
            yield
        finally:
            with _held_guard:
                entry[1] -= 1
        return

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _acquire(fd, wait=wait, on_wait=on_wait, cancel=cancel, timezone=timezone)
        record = LockHolder(command, os.getpid(), current_user(), socket.gethostname(), dt.datetime.now(dt.timezone.utc))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_as_json(record)).encode(), 0)
        with _held_guard:
            _held[key] = [fd, 1]
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
            os.ftruncate(fd, 0)  # nobody holds it: a waiter reading now finds no stale name
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def close_in_forked_child() -> None:
    """In a process forked while this one held course locks (a grading worker): close the child's copies
    of their descriptors. The locks stay the parent's; a child still busy with a notebook no longer keeps
    them held after the parent has died. Only for a child that runs other code than the parent's ``with``
    block (which would release a descriptor it no longer has)."""
    for fd, _depth in list(_held.values()):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


def lock_holder(layout: CourseLayout) -> LockHolder | None:
    """Who holds the course lock now, or None when it is free (a killed holder's record does not count)."""
    path = layout.lock_path
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _acquire(fd: int, *, wait: bool, on_wait: Callable[[LockHolder | None], None] | None,
             cancel: threading.Event | None, timezone: ZoneInfo) -> None:
    announced: LockHolder | None | bool = False  # False: nobody announced yet
    first_try = time.monotonic()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _read_holder(fd)
        # The holder writes its record just after it locks: give it a moment before saying "someone".
        if holder is None and time.monotonic() - first_try < 1.0:
            time.sleep(0.05)
            continue
        if not wait or (cancel is not None and cancel.is_set()):
            raise CourseBusy(holder, timezone=timezone)
        if on_wait is not None and holder != announced:
            on_wait(holder)
            announced = holder
        time.sleep(POLL_SECONDS)


def _read_holder(fd: int) -> LockHolder | None:
    try:
        raw = json.loads(os.pread(fd, 4096, 0).decode() or "null")
        return LockHolder(str(raw["command"]), int(raw["pid"]), str(raw["user"]), str(raw["host"]),
                          dt.datetime.fromisoformat(raw["started_at"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None  # empty between a holder's lock and its write, or not written by paceline


def _as_json(holder: LockHolder) -> dict[str, object]:
    return {"command": holder.command, "pid": holder.pid, "user": holder.user, "host": holder.host,
            "started_at": holder.started_at.isoformat()}


def current_user() -> str:
    """Who runs this command: the OS login name (recorded as the holder of the lock, and by default as
    who granted, revoked or took back something)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (a container): say which uid it was
        return f"uid {os.getuid()}"
