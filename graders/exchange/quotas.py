"""Per-student limits at collection: attempts per lesson per hour, and a disk quota.

``[collect] max_attempts_per_hour`` counts a student's collected attempts at
one lesson by paceline's own receipt times (the student's timestamps can say
anything); ``[collect] student_quota_mb`` bounds what all of a student's
collected attempts hold together. A submission over either is refused at
collection like any other refused submission (the reason is recorded in the
ledger and shown by ``paceline status``), and the student is told through the
channel they already read: a small static feedback page, released in
nbgrader's exchange under the refused submission's own
``submission_secret.txt``, which *Fetch Feedback* brings into their lesson
folder like any feedback. It says the submission was not graded, why, and
when they may submit again.

Refused submissions do not count against the rate: a student who keeps
submitting while refused is not locked out for longer.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from nbgrader.utils import notebook_hash

from ..course.plan import CollectLimits, CourseConfig
from ..errors import SubmissionError
from ..page_policy import CONTENT_SECURITY_POLICY
from .ledger import Ledger
from .submission_checks import SECRET_NAME, secret_problem

WINDOW = dt.timedelta(hours=1)
MB = 1024 * 1024


@dataclass(frozen=True)
class LimitBreach:
    """Why a submission is over a per-student limit, in words for the student."""

    why: str
    retry_at: dt.datetime | None  # when a submission would be taken again; None: only once the instructor acts

    def advice(self, *, timezone: ZoneInfo) -> str:
        if self.retry_at is None:
            return "Ask your instructor to raise the limit or remove old attempts."
        return f"You may submit again after {_local(self.retry_at, timezone)}."


def limit_breach(
    *, limits: CollectLimits, lesson_receipts: Sequence[dt.datetime], stored_bytes: int, size_bytes: int,
    now: dt.datetime, timezone: ZoneInfo,
) -> LimitBreach | None:
    """Whether one more submission of ``size_bytes`` is over the student's limits (None: it is not).

    ``lesson_receipts`` are the receipt times of the student's collected
    attempts at this lesson, ``stored_bytes`` what all their collected
    attempts hold.
    """
    recent = sorted(at for at in lesson_receipts if now - WINDOW < at <= now)
    most = limits.max_attempts_per_hour
    if len(recent) >= most:
        # The hour-long window moves on: once the oldest of the last `most` attempts is an hour old, one fits.
        retry_at = recent[len(recent) - most] + WINDOW
        return LimitBreach(
            why=f"{len(recent)} attempts at this lesson in the last hour; at most {most} an hour are accepted "
                f"([collect] max_attempts_per_hour)",
            retry_at=retry_at,
        )
    quota = limits.student_quota_mb * MB
    if stored_bytes + size_bytes > quota:
        left = max(quota - stored_bytes, 0)
        return LimitBreach(
            why=f"your attempts already take {stored_bytes / MB:.1f} MB of the {limits.student_quota_mb} MB each "
                f"student may store ([collect] student_quota_mb), and this one is {size_bytes / MB:.1f} MB "
                f"({left / MB:.1f} MB left)",
            retry_at=None,
        )
    return None


def enforce_student_limits(
    course: CourseConfig, ledger: Ledger, *, student_id: str, lesson_id: str, folder: Path, received_at: dt.datetime,
) -> None:
    """Refuse (raise :class:`SubmissionError`) a submission over the student's limits, after
    releasing the notice that tells the student."""
    size = folder_size(folder)
    attempts = ledger.attempts(student_ids=[student_id])
    breach = limit_breach(
        limits=course.collect_limits,
        lesson_receipts=[a.received_at for a in attempts if a.lesson_id == lesson_id],
        stored_bytes=sum(a.size_bytes for a in attempts), size_bytes=size, now=received_at, timezone=course.timezone,
    )
    if breach is None:
        return
    release_refusal_notice(course, lesson_id=lesson_id, folder=folder, breach=breach, received_at=received_at)
    raise SubmissionError(student_id, lesson_id, None,
                          f"refused {folder.name!r}: {breach.why}. {breach.advice(timezone=course.timezone)}")


def folder_size(folder: Path) -> int:
    """Bytes in the regular files under ``folder``, never following a link: the student may have
    swapped a folder for a link to the instructor's files, whose sizes the notice must not tell."""
    total = 0
    for _, _, filenames, dir_fd in os.fwalk(folder, follow_symlinks=False):
        for name in filenames:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile: the copy that follows refuses what changed
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def release_refusal_notice(
    course: CourseConfig, *, lesson_id: str, folder: Path, breach: LimitBreach, received_at: dt.datetime,
) -> list[Path]:
    """Put a 'not graded' page in the exchange's feedback folder for each of the lesson's notebooks,
    named as nbgrader names feedback (:func:`nbgrader.utils.notebook_hash` of the submission's
    secret), so the student's *Fetch Feedback* finds it. Without a valid secret nothing is released:
    the refusal is still in the ledger."""
    secret = _read_secret(folder)
    if secret is None:
        return []
    lesson = course.lesson(lesson_id)
    page = refusal_page(lesson_title=lesson.title, why=breach.why, advice=breach.advice(timezone=course.timezone),
                        received=_local(received_at, course.timezone))
    outbound = course.layout.exchange.feedback
    outbound.mkdir(parents=True, exist_ok=True)
    os.chmod(outbound, 0o711)  # as nbgrader's: students open pages whose names they know, cannot list
    released = []
    for notebook in lesson.notebooks:
        target = outbound / f"{notebook_hash(secret=secret, notebook_id=Path(notebook).stem)}.html"
        if target.exists():
            continue  # the secret is the student's: never let it overwrite a page already released
        staging = outbound / f"{target.stem}-tmp.html"
        staging.write_text(page, encoding="utf-8")
        os.chmod(staging, 0o644)
        os.replace(staging, target)
        released.append(target)
    return released


def refusal_page(*, lesson_title: str, why: str, advice: str, received: str) -> str:
    """The notice: static HTML, no script, no outside resources, nothing the student wrote."""
    e = html.escape
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n"
        f"<title>Not graded: {e(lesson_title)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;line-height:1.5}</style>\n"
        "</head><body>\n"
        f"<h1>Not graded: {e(lesson_title)}</h1>\n"
        f"<p>Your submission received at {e(received)} was not collected, so it was not graded: {e(why)}.</p>\n"
        f"<p>{e(advice)} Your earlier attempts and their feedback are unchanged.</p>\n"
        "</body></html>\n"
    )


def _read_secret(folder: Path) -> str | None:
    """The submission's secret if it is what nbgrader writes; read without following links, bounded."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        dir_fd = os.open(folder, flags | os.O_DIRECTORY)
        try:
            fd = os.open(SECRET_NAME, flags, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = os.read(fd, 1024)
        finally:
            os.close(fd)
    except OSError:
        return None
    if secret_problem(data) is not None:
        return None
    return data.decode("ascii")


def _local(when: dt.datetime, timezone: ZoneInfo) -> str:
    return when.astimezone(timezone).strftime("%Y-%m-%d %H:%M %Z")
