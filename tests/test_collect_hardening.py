"""The collector cannot be fooled: each attack on nbgrader's exchange is refused and recorded."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import time
from pathlib import Path

import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_lesson, submit_lesson

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 9, 10, 12, tzinfo=UTC)
POOL_USER = "paceline-sb0"  # an unprivileged account that `make sandbox` creates


@pytest.fixture
def course(fixture_course: Path):
    course = load_course(fixture_course)
    release_lessons(course)
    return course


def submit(course, student_id: str, *, lesson_id: str = "01-add", at: dt.datetime = NOW) -> Path:
    home = course.root.parent / "homes" / student_id
    home.mkdir(parents=True, exist_ok=True)
    ws = StudentWorkspace(student_id, home, course.id, course.exchange_root)
    if not ws.lesson_dir(lesson_id).exists():
        fetch_lesson(ws, lesson_id)
    before = set(course.layout.exchange.inbound.iterdir())
    submit_lesson(ws, lesson_id, clock=SimulatedClock(at))
    [new] = set(course.layout.exchange.inbound.iterdir()) - before
    return new


def rejections(course) -> dict[str, str]:
    with Ledger.open(course.layout.ledger_path) as ledger:
        return {name: reason for name, _, _, _, reason in ledger.rejections()}


def test_symlinks_and_hard_links_are_refused_never_followed(course) -> None:
    to_etc = submit(course, "ada")
    (to_etc / "passwd").symlink_to("/etc/passwd")
    to_source = submit(course, "brook")
    (to_source / "solutions.ipynb").symlink_to(course.source_dir / "01-add" / "add.ipynb")
    other = submit(course, "cyd", at=NOW + dt.timedelta(minutes=1))
    (other / "theirs.ipynb").symlink_to(to_etc / "add.ipynb")
    hard = submit(course, "ada", at=NOW + dt.timedelta(minutes=2))
    secret = course.root / "secret.txt"
    secret.write_text("instructor only")
    os.link(secret, hard / "copy.txt")

    report = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(hours=1)))
    assert report.collected == []
    reasons = rejections(course)
    assert "passwd is a symbolic link" in reasons[to_etc.name]
    assert "solutions.ipynb is a symbolic link" in reasons[to_source.name]
    assert "theirs.ipynb is a symbolic link" in reasons[other.name]
    assert "copy.txt is a hard link" in reasons[hard.name]
    assert not any(course.layout.attempt_dir(student_id=s, lesson_id="01-add", attempt=1).exists() for s in ("ada", "brook", "cyd"))
    # Refused once, recorded, not reported again.
    again = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(hours=2)))
    assert again.problems == [] and again.already_collected == 4


def test_a_submission_claiming_another_students_name_is_rejected(course) -> None:
    spoofed = submit(course, "ada")  # names itself ada...
    uid = pwd.getpwnam(POOL_USER).pw_uid
    for path in [spoofed, *spoofed.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)  # ...but another account made it
    report = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(hours=1)))
    assert report.collected == []
    assert f"claims to be from 'ada' but was submitted by '{POOL_USER}'" in rejections(course)[spoofed.name]


def test_a_students_own_account_is_accepted(course) -> None:
    path = course.roster_path
    path.write_text(path.read_text() + f"{POOL_USER},Pool,pool@example.org,2026-09-01\n")
    own = submit(course, POOL_USER)
    uid = pwd.getpwnam(POOL_USER).pw_uid
    for item in [own, *own.rglob("*")]:
        os.chown(item, uid, uid, follow_symlinks=False)
    report = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(minutes=3)))
    assert [a.student_id for a in report.collected] == [POOL_USER]
    assert own.stat().st_mode & 0o777 == 0o700  # collected: no longer readable by anyone else


def test_oversized_and_overlong_submissions_are_refused(course) -> None:
    toml = course.root / "course.toml"
    toml.write_text(toml.read_text() + "\n[collect]\nmax_submission_mb = 1\nmax_files = 5\n")
    course = load_course(course.root)
    big = submit(course, "ada")
    (big / "data.bin").write_bytes(b"x" * (2 * 1024 * 1024))
    many = submit(course, "brook")
    for i in range(6):
        (many / f"extra{i}.txt").write_text("x")
    fine = submit(course, "cyd")
    report = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(hours=1)))
    assert [a.student_id for a in report.collected] == ["cyd"] and fine.exists()
    reasons = rejections(course)
    assert "MB, more than the 1 MB allowed" in reasons[big.name]
    assert "files, more than the 5 allowed" in reasons[many.name]


def test_forged_timestamps_change_nothing(course) -> None:
    future = submit(course, "ada", at=dt.datetime(2030, 1, 1, tzinfo=UTC))
    past = submit(course, "brook", at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    seen = NOW + dt.timedelta(minutes=5)
    report = collect_submissions(course, clock=SimulatedClock(seen))
    assert {(a.student_id, a.submitted_at, a.claimed_at.year) for a in report.collected} == {("ada", seen, 2030), ("brook", seen, 2020)}
    assert future.exists() and past.exists()


def test_links_swapped_in_after_the_check_are_not_followed(course, monkeypatch) -> None:
    """A student who swaps a checked file or folder for a link before the copy gets nothing."""
    import graders.exchange.collect as collect

    swapped_file = submit(course, "ada")
    swapped_folder = submit(course, "brook")
    (swapped_folder / "data").mkdir()
    (swapped_folder / "data" / "table.csv").write_text("a\n1\n")
    check_size = collect._check_size

    def check_then_swap(course_, submission, files):
        # The attack happens between the collector's checks and its copy: simulate that moment.
        check_size(course_, submission, files)
        if submission.student_id == "ada":
            (submission.path / "add.ipynb").unlink()
            (submission.path / "add.ipynb").symlink_to(course.source_dir / "01-add" / "add.ipynb")
        else:
            os.rename(submission.path / "data", submission.path / "moved")
            (submission.path / "data").symlink_to(course.source_dir / "01-add")

    monkeypatch.setattr(collect, "_check_size", check_then_swap)
    report = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(hours=1)))
    assert report.collected == []
    reasons = rejections(course)
    assert "add.ipynb changed while it was collected" in reasons[swapped_file.name]
    assert "changed while it was collected" in reasons[swapped_folder.name]
    for student in ("ada", "brook"):
        assert not course.layout.attempt_dir(student_id=student, lesson_id="01-add", attempt=1).exists()


def test_a_submission_still_being_written_waits_and_a_stale_one_is_refused(course) -> None:
    """paceline watch looks as soon as a folder appears: nbgrader's submit may not have written the
    secret yet (it writes it last). Such a folder waits for the next run; one left so for longer, or
    dated in the future by its owner, is refused for its missing secret as before."""
    writing = submit(course, "ada")
    secret = (writing / "submission_secret.txt").read_bytes()
    (writing / "submission_secret.txt").unlink()
    stale = submit(course, "brook")
    (stale / "submission_secret.txt").unlink()
    minute_ago = time.time() - 60
    os.utime(stale, (minute_ago, minute_ago))
    future = submit(course, "cyd")
    (future / "submission_secret.txt").write_bytes(b"")
    in_a_year = time.time() + 365 * 86400
    os.utime(future, (in_a_year, in_a_year))
    os.utime(future / "submission_secret.txt", (in_a_year, in_a_year))

    first = collect_submissions(course, clock=SimulatedClock(NOW))
    assert first.collected == [] and first.arriving == 1
    reasons = rejections(course)
    assert writing.name not in reasons
    assert "no submission_secret.txt" in reasons[stale.name]
    assert "submission_secret.txt is empty" in reasons[future.name]

    (writing / "submission_secret.txt").write_bytes(secret)
    second = collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(seconds=1)))
    assert [(a.student_id, a.attempt) for a in second.collected] == [("ada", 1)] and second.arriving == 0
