"""Fair shares (issue 8 §5): one student's load, output or flood of attempts costs nobody else.

Pure parts first (the grading queue's order, the per-student limits, the
course keys), then real ones: students submitting through nbgrader's exchange
past ``[collect]`` limits and fetching the refusal notice as feedback, and a
batch where busy-process and output-flooding attempts are graded on a
two-process Dask cluster with honest ones.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest

from graders.course.clock import SimulatedClock
from graders.course.plan import CollectLimits, load_course
from graders.errors import ConfigError
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Attempt, Ledger
from graders.exchange.quotas import folder_size, limit_breach, refusal_page
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, submit_lesson
from graders.feedback.release import release_feedback
from graders.grading.grade import grade_attempts
from graders.grading.plan import fair_order
from graders.sandbox import check_sandbox
from graders.sandbox.cgroups import cgroup_parent

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 9, 10, 12, tzinfo=UTC)  # lesson 01-add is open, not yet due
MB = 1024 * 1024


# --------------------------------------------------------------------------
# the grading queue: round-robin by student
# --------------------------------------------------------------------------

def _attempt(number: int, student: str, lesson: str = "01-add", *, minute: int = 0, n: int = 1) -> Attempt:
    return Attempt(
        id=number, student_id=student, lesson_id=lesson, attempt=n, exchange_name=f"{student}+{lesson}+{number}",
        received_at=NOW + dt.timedelta(minutes=minute), claimed_at=None, content_hash="h", size_bytes=1,
        file_count=1, status="collected", score=None, max_score=None, late_penalty=None, graded_at=None, error=None,
    )


LESSONS = {"01-add": 1, "02-words": 2}


def test_a_flood_of_attempts_delays_no_other_students_first_attempt():
    # "aaron" (first by name, as the old order graded) submitted 200 times before anyone else.
    flood = [_attempt(i, "aaron", minute=0, n=i + 1) for i in range(200)]
    others = [_attempt(1000 + i, s, minute=5) for i, s in enumerate(["ben", "cleo", "dev"])]
    order = fair_order(flood + others, lesson_order=LESSONS)
    assert sorted(a.id for a in order) == sorted(a.id for a in flood + others)  # every attempt, once
    assert {a.student_id for a in order[:4]} == {"aaron", "ben", "cleo", "dev"}
    assert [a.attempt for a in order if a.student_id == "aaron"] == list(range(1, 201))  # own order kept


def test_fair_order_is_round_robin_oldest_first():
    attempts = [
        _attempt(1, "ada", minute=1, n=1), _attempt(2, "ada", minute=2, n=2), _attempt(3, "ada", minute=3, n=3),
        _attempt(4, "brook", minute=4, n=1), _attempt(5, "brook", "02-words", minute=0, n=1),
        _attempt(6, "cyd", minute=9, n=1),
    ]
    order = [(a.student_id, a.lesson_id, a.attempt) for a in fair_order(list(reversed(attempts)), lesson_order=LESSONS)]
    assert order == [
        # round 1: each student's oldest pending attempt, oldest received first
        ("brook", "02-words", 1), ("ada", "01-add", 1), ("cyd", "01-add", 1),
        # round 2, round 3
        ("ada", "01-add", 2), ("brook", "01-add", 1),
        ("ada", "01-add", 3),
    ]
    assert fair_order([], lesson_order=LESSONS) == []


def test_fair_order_can_stop_after_some_rounds():
    flood = [_attempt(i, "aaron", minute=i, n=i + 1) for i in range(5)]
    late = [_attempt(10, "ben", minute=9), _attempt(11, "ben", minute=10, n=2)]
    first = fair_order(flood + late, lesson_order=LESSONS, rounds=1)
    assert [(a.student_id, a.attempt) for a in first] == [("aaron", 1), ("ben", 1)]
    two = fair_order(flood + late, lesson_order=LESSONS, rounds=2)
    assert [(a.student_id, a.attempt) for a in two] == [("aaron", 1), ("ben", 1), ("aaron", 2), ("ben", 2)]


# --------------------------------------------------------------------------
# per-student limits: the pure decision
# --------------------------------------------------------------------------

def test_attempts_per_hour_counts_receipts_in_the_last_hour():
    limits = CollectLimits(max_attempts_per_hour=3)
    receipts = [NOW - dt.timedelta(minutes=m) for m in (70, 50, 20, 5)]  # the 70-minute one is out of the window

    def breach(now, stored=0, size=1):
        return limit_breach(limits=limits, lesson_receipts=receipts, stored_bytes=stored, size_bytes=size, now=now,
                            timezone=BERLIN)

    over = breach(NOW)
    assert over is not None and over.retry_at == NOW + dt.timedelta(minutes=10)  # the 50-minute one leaves the window
    assert "3 attempts at this lesson in the last hour" in over.why and "max_attempts_per_hour" in over.why
    assert over.advice(timezone=BERLIN) == "You may submit again after 2026-09-10 14:10 CEST."
    assert breach(NOW + dt.timedelta(minutes=10, seconds=1)) is None
    assert limit_breach(limits=CollectLimits(max_attempts_per_hour=5), lesson_receipts=receipts, stored_bytes=0,
                        size_bytes=1, now=NOW, timezone=BERLIN) is None


def test_disk_quota_counts_every_collected_attempt_of_the_student():
    limits = CollectLimits(student_quota_mb=10)
    fits = limit_breach(limits=limits, lesson_receipts=[], stored_bytes=9 * MB, size_bytes=MB, now=NOW, timezone=BERLIN)
    assert fits is None
    over = limit_breach(limits=limits, lesson_receipts=[], stored_bytes=9 * MB, size_bytes=MB + 1, now=NOW, timezone=BERLIN)
    assert over is not None and over.retry_at is None
    assert "9.0 MB of the 10 MB" in over.why and "student_quota_mb" in over.why and "1.0 MB left" in over.why
    assert "instructor" in over.advice(timezone=BERLIN)


def test_a_submission_is_measured_without_following_links(tmp_path: Path):
    folder = tmp_path / "submission"
    (folder / "data").mkdir(parents=True)
    (folder / "add.ipynb").write_bytes(b"x" * 1000)
    (folder / "data" / "table.csv").write_bytes(b"y" * 500)
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    (instructor / "solutions.ipynb").write_bytes(b"z" * 10_000)
    (folder / "linked").symlink_to(instructor)  # the sizes of the instructor's files must not count
    (folder / "solutions.ipynb").symlink_to(instructor / "solutions.ipynb")
    assert folder_size(folder) == 1500


def test_the_refusal_notice_is_static_and_escaped():
    page = refusal_page(lesson_title="<script>alert(1)</script>", why="a & b", advice="Wait.", received="2026-09-10 14:00 CEST")
    assert "<script>" not in page and "&lt;script&gt;" in page and "a &amp; b" in page
    assert "default-src 'none'" in page and "src=" not in page and "href=" not in page


# --------------------------------------------------------------------------
# course.toml keys
# --------------------------------------------------------------------------

def _course_with(root: Path, text: str):
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace("[grading]\ntimeout = 10\n", text))
    return load_course(root)


def test_fair_share_keys_in_course_toml(fixture_course: Path):
    course = load_course(fixture_course)
    assert (course.grading.cpus, course.grading.output_mb) == (1.0, 20)
    assert (course.collect_limits.max_attempts_per_hour, course.collect_limits.student_quota_mb) == (30, 500)
    course = _course_with(fixture_course, "[grading]\ntimeout = 10\ncpus = 0.5\noutput_mb = 4\n"
                                          "[collect]\nmax_attempts_per_hour = 5\nstudent_quota_mb = 50\n")
    assert (course.grading.cpus, course.grading.output_mb) == (0.5, 4)
    assert course.lesson("01-add").grading.cpus == 0.5  # lessons inherit the course's grading limits
    assert (course.collect_limits.max_attempts_per_hour, course.collect_limits.student_quota_mb) == (5, 50)


@pytest.mark.parametrize(("text", "key"), [
    ("cpus = 0", "grading.cpus"), ("cpus = \"2\"", "grading.cpus"), ("cpus = true", "grading.cpus"),
    ("cpus = 1000", "grading.cpus"), ("output_mb = 0", "grading.output_mb"), ("output_mb = 2.5", "grading.output_mb"),
])
def test_bad_grading_keys_name_the_key(fixture_course: Path, text: str, key: str):
    with pytest.raises(ConfigError) as caught:
        _course_with(fixture_course, f"[grading]\ntimeout = 10\n{text}\n")
    assert caught.value.key == key


@pytest.mark.parametrize("key", ["max_attempts_per_hour", "student_quota_mb"])
def test_bad_collect_limits_name_the_key(fixture_course: Path, key: str):
    with pytest.raises(ConfigError) as caught:
        _course_with(fixture_course, f"[grading]\ntimeout = 10\n[collect]\n{key} = 0\n")
    assert caught.value.key == f"collect.{key}"


# --------------------------------------------------------------------------
# per-student limits, for real: through nbgrader's exchange
# --------------------------------------------------------------------------

def _workspace(course, student: str) -> StudentWorkspace:
    home = course.root.parent / "homes" / student
    home.mkdir(parents=True, exist_ok=True)
    ws = StudentWorkspace(student, home, course.id, course.exchange_root)
    if not ws.lesson_dir("01-add").exists():
        fetch_lesson(ws, "01-add")
    return ws


def _submit(course, student: str, at: dt.datetime) -> str:
    """Submit 01-add as ``student`` at ``at`` and collect it then; the timestamp nbgrader wrote."""
    stamp = submit_lesson(_workspace(course, student), "01-add", clock=SimulatedClock(at))
    collect_submissions(course, clock=SimulatedClock(at))
    return stamp


def _rejections(course) -> dict[str, str]:
    with Ledger.open(course.layout.ledger_path) as ledger:
        return {name: reason for name, _, _, _, reason in ledger.rejections()}


def _fetched_page(course, student: str, stamp: str) -> str | None:
    ws = _workspace(course, student)
    fetch_feedback(ws, "01-add")
    # nbgrader names the folder by the submission's timestamp: the folder itself, or the link to
    # paceline's "attempt-N (local time)" folder once the student's progress document knows the attempt.
    [page] = sorted((ws.feedback_dir("01-add") / stamp).glob("*.html")) or [None]
    return page.read_text() if page else None


def test_attempts_over_the_hourly_limit_are_refused_with_a_notice_the_student_fetches(fixture_course: Path):
    course = _course_with(fixture_course, "[grading]\ntimeout = 10\n[collect]\nmax_attempts_per_hour = 2\n")
    release_lessons(course, lesson_ids=["01-add"])
    stamps = [_submit(course, "ada", NOW + dt.timedelta(minutes=m)) for m in (0, 10, 20, 30)]
    other = _submit(course, "brook", NOW + dt.timedelta(minutes=30))  # another student is not held back

    with Ledger.open(course.layout.ledger_path) as ledger:
        collected = [(a.student_id, a.attempt) for a in ledger.attempts()]
    assert collected == [("ada", 1), ("ada", 2), ("brook", 1)]
    reasons = _rejections(course)
    assert len(reasons) == 2 and all(name.startswith("ada+01-add+") for name in reasons)
    for reason in reasons.values():
        assert "at most 2 an hour" in reason and "max_attempts_per_hour" in reason
        assert "You may submit again after 2026-09-10 15:00 CEST" in reason  # an hour after the first attempt
    assert not course.layout.attempt_dir(student_id="ada", lesson_id="01-add", attempt=3).exists()

    # The student reads why through Fetch Feedback, for each refused submission and no other.
    for stamp in stamps[2:]:
        notice = _fetched_page(course, "ada", stamp)
        assert notice is not None and "Not graded: Adding numbers" in notice
        assert "at most 2 an hour" in notice and "You may submit again after 2026-09-10 15:00 CEST" in notice
    assert _fetched_page(course, "ada", stamps[0]) is None and _fetched_page(course, "brook", other) is None

    # An hour after the first attempt, one more fits again.
    _submit(course, "ada", NOW + dt.timedelta(minutes=61))
    with Ledger.open(course.layout.ledger_path) as ledger:
        assert [a.attempt for a in ledger.attempts(student_ids=["ada"])] == [1, 2, 3]


def test_attempts_over_the_disk_quota_are_refused_with_a_notice(fixture_course: Path):
    course = _course_with(fixture_course, "[grading]\ntimeout = 10\n[collect]\nstudent_quota_mb = 1\n")
    release_lessons(course, lesson_ids=["01-add"])
    ws = _workspace(course, "ada")
    (ws.lesson_dir("01-add") / "data.bin").write_bytes(b"\0" * (600 * 1024))  # the student's own big file
    first = _submit(course, "ada", NOW)
    second = _submit(course, "ada", NOW + dt.timedelta(minutes=1))
    (ws.lesson_dir("01-add") / "data.bin").unlink()
    third = _submit(course, "ada", NOW + dt.timedelta(minutes=2))  # small again: fits in what is left

    with Ledger.open(course.layout.ledger_path) as ledger:
        assert [a.exchange_name.split("+")[2] for a in ledger.attempts(student_ids=["ada"])] == [first, third]
    [reason] = _rejections(course).values()
    assert "of the 1 MB each student may store ([collect] student_quota_mb)" in reason
    notice = _fetched_page(course, "ada", second)
    assert notice is not None and "student_quota_mb" in notice and "Ask your instructor" in notice


# --------------------------------------------------------------------------
# busy processes and output floods, graded in one batch with honest attempts
# --------------------------------------------------------------------------

MISSING = check_sandbox()
CPU_CGROUP = cgroup_parent("cpu") is not None
CPUS = 0.5
OUTPUT_MB = 4
HONEST = {  # solution source, score out of 3
    "honest_correct": ("def add(a, b):\n    return a + b\n", 3.0),
    "honest_integers_only": ("def add(a, b):\n    return int(a) + int(b)\n", 1.0),
}
HOSTILE_HERE = ("starves_with_setsid_forks", "starves_with_threads", "floods_many_cells")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("fair") / "course"
    shutil.copytree(FIXTURES / "course", root)
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace(
        "[grading]\ntimeout = 10\n", f"[grading]\ntimeout = 10\ncpu_seconds = 20\ncpus = {CPUS}\noutput_mb = {OUTPUT_MB}\n"))
    with (root / "students.csv").open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in [*HONEST, *HOSTILE_HERE])
    course = load_course(root)
    release_lessons(course, lesson_ids=["01-add"])
    for student in [*HONEST, *HOSTILE_HERE]:
        ws = _workspace(course, student)
        notebook = ws.lesson_dir("01-add") / "add.ipynb"
        if student in HONEST:
            nb = json.loads(notebook.read_text())
            for cell in nb["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
                    cell["source"] = HONEST[student][0]
            notebook.write_text(json.dumps(nb))
        else:
            shutil.copyfile(HOSTILE / f"{student}.ipynb", notebook)
        submit_lesson(ws, "01-add", clock=SimulatedClock(NOW))
    collect_submissions(course, clock=SimulatedClock(NOW + dt.timedelta(minutes=1)))
    report = grade_attempts(course, workers=2, clock=SimulatedClock(NOW + dt.timedelta(minutes=2)))
    assert release_feedback(course).problems == []
    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = {a.student_id: a for a in ledger.attempts()}
    return course, report, attempts


def _graded_notebook(course, student: str) -> nbformat.NotebookNode:
    return nbformat.read(course.root / "autograded" / student / "01-add" / "add.ipynb", as_version=4)


def _evidence(nb) -> list[str]:
    return [line.removeprefix("evidence: ") for cell in nb.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.output_type == "stream"
            for line in output.text.splitlines() if line.startswith("evidence: ")]


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
def test_honest_attempts_grade_exactly_beside_busy_and_flooding_ones(batch):
    _, _, attempts = batch
    for student, (_, score) in HONEST.items():
        assert (attempts[student].status, attempts[student].error, attempts[student].score) == ("graded", None, score)
    for student in HOSTILE_HERE:
        assert (attempts[student].status, attempts[student].score) == ("graded", 0.0), attempts[student].error


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
@pytest.mark.skipif(not CPU_CGROUP, reason="no writable cgroup v1 cpu controller")
def test_busy_processes_get_no_more_than_the_cpu_quota(batch):
    course, _, _ = batch
    for student in ("starves_with_setsid_forks", "starves_with_threads"):
        [line] = [line for line in _evidence(_graded_notebook(course, student)) if line.startswith("cpu share")]
        # Sampled from /proc by the kernel itself over 2 s: the quota plus a scheduling period's slack.
        assert float(line.split()[2]) <= CPUS + 0.1, (student, line)


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
def test_many_cells_just_under_the_cell_limit_stop_at_the_total(batch):
    course, _, _ = batch
    path = course.root / "autograded" / "floods_many_cells" / "01-add" / "add.ipynb"
    # Eight cells printed 4 MB each (32 MB): the kept notebook holds the 4 MB total and notices.
    assert path.stat().st_size < (OUTPUT_MB + 0.5) * MB
    nb = _graded_notebook(course, "floods_many_cells")
    printed = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert sum(f"{OUTPUT_MB} MB per notebook" in text for text in printed) >= 7  # each cell past the total says so
    assert sum(len(text) for text in printed) < (OUTPUT_MB + 0.1) * MB
    feedback = course.layout.attempt_feedback(student_id="floods_many_cells", lesson_id="01-add", attempt=1) / "add.html"
    assert feedback.stat().st_size < 3 * OUTPUT_MB * MB


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
def test_watch_releases_other_students_feedback_between_slices_of_a_flood(fixture_course: Path):
    from graders.operations.watch import run_cycle

    course = load_course(fixture_course)
    release_lessons(course, lesson_ids=["01-add"])
    flood = [submit_lesson(_workspace(course, "ada"), "01-add", clock=SimulatedClock(NOW + dt.timedelta(minutes=m)))
             for m in range(3)]
    brook = submit_lesson(_workspace(course, "brook"), "01-add", clock=SimulatedClock(NOW + dt.timedelta(minutes=5)))
    cycles = []
    for minute in (10, 11, 12):
        clock = SimulatedClock(NOW + dt.timedelta(minutes=minute))
        cycles.append(run_cycle(course, scheduler=None, sandboxed=True, clock=clock))
        if minute == 10:
            # Brook submitted after all of ada's attempts, yet has feedback after the first cycle.
            assert _fetched_page(course, "brook", brook) is not None
            assert [_fetched_page(course, "ada", stamp) is not None for stamp in flood] == [True, False, False]
    assert [(c.collected, c.graded) for c in cycles] == [(4, 2), (0, 1), (0, 1)]
    assert all(_fetched_page(course, "ada", stamp) is not None for stamp in flood)
