"""Collect: copy every submission from the exchange into the course, keeping every attempt.

nbgrader's collect keeps only each student's newest submission, follows
symbolic links, and only logs a submission that claims another student's
name. Paceline reads the same inbound folder (nbgrader's exchange layout,
``<student>+<lesson>+<timestamp>+<random>``) and, for each submission it
has not seen before, either archives it as the student's next numbered
attempt under ``submitted/.attempts/`` (ledger: receipt time, content hash,
size) or refuses it and records why:

- identity is the operating system's: the folder must be owned by the
  claimed student's own account, or by the instructor (root or the
  collecting user: the simulated cohort and instructor uploads), since no
  student can create a file owned by another user;
- symbolic links, hard links and special files are refused, never followed,
  including a submission folder that is itself a link (to another student's
  submission, or the course's solutions); files are read one path component
  at a time without following links, so swapping a folder for a link after
  the check changes nothing;
- a submission over ``[collect] max_submission_mb`` or ``max_files`` is refused;
- what the student names and writes is checked before it is used
  (:mod:`graders.exchange.submission_checks`): folder and file names (valid UTF-8, no
  invisible characters, at most 16 folders deep) and ``submission_secret.txt``
  (nbgrader's hexadecimal secret, which names the student's feedback);
- whatever goes wrong with one submission, even an exception nobody foresaw,
  refuses that submission once, with the reason, and collection goes on;
- the time that counts is paceline's receipt time, never the student's own;
- a folder nbgrader's submit is still writing (no secret yet, changed moments
  ago) is left for the next run, not refused half-written.

After collection the submission folder is made readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pwd
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import parse_utc

from analytics.progress import Progress, Silent

from ..course.clock import Clock, SystemClock
from ..course.layout import personal_submission_parts
from ..course.plan import CourseConfig
from ..course.roster import account_name, validate_student_id
from ..errors import PacelineError, StudentIdError, SubmissionError, describe
from .ledger import Attempt, Ledger, storable_text
from .personal_folder import personal_folder, write_personal_file
from .quotas import enforce_student_limits
from .submission_checks import MAX_FOLDER_DEPTH, SECRET_NAME, entry_name_problem, inbound_name_problem, secret_problem, shown

# nbgrader's submit writes a folder in milliseconds; a folder missing its secret for this long is refused.
ARRIVAL_SECONDS = 30.0


@dataclass(frozen=True)
class InboundSubmission:
    """One folder in the exchange's inbound area, as nbgrader's submit wrote it."""

    path: Path
    student_id: str
    lesson_id: str
    claimed_at: dt.datetime | None

    @property
    def exchange_name(self) -> str:
        return self.path.name


@dataclass
class CollectReport:
    collected: list[Attempt] = field(default_factory=list)
    already_collected: int = 0  # collected or refused in an earlier run
    arriving: int = 0  # still being written by nbgrader's submit: left for the next run
    problems: list[PacelineError] = field(default_factory=list)  # refused now, each with its reason


def parse_inbound_name(path: Path, *, lesson_ids: set[str]) -> InboundSubmission:
    """Read student, lesson and claimed time from an inbound folder name.

    Raises :class:`PacelineError` for names that are not valid UTF-8, hold
    invisible characters, do not belong to a known lesson or carry an unsafe
    student id: such a folder is never copied.
    """
    problem = inbound_name_problem(path.name)
    if problem:
        raise PacelineError(f"{shown(path.name)}: refused: {problem}")
    parts = path.name.split("+")
    if len(parts) not in (3, 4):
        raise PacelineError(f"{shown(path.name)}: not a submission folder (expected student+lesson+timestamp+random)")
    student_id, lesson_id, stamp = parts[0], parts[1], parts[2]
    try:
        validate_student_id(student_id)
    except StudentIdError as exc:
        raise PacelineError(f"{shown(path.name)}: {exc}") from None
    if lesson_id not in lesson_ids:
        raise SubmissionError(student_id, lesson_id, None, f"submission {path.name!r} is for an unknown lesson")
    try:
        claimed = parse_utc(stamp).replace(tzinfo=dt.timezone.utc)
    except Exception:  # noqa: BLE001 - dateutil raises several types for the student's text
        claimed = None  # an unreadable claim is only a missing claim: the receipt time still counts
    return InboundSubmission(path=path, student_id=student_id, lesson_id=lesson_id, claimed_at=claimed)


def collect_submissions(
    course: CourseConfig,
    *,
    clock: Clock = SystemClock(),
    progress: Progress = Silent(),
) -> CollectReport:
    """Archive every new inbound submission as the next attempt of its student and lesson."""
    report = CollectReport()
    inbound = course.layout.exchange.inbound
    if not inbound.is_dir():
        return report
    lesson_ids = {lesson.id for lesson in course.lessons}
    with Ledger.open(course.layout.ledger_path) as ledger:
        known = ledger.known_exchange_names()
        fresh: list[InboundSubmission] = []
        received_at = clock.now()
        for path in sorted(inbound.iterdir()):
            if storable_text(path.name) in known:
                report.already_collected += 1
                continue
            try:
                submission = parse_inbound_name(path, lesson_ids=lesson_ids)
                if not stat.S_ISDIR(path.lstat().st_mode):
                    # A link would make the collector read, as the instructor, whatever it points to.
                    raise SubmissionError(submission.student_id, submission.lesson_id, None,
                                          f"refused {path.name!r}: not a folder (a symbolic link or a file)")
                check_owner(path, student_id=submission.student_id)
                if still_arriving(path, now=time.time()):
                    report.arriving += 1
                    continue
                fresh.append(submission)
            except Exception as exc:  # noqa: BLE001 - whatever one submission raises refuses it, once
                _refuse(ledger, report, path, exc, received_at=received_at)
        # Several attempts may arrive between two collections: number them in
        # arrival order. The folder's ctime is set by the kernel and, unlike
        # mtime or the name's timestamp, cannot be set back by the student.
        fresh.sort(key=_arrival)
        for submission in progress.track(fresh, description="Collecting"):
            try:
                report.collected.append(_archive(course, ledger, submission, received_at=received_at))
            except Exception as exc:  # noqa: BLE001 - whatever one submission raises refuses it, once
                _refuse(ledger, report, submission.path, exc, received_at=received_at)
                continue
            try:
                keep_for_review(course, report.collected[-1])
            except Exception as exc:  # noqa: BLE001 - collected and graded all the same; only the review copy is missing
                report.problems.append(PacelineError(
                    f"{shown(submission.exchange_name)}: collected, but no copy for the student's review: {describe(exc)}"))
            try:
                _owner_only(submission.path)
            except OSError as exc:  # the student changed the folder meanwhile: it is collected all the same
                report.problems.append(PacelineError(
                    f"{shown(submission.exchange_name)}: collected, but not made private: {exc.strerror}"))
    return report


def keep_for_review(course: CourseConfig, attempt: Attempt) -> None:
    """The attempt's notebooks, as archived, in the student's personal folder, where their own server
    copies them when they review the lesson (the archive itself is the instructor's only)."""
    archived = course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
    mine = personal_folder(course, attempt.student_id)
    for name in course.lesson(attempt.lesson_id).notebooks:
        notebook = archived / name
        if notebook.is_file():  # a notebook the student did not submit is simply not there to review
            write_personal_file(mine, [*personal_submission_parts(attempt.lesson_id, attempt.attempt), *Path(name).parts],
                                notebook.read_bytes())


def check_owner(path: Path, *, student_id: str) -> None:
    """Refuse a submission whose folder the claimed student's account did not create."""
    owner = path.lstat().st_uid
    if owner in (0, os.getuid()):
        return  # the instructor's own uploads and the simulated cohort; no student can forge these
    try:
        account = pwd.getpwnam(account_name(student_id)).pw_uid
    except KeyError:
        account = None
    if owner != account:
        try:
            who = pwd.getpwuid(owner).pw_name
        except KeyError:
            who = f"uid {owner}"
        raise PacelineError(f"{shown(path.name)}: refused: it claims to be from {student_id!r} but was submitted by {who!r}")


def still_arriving(path: Path, *, now: float) -> bool:
    """Whether nbgrader's submit may still be writing this folder: it copies the lesson, then writes
    timestamp.txt, and the secret last. A folder with no secret yet that changed less than
    :data:`ARRIVAL_SECONDS` ago is left for a later run rather than refused (``paceline watch`` looks
    as soon as a folder appears); an older one is refused for its missing secret as before."""
    try:
        secret = (path / SECRET_NAME).lstat()
        if stat.S_ISREG(secret.st_mode) and secret.st_size > 0:
            return False
        changed = max(path.lstat().st_mtime, secret.st_mtime)
    except FileNotFoundError:
        try:
            changed = path.lstat().st_mtime
        except OSError:
            return False  # gone meanwhile: archiving refuses it, on its own
    except OSError:
        return False
    # Its owner can set the mtime: a time in the future is not "moments ago", so it never defers for long.
    return abs(now - changed) < ARRIVAL_SECONDS


def _arrival(submission: InboundSubmission) -> tuple[int, str]:
    try:
        ctime = submission.path.lstat().st_ctime_ns
    except OSError:
        ctime = 0  # gone meanwhile: archiving it fails, and refuses it, on its own
    return ctime, submission.exchange_name


def _refuse(ledger: Ledger, report: CollectReport, path: Path, exc: BaseException, *, received_at: dt.datetime) -> None:
    problem = exc if isinstance(exc, PacelineError) else PacelineError(f"{shown(path.name)}: refused: {describe(exc)}")
    parts = path.name.split("+")
    ledger.add_rejection(exchange_name=path.name, student_id=parts[0] if parts else None,
                         lesson_id=parts[1] if len(parts) > 1 else None, received_at=received_at, reason=str(problem))
    report.problems.append(problem)


def _owner_only(path: Path) -> None:
    """Collected: nobody but its owner (and the instructor) needs to read it any more.

    fwalk works on folder descriptors and never follows links (not even at the
    top), so a folder swapped for a link meanwhile cannot redirect the chmod.
    """
    for _, _, filenames, folder_fd in os.fwalk(path, follow_symlinks=False):
        for name in filenames:
            os.chmod(name, 0o600, dir_fd=folder_fd, follow_symlinks=False)
        os.fchmod(folder_fd, 0o700)


def _archive(course: CourseConfig, ledger: Ledger, submission: InboundSubmission, *, received_at: dt.datetime) -> Attempt:
    files = _regular_files(submission, max_files=course.collect_limits.max_files)
    _check_size(course, submission, files)
    if Path(SECRET_NAME) not in files:
        raise SubmissionError(submission.student_id, submission.lesson_id, None,
                              f"refused {submission.exchange_name!r}: no {SECRET_NAME}, which nbgrader's submit writes "
                              "and which names the student's feedback")
    enforce_student_limits(course, ledger, student_id=submission.student_id, lesson_id=submission.lesson_id,
                           folder=submission.path, received_at=received_at)
    number = ledger.next_attempt_number(submission.student_id, submission.lesson_id)
    dest = course.layout.attempt_dir(student_id=submission.student_id, lesson_id=submission.lesson_id, attempt=number)
    content_hash, size = copy_checked_files(course, submission, files, dest=dest)
    return ledger.add_attempt(
        student_id=submission.student_id,
        lesson_id=submission.lesson_id,
        attempt=number,
        exchange_name=submission.exchange_name,
        received_at=received_at,
        claimed_at=submission.claimed_at,
        content_hash=content_hash,
        size_bytes=size,
        file_count=len(files),
    )


def import_attempt(
    course: CourseConfig, ledger: Ledger, *, folder: Path, student_id: str, lesson_id: str, submitted_at: dt.datetime,
) -> Attempt:
    """Archive an nbgrader course's ``submitted/<student>/<lesson>/`` as the student's next attempt, marked
    *imported*, received at ``submitted_at`` (the time nbgrader recorded, so lateness survives).

    The folder gets collection's checks (no links or special files, safe names, size limits, a valid
    secret if there is one); the caller has validated the student id and lesson. Raises SubmissionError.
    """
    submission = InboundSubmission(path=folder, student_id=student_id, lesson_id=lesson_id, claimed_at=submitted_at)
    if not stat.S_ISDIR(folder.lstat().st_mode):
        raise SubmissionError(student_id, lesson_id, None, f"refused {folder}: not a folder (a symbolic link or a file)")
    files = _regular_files(submission, max_files=course.collect_limits.max_files)
    _check_size(course, submission, files)
    number = ledger.next_attempt_number(student_id, lesson_id)
    dest = course.layout.attempt_dir(student_id=student_id, lesson_id=lesson_id, attempt=number)
    content_hash, size = copy_checked_files(course, submission, files, dest=dest)
    return ledger.add_attempt(
        student_id=student_id, lesson_id=lesson_id, attempt=number, exchange_name=f"imported:{student_id}/{lesson_id}",
        received_at=submitted_at, claimed_at=submitted_at, content_hash=content_hash, size_bytes=size,
        file_count=len(files), origin="imported",
    )


def copy_graded_folder(course: CourseConfig, folder: Path, *, student_id: str, lesson_id: str, dest: Path) -> None:
    """Copy nbgrader's graded folder of an imported submission (made from the student's files) with
    collection's checks: nothing but plain files with safe names, within the size limits."""
    submission = InboundSubmission(path=folder, student_id=student_id, lesson_id=lesson_id, claimed_at=None)
    files = _regular_files(submission, max_files=course.collect_limits.max_files)
    _check_size(course, submission, files)
    copy_checked_files(course, submission, files, dest=dest)


def copy_checked_files(course: CourseConfig, submission: InboundSubmission, files: list[Path], *, dest: Path) -> tuple[str, int]:
    """Copy a submission's checked files to ``dest`` without following links; returns (content hash, bytes)."""
    if dest.exists():
        # Left by a collection that stopped before recording it: nothing refers to it yet.
        shutil.rmtree(dest)
    digest = hashlib.sha256()
    size = 0
    budget = course.collect_limits.max_submission_mb * 1024 * 1024
    try:
        for relative in files:
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            data = _read_beneath(submission, relative, limit=budget - size)
            problem = secret_problem(data) if relative == Path(SECRET_NAME) else None
            if problem:
                raise SubmissionError(submission.student_id, submission.lesson_id, None,
                                      f"refused {submission.exchange_name!r}: {problem}")
            target.write_bytes(data)
            digest.update(relative.as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
            size += len(data)
    except Exception:
        shutil.rmtree(dest, ignore_errors=True)  # refused: no half-copied attempt is left behind
        raise
    return digest.hexdigest(), size


def _read_beneath(submission: InboundSubmission, relative: Path, *, limit: int) -> bytes:
    """A checked file's bytes, opened from the submission folder one component at a time with
    O_NOFOLLOW: if the student swapped a folder or file for a link after the check, the read fails."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fds: list[int] = []
    try:
        fds.append(os.open(submission.path, flags | os.O_DIRECTORY))
        for part in relative.parts[:-1]:
            fds.append(os.open(part, flags | os.O_DIRECTORY, dir_fd=fds[-1]))
        fds.append(os.open(relative.parts[-1], flags | os.O_NONBLOCK, dir_fd=fds[-1]))
        st = os.fstat(fds[-1])
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            raise OSError(f"{relative} is no longer a plain file")
        with os.fdopen(os.dup(fds[-1]), "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise SubmissionError(submission.student_id, submission.lesson_id, None,
                              f"refused {submission.exchange_name!r}: {relative} changed while it was collected ({exc})") from None
    finally:
        for fd in fds:
            os.close(fd)
    if len(data) > limit:
        raise SubmissionError(submission.student_id, submission.lesson_id, None,
                              f"refused {submission.exchange_name!r}: it grew while it was collected")
    return data


def _check_size(course: CourseConfig, submission: InboundSubmission, files: list[Path]) -> None:
    limits = course.collect_limits
    size = sum((submission.path / f).lstat().st_size for f in files)
    if len(files) > limits.max_files:
        why = f"{len(files)} files, more than the {limits.max_files} allowed ([collect] max_files)"
    elif size > limits.max_submission_mb * 1024 * 1024:
        why = f"{size / 1024 / 1024:.1f} MB, more than the {limits.max_submission_mb} MB allowed ([collect] max_submission_mb)"
    else:
        return
    raise SubmissionError(submission.student_id, submission.lesson_id, None, f"refused {submission.exchange_name!r}: {why}")


def _regular_files(submission: InboundSubmission, *, max_files: int) -> list[Path]:
    """Relative paths of the submission's files; refuses anything that is not a plain file or folder,
    names that are not safe (:func:`entry_name_problem`), and trees too deep or too large to walk."""

    def refuse(why: str) -> SubmissionError:
        return SubmissionError(submission.student_id, submission.lesson_id, None, f"refused {submission.exchange_name!r}: {why}")

    def unreadable(exc: OSError) -> None:
        # os.walk would skip a folder it cannot list, and the attempt would silently lose files.
        raise refuse(f"{shown(os.path.relpath(exc.filename or submission.path, submission.path))} cannot be read ({exc.strerror})")

    files: list[Path] = []
    folders = 0
    ceiling = 10 * max_files  # stop walking a tree this large: it is refused whatever else it holds
    for folder, dirnames, filenames in os.walk(submission.path, onerror=unreadable, followlinks=False):
        for name in dirnames + filenames:
            path = Path(folder) / name
            relative = path.relative_to(submission.path)
            problem = entry_name_problem(name)
            if problem:
                raise refuse(f"{shown(relative.as_posix())}: {problem}")
            if len(relative.parts) > MAX_FOLDER_DEPTH:
                raise refuse(f"{shown(relative.as_posix())} is more than {MAX_FOLDER_DEPTH} folders deep")
            folders += name in dirnames
            if folders + len(files) > ceiling:
                raise refuse(f"more than {ceiling} files and folders ([collect] max_files is {max_files})")
            if path.is_symlink():
                raise SubmissionError(
                    submission.student_id, submission.lesson_id, None,
                    f"refused {submission.exchange_name!r}: {path.relative_to(submission.path)} is a symbolic link",
                )
            if name in filenames:
                if path.lstat().st_nlink > 1:
                    raise SubmissionError(
                        submission.student_id, submission.lesson_id, None,
                        f"refused {submission.exchange_name!r}: {path.relative_to(submission.path)} is a hard link",
                    )
                if not path.is_file():
                    raise SubmissionError(
                        submission.student_id, submission.lesson_id, None,
                        f"refused {submission.exchange_name!r}: {path.relative_to(submission.path)} is not a regular file",
                    )
                files.append(path.relative_to(submission.path))
    if folders > max_files:
        raise refuse(f"{folders} folders, more than the {max_files} allowed ([collect] max_files)")
    return sorted(files)
