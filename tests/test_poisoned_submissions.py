"""One student never stops the course (issue 8, §3): poisoned submissions next to honest ones.

A poisoned submission is one built to break the machinery around grading
rather than to score: names that are not UTF-8 or hold terminal escapes,
folders nested deep, a folder that is a file, a missing, empty, binary, huge
or newline-ended ``submission_secret.txt``, notebooks nested deeper than the
JSON parser recurses, of 60,000 cells, too big, or with nbgrader metadata,
outputs or execution counts of the wrong types. Each is submitted through
nbgrader's real exchange (then poisoned in the inbound folder, as a student
with a shell on the hub could), and must end refused at collection or as a
failed attempt, recorded once with a reason that names what is wrong, while
every honest submission in the same batch is collected, graded and gets its
feedback, and a rerun finds nothing new to trip on.

The notebooks are ``tests/fixtures/hostile/poisoned_*.ipynb`` (the released
01-add rewritten); the two large ones are built here, so the repository does
not carry megabytes of empty cells.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from graders.cli import main
from graders.course.clock import SimulatedClock
from graders.course.plan import GradingSettings, load_course
from graders.errors import LessonError, SubmissionError, at_submission, describe
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import CellScore, Ledger, storable_text
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, submit_lesson
from graders.exchange.submission_checks import (
    entry_name_problem,
    inbound_name_problem,
    json_depth,
    notebook_structure_problem,
    notebook_text_problem,
    secret_problem,
    shown,
)
from graders.feedback.release import release_attempt_feedback, release_feedback
from graders.grading.grade import grade_attempts
from graders.grading.submitted_notebook import read_submitted_notebook
from graders.operations.export import course_tables
from graders.operations.watch import Cycle, run_cycle, watch
import graders.operations.watch as watch_module
from graders.sandbox import check_sandbox

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
UTC = dt.timezone.utc
SUBMITTED = dt.datetime(2026, 9, 10, 12, tzinfo=UTC)  # 01-add is open and not yet due
SECRET = "ab" * 64  # the shape of nbgrader's secrets.token_hex(64)
CORRECT = "def add(a, b):\n    return a + b\n"


# --------------------------------------------------------------------------
# the checks, one by one (no kernel, no course)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["add.ipynb", "data (copy).csv", "résumé.txt", "notes_v2-final.md", ".hidden", "[1].txt"])
def test_ordinary_file_names_pass(name: str) -> None:
    assert entry_name_problem(name) is None


@pytest.mark.parametrize(("name", "problem"), [
    (os.fsdecode(b"data\xff.csv"), "not valid UTF-8"),
    ("notes\n.txt", "holds '\\n'"),
    ("\x1b[2Jclear.txt", "holds '\\x1b'"),
    ("txt.\u202eexe", "holds '\\u202e'"),  # a right-to-left override: the name would display reversed
    ("a" * 200, "longer than 128"),
    ("...", "only dots"),
    (" add.ipynb", "starts or ends with a space"),
    ("a:b", "holds ':'"),
    ("back\\slash", "holds '\\'"),
])
def test_unsafe_file_names_are_named_with_what_is_wrong(name: str, problem: str) -> None:
    assert problem in entry_name_problem(name)


def test_inbound_names_must_be_printable_utf8() -> None:
    assert inbound_name_problem("ada+01-add+2026-09-10 12:00:00.000000 UTC+AbC-d_9") is None
    assert "not valid UTF-8" in inbound_name_problem(os.fsdecode(b"ada+01-add+t+\xff"))
    assert "invisible" in inbound_name_problem("ada+01-add+t+\x1b[2J\n")


def test_names_are_shown_escaped_and_stored_as_sqlite_can() -> None:
    name = os.fsdecode(b"ada+01-add+t+\xff\n\x1b")
    assert shown(name) == "'ada+01-add+t+\\xff\\n\\x1b'"
    assert storable_text(name) == "ada+01-add+t+\\xff\n\x1b"
    assert storable_text("ada+01-add+t+ok") == "ada+01-add+t+ok"  # valid names as older ledgers hold them


@pytest.mark.parametrize(("secret", "problem"), [
    (b"", "is empty"),
    (b"\x00\xff" * 40, "not 32 to 256 lowercase hexadecimal digits"),
    (SECRET.encode() + b"\n", "not 32 to 256 lowercase hexadecimal digits"),
    (b"not hex at all", "not 32 to 256 lowercase hexadecimal digits"),
    (b"abc", "not 32 to 256 lowercase hexadecimal digits"),  # guessable: others could fetch it
    (b"a" * 100_000, "100000 bytes"),
])
def test_bad_secrets_are_refused(secret: bytes, problem: str) -> None:
    assert problem in secret_problem(secret)
    assert secret_problem(SECRET.encode()) is None


def test_json_depth_is_measured_without_parsing() -> None:
    assert json_depth('{"a": [1, {"b": 2}]}') == 3
    assert json_depth('{"brackets in strings": "[[[[{{", "escaped": "\\"]]]"}') == 1
    assert json_depth("[" * 1_000_000 + "]" * 1_000_000) == 1_000_000  # json.loads would raise RecursionError
    assert "nests 1000000 levels deep" in notebook_text_problem("[" * 1_000_000 + "]" * 1_000_000)


def test_structure_problems_name_the_cell_and_field() -> None:
    released = json.loads(poisoned("execution_count_string").read_text())
    released["cells"][1]["execution_count"] = None
    assert notebook_structure_problem(released, max_cells=10) is None
    assert "has 4 cells, more than the 3 allowed ([grading] max_cells)" in notebook_structure_problem(released, max_cells=3)
    assert "nbformat 4" in notebook_structure_problem({**released, "nbformat": 3}, max_cells=10)
    assert notebook_structure_problem([], max_cells=10) == "is not a notebook (its JSON is not an object)"


def poisoned(kind: str) -> Path:
    return HOSTILE / f"poisoned_{kind}.ipynb"


# What each poisoned notebook fixture fails with, before anything parses it further.
NOTEBOOK_REASONS = {
    "deeply_nested": "its JSON nests 20006 levels deep, more than the 100 a notebook may",
    "nbgrader_metadata_string": 'cell 1: has nbgrader metadata "solution", not an object',
    "points_not_a_number": 'cell 2: has nbgrader points "x", which is not a number',
    "grade_id_not_a_string": "cell 1: has nbgrader grade_id 42, which is not text",
    "outputs_wrong_types": "cell 1: has outputs that are not a list of outputs",
    "execution_count_string": 'cell 1: has execution_count "1", not a whole number',
    "cells_not_a_list": "has no list of cells",
    "markup_in_reason": 'cell 0: has cell_type "[/]", not code, markdown or raw',
}


@pytest.mark.parametrize("kind", sorted(NOTEBOOK_REASONS))
def test_each_poisoned_notebook_is_refused_before_nbformat_reads_it(kind: str) -> None:
    with pytest.raises(LessonError) as caught:
        read_submitted_notebook(poisoned(kind), lesson="01-add", limits=GradingSettings())
    assert str(caught.value) == f"01-add / poisoned_{kind}.ipynb: {NOTEBOOK_REASONS[kind]}"


def sixty_thousand_empty_cells(path: Path) -> Path:
    nb = json.loads(poisoned("execution_count_string").read_text())
    nb["cells"] = [{"cell_type": "raw", "metadata": {}, "source": ""}] * 60_000
    path.write_text(json.dumps(nb, separators=(",", ":")))  # 2.7 MB: under the size cap
    return path


def oversized(path: Path, *, mb: int) -> Path:
    nb = json.loads(poisoned("execution_count_string").read_text())
    nb["cells"][1]["execution_count"] = None
    nb["cells"][0]["source"] = "x" * (mb * 1024 * 1024 + 1)
    path.write_text(json.dumps(nb))
    return path


def test_cell_count_and_size_are_capped_by_grading_keys(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match=r"has 60000 cells, more than the 2000 allowed \(\[grading\] max_cells\)"):
        read_submitted_notebook(sixty_thousand_empty_cells(tmp_path / "cells.ipynb"), lesson="01-add", limits=GradingSettings())
    with pytest.raises(LessonError, match=r"larger than the 1 MB allowed \(\[grading\] max_notebook_mb\)"):
        read_submitted_notebook(oversized(tmp_path / "big.ipynb", mb=1), lesson="01-add", limits=GradingSettings(max_notebook_mb=1))
    assert read_submitted_notebook(oversized(tmp_path / "big.ipynb", mb=1), lesson="01-add",
                                   limits=GradingSettings(max_notebook_mb=2)).nbformat == 4


def test_an_unforeseen_exception_is_recorded_by_type_and_line() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        problem = at_submission(exc, student_id="ada", lesson_id="01-add", attempt=2)
    assert isinstance(problem, SubmissionError)
    assert str(problem).startswith("ada / 01-add / attempt 2: unexpected KeyError (at test_poisoned_submissions.py:")
    assert describe(ValueError("x" * 10_000)).endswith("...") and len(describe(ValueError("x" * 10_000))) == 400


# --------------------------------------------------------------------------
# a poisoned batch through the exchange
# --------------------------------------------------------------------------

def _rename(inbound: Path, random_part: bytes) -> Path:
    student, lesson, stamp, _ = inbound.name.split("+")
    target = inbound.parent / os.fsdecode(f"{student}+{lesson}+{stamp}+".encode() + random_part)
    inbound.rename(target)
    return target


def _add(inbound: Path, name: bytes, content: bytes = b"x") -> Path:
    (inbound / os.fsdecode(name)).write_bytes(content)
    return inbound


def _deep(inbound: Path) -> Path:
    folder = inbound
    for _ in range(40):
        folder = folder / "d"
    folder.mkdir(parents=True)
    (folder / "bottom.txt").write_text("x")
    return inbound


def _a_file(inbound: Path) -> Path:
    shutil.rmtree(inbound)
    inbound.write_text("a submission folder that is a file")
    return inbound


def _secret(content: bytes | None):
    def poison(inbound: Path) -> Path:
        secret = inbound / "submission_secret.txt"
        if content is None:
            secret.unlink()
        else:
            secret.write_bytes(content)
        # Left like this for a minute: not a submission nbgrader is still writing, which waits.
        minute_ago = time.time() - 60
        for path in ([secret] if secret.exists() else []) + [inbound]:
            os.utime(path, (minute_ago, minute_ago))
        return inbound
    return poison


# Submissions the collector refuses: student -> (how the inbound folder is poisoned, words of the reason).
REFUSED = {
    "p_folder_name_bytes": (lambda p: _rename(p, b"\xff\xfe"), "its name is not valid UTF-8"),
    "p_folder_name_escapes": (lambda p: _rename(p, b"\x1b[2J\n"), "its name holds invisible characters"),
    "p_file_name_bytes": (lambda p: _add(p, b"data\xff.csv"), "'data\\xff.csv': the name is not valid UTF-8"),
    "p_file_name_newline": (lambda p: _add(p, b"notes\n.txt"), "'notes\\n.txt': the name holds '\\n'"),
    "p_file_name_long": (lambda p: _add(p, b"a" * 200), "the name is longer than 128 characters"),
    "p_file_name_dots": (lambda p: _add(p, b"..."), "'...': the name is only dots"),
    "p_folders_deep": (_deep, "more than 16 folders deep"),
    "p_folder_is_a_file": (_a_file, "not a folder"),
    "p_secret_missing": (_secret(None), "no submission_secret.txt"),
    "p_secret_empty": (_secret(b""), "submission_secret.txt is empty"),
    "p_secret_binary": (_secret(os.urandom(64)), "not 32 to 256 lowercase hexadecimal digits"),
    "p_secret_newline": (_secret(SECRET.encode() + b"\n"), "not 32 to 256 lowercase hexadecimal digits"),
    "p_secret_huge": (_secret(b"f" * 2**20), "submission_secret.txt is 1048576 bytes"),
}

# Collected, then failed before grading: student -> (notebook to submit, words of the reason).
FAILED = {f"p_nb_{kind}": (poisoned(kind), reason) for kind, reason in NOTEBOOK_REASONS.items()}
FAILED["p_nb_60000_cells"] = (None, "has 60000 cells, more than the 2000 allowed ([grading] max_cells)")
FAILED["p_nb_oversized"] = (None, "is larger than the 4 MB allowed ([grading] max_notebook_mb)")

POISONED = [*REFUSED, *FAILED]
# Collected and graded as usual: the student's own timestamps are only a claim.
ACCEPTED = {"p_garbage_timestamp"}


def course_for(tmp_path: Path, students: list[str]):
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", root)
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace("[grading]\ntimeout = 10\n", "[grading]\ntimeout = 10\nmax_notebook_mb = 4\n"))
    with (root / "students.csv").open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in students)
    course = load_course(root)
    assert course.lesson("01-add").grading.max_notebook_mb == 4
    release_lessons(course, lesson_ids=["01-add"])
    return course


def workspace(course, student: str) -> StudentWorkspace:
    return StudentWorkspace(student, course.root.parent / "homes" / student, course.id, course.exchange_root)


def submit(course, student: str, *, clock: SimulatedClock, notebook: Path | None = None, source: str | None = None) -> Path:
    """Fetch and submit through nbgrader's exchange, as the student's server does; the new inbound folder."""
    ws = workspace(course, student)
    ws.home.mkdir(parents=True)
    fetched = fetch_lesson(ws, "01-add") / "add.ipynb"
    if notebook is not None:
        shutil.copyfile(notebook, fetched)
    if source is not None:
        nb = json.loads(fetched.read_text())
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
                cell["source"] = source
        fetched.write_text(json.dumps(nb))
    inbound = course.layout.exchange.inbound
    before = set(inbound.iterdir()) if inbound.exists() else set()
    submit_lesson(ws, "01-add", clock=clock)
    [new] = set(inbound.iterdir()) - before
    return new


def submit_poisoned(course, tmp_path: Path, *, clock: SimulatedClock) -> None:
    for student, (poison, _) in REFUSED.items():
        poison(submit(course, student, clock=clock, source=CORRECT))
    for student, (notebook, _) in FAILED.items():
        if student == "p_nb_60000_cells":
            notebook = sixty_thousand_empty_cells(tmp_path / "cells.ipynb")
        elif student == "p_nb_oversized":
            notebook = oversized(tmp_path / "big.ipynb", mb=4)
        submit(course, student, clock=clock, notebook=notebook)
    garbage = submit(course, "p_garbage_timestamp", clock=clock, source=CORRECT)
    (garbage / "timestamp.txt").write_bytes(os.urandom(300))
    student, lesson, _, random = garbage.name.split("+")
    garbage.rename(garbage.parent / f"{student}+{lesson}+not a time at all+{random}")


def outcomes(course) -> tuple[dict[str, str], dict[str, object]]:
    """(refusal reason per claimed student, attempt per student) as the ledger holds them."""
    with Ledger.open(course.layout.ledger_path) as ledger:
        refused = {student: reason for _, student, _, _, reason in ledger.rejections()}
        attempts = {a.student_id: a for a in ledger.attempts()}
        assert len(ledger.rejections()) == len(refused)  # each recorded once
    return refused, attempts


def assert_each_poisoned_submission_recorded_once(course) -> dict[str, object]:
    refused, attempts = outcomes(course)
    assert set(refused) == set(REFUSED)
    for student, (_, words) in REFUSED.items():
        assert words in refused[student], refused[student]
        assert student not in attempts
        assert not course.layout.attempt_dir(student_id=student, lesson_id="01-add", attempt=1).exists()
    for student, (_, words) in FAILED.items():
        attempt = attempts[student]
        assert (attempt.status, attempt.attempt, attempt.score) == ("failed", 1, None)
        assert attempt.error.startswith(f"{student} / 01-add / attempt 1: ") and words in attempt.error, attempt.error
    assert "\\xff\\xfe" in refused["p_folder_name_bytes"]  # stored escaped: SQLite cannot hold the raw bytes
    return attempts


def rerun_finds_nothing(course, *, clock: SimulatedClock, grade) -> None:
    clock.advance_to(clock.now() + dt.timedelta(minutes=10))
    again = collect_submissions(course, clock=clock)
    assert (again.collected, again.problems) == ([], [])
    assert again.already_collected == len(list(course.layout.exchange.inbound.iterdir()))  # collected or refused: all known
    regraded = grade()
    assert (regraded.graded, regraded.problems) == ([], [])
    released = release_attempt_feedback(course)
    assert (released.released, released.problems) == ({}, [])


def status_of(course, student: str) -> str:
    """What ``paceline status STUDENT`` prints (the CLI in this process: a new one takes seconds to start)."""
    result = CliRunner().invoke(main, ["--course", str(course.root), "status", student, "--as-of", "2026-09-11"],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output  # the student's escapes are shown, never sent to the terminal
    return result.output


def test_a_poisoned_batch_is_recorded_once_and_a_rerun_trips_on_nothing(tmp_path: Path) -> None:
    """Every kind of poison, no kernel needed: none of them reaches one."""
    course = course_for(tmp_path, [*POISONED, *ACCEPTED])
    clock = SimulatedClock(SUBMITTED)
    submit_poisoned(course, tmp_path, clock=clock)
    clock.advance_to(SUBMITTED + dt.timedelta(minutes=5))

    collected = collect_submissions(course, clock=clock)
    assert sorted(a.student_id for a in collected.collected) == sorted([*FAILED, *ACCEPTED])
    assert len(collected.problems) == len(REFUSED)
    [garbage] = [a for a in collected.collected if a.student_id == "p_garbage_timestamp"]
    assert garbage.claimed_at is None and garbage.submitted_at == clock.now()
    # Only the poisoned attempts are graded here: the accepted one would need a kernel (see the e2e test).
    with Ledger.open(course.layout.ledger_path) as ledger:
        [waiting] = ledger.attempts(student_ids=["p_garbage_timestamp"])
        ledger.record_failure(waiting.id, error="set aside by this test", graded_at=clock.now())
    graded = grade_attempts(course, sandboxed=False, clock=clock)
    assert graded.graded == [] and len(graded.problems) == len(FAILED)
    assert_each_poisoned_submission_recorded_once(course)

    rerun_finds_nothing(course, clock=clock, grade=lambda: grade_attempts(course, sandboxed=False, clock=clock))
    # What the student and the instructor see: the reason, printable, in paceline status; export still works.
    assert "has cell_type \"[/]\", not code, markdown or raw" in status_of(course, "p_nb_markup_in_reason")
    assert "its name holds invisible characters" in status_of(course, "p_folder_name_escapes")
    assert "'p_folder_name_bytes+01-add+" in status_of(course, "p_folder_name_bytes")
    tables = course_tables(course)
    assert set(tables.submissions["status"]) == {"failed"}


def test_feedback_that_cannot_be_released_is_recorded_once_and_the_rest_goes_out(tmp_path: Path) -> None:
    """Attempts collected before secrets were checked may hold any secret: theirs fails alone, once."""
    students = ["honest_a", "honest_b", "legacy_empty_secret", "legacy_binary_secret"]
    course = course_for(tmp_path, students)
    clock = SimulatedClock(SUBMITTED)
    for student in students:
        submit(course, student, clock=clock, source=CORRECT)
    collected = collect_submissions(course, clock=clock)
    assert len(collected.collected) == 4
    legacy = {"legacy_empty_secret": b"", "legacy_binary_secret": b"\xff\xfe\x00" * 30}
    with Ledger.open(course.layout.ledger_path) as ledger:
        for attempt in ledger.attempts():
            # As if graded: an archived secret from before collection checked it, a feedback page.
            if attempt.student_id in legacy:
                folder = course.layout.attempt_dir(student_id=attempt.student_id, lesson_id="01-add", attempt=1)
                (folder / "submission_secret.txt").write_bytes(legacy[attempt.student_id])
            ledger.record_grade(attempt.id, score=3.0, max_score=3.0, late_penalty=0.0, graded_at=clock.now(),
                                cells=[CellScore("add", "test_add_visible", 1.0, 1.0)])
            page = course.layout.attempt_feedback(student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt) / "add.html"
            page.parent.mkdir(parents=True)
            page.write_text(f"<p>feedback for {attempt.student_id}</p>")

    first = release_attempt_feedback(course)
    assert first.released == {"01-add": 2}
    assert sorted(str(p).split(" / ")[0] for p in first.problems) == sorted(legacy)
    assert "feedback not released: submission_secret.txt is empty" in str(first.problems)
    for student in ("honest_a", "honest_b"):
        [page] = fetch_feedback(workspace(course, student), "01-add")
        assert f"feedback for {student}" in page.read_text()
    # Recorded once, not tried again until the feedback changes.
    again = release_attempt_feedback(course)
    assert (again.released, again.problems) == ({}, [])
    assert "Feedback not released 01-add attempt 1: legacy_empty_secret / 01-add / attempt 1: feedback not released: " \
           "submission_secret.txt is empty" in status_of(course, "legacy_empty_secret").replace("\n", " ")


def test_a_watch_cycle_with_poisoned_input_does_not_raise_and_the_next_finds_nothing(tmp_path: Path) -> None:
    course = course_for(tmp_path, [*POISONED])
    clock = SimulatedClock(SUBMITTED)
    submit_poisoned(course, tmp_path, clock=clock)
    shutil.rmtree(next(course.layout.exchange.inbound.glob("p_garbage_timestamp+*")))  # it would need a kernel
    clock.advance_to(SUBMITTED + dt.timedelta(minutes=5))
    first = run_cycle(course, scheduler=None, sandboxed=False, clock=clock)
    assert (first.collected, first.graded, first.feedback) == (len(FAILED), 0, 0)
    assert len(first.problems) == len(REFUSED) + len(FAILED)
    assert_each_poisoned_submission_recorded_once(course)
    clock.advance_to(SUBMITTED + dt.timedelta(minutes=6))
    assert not run_cycle(course, scheduler=None, sandboxed=False, clock=clock).busy


def test_a_step_that_fails_as_a_whole_leaves_the_others_running(tmp_path: Path, monkeypatch) -> None:
    course = course_for(tmp_path, ["dee"])  # not "ada", who is on the fixture's roster already
    clock = SimulatedClock(SUBMITTED)

    def broken(*_args, **_kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    ran = []
    monkeypatch.setattr(watch_module, "collect_submissions", broken)
    monkeypatch.setattr(watch_module, "grade_attempts", lambda *a, **k: ran.append("grade") or SimpleNamespace(
        graded=[], unlocked=[], problems=[]))
    cycle = run_cycle(course, scheduler=None, sandboxed=False, clock=clock)
    assert ran == ["grade"]  # the steps after the broken one still ran
    [problem] = cycle.problems
    # Not paceline's own error: a bug to fix, shown with its traceback.
    assert problem.startswith("collect failed, will retry: RecursionError: maximum recursion depth exceeded\n")
    assert "Traceback (most recent call last)" in problem and "in broken" in problem


def test_watch_outlives_a_cycle_that_fails(tmp_path: Path, monkeypatch) -> None:
    course = course_for(tmp_path, ["ada"])
    stop = threading.Event()
    seen: list[Cycle] = []

    @contextmanager
    def no_cluster(*, scheduler, workers):
        yield SimpleNamespace(address="tcp://127.0.0.1:1")

    def cycle(course_, *, scheduler, sandboxed, clock, kept_gradebooks, executor):
        if len(seen) == 0:
            raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
        return Cycle(collected=1)

    def on_cycle(result: Cycle) -> None:
        seen.append(result)
        if len(seen) == 2:
            stop.set()

    monkeypatch.setattr(watch_module, "dask_executor", no_cluster)
    monkeypatch.setattr(watch_module, "run_cycle", cycle)
    watch(course, interval=0, stop=stop, on_cycle=on_cycle)
    assert seen[0].problems[0].startswith("cycle failed, will retry: UnicodeEncodeError:")
    assert "Traceback" in seen[0].problems[0]
    assert seen[1].collected == 1  # ...and the next cycle ran


# --------------------------------------------------------------------------
# end to end: poisoned and honest submissions through real, sandboxed grading
# --------------------------------------------------------------------------

MISSING = check_sandbox()
HONEST = {"honest_correct": (CORRECT, 3.0), "honest_integers_only": ("def add(a, b):\n    return int(a) + int(b)\n", 1.0)}


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING))
def test_honest_submissions_are_graded_and_get_feedback_next_to_every_poisoned_kind(tmp_path: Path) -> None:
    course = course_for(tmp_path, [*HONEST, *POISONED, *ACCEPTED, "p_nb_lone_surrogate"])
    clock = SimulatedClock(SUBMITTED)
    for student, (source, _) in HONEST.items():
        submit(course, student, clock=clock, source=source)
    submit_poisoned(course, tmp_path, clock=clock)
    submit(course, "p_nb_lone_surrogate", clock=clock, notebook=poisoned("lone_surrogate"))
    clock.advance_to(SUBMITTED + dt.timedelta(minutes=5))

    collected = collect_submissions(course, clock=clock)
    assert len(collected.collected) == len(HONEST) + len(FAILED) + len(ACCEPTED) + 1
    graded = grade_attempts(course, workers=2, clock=clock)  # sandboxed: the default
    feedback = release_feedback(course)
    assert feedback.problems == []

    attempts = assert_each_poisoned_submission_recorded_once(course)
    for student, expected in [*((s, score) for s, (_, score) in HONEST.items()), ("p_garbage_timestamp", 3.0)]:
        attempt = attempts[student]
        assert (attempt.status, attempt.error, attempt.score) == ("graded", None, expected), attempt
        [page] = fetch_feedback(workspace(course, student), "01-add")
        assert "Adding numbers" in page.read_text()
    # A lone surrogate is valid JSON and passes the checks; nbgrader's worker cannot write it back
    # as UTF-8. That fails this attempt alone, with nbgrader's reason, and the batch goes on.
    surrogate = attempts["p_nb_lone_surrogate"]
    assert surrogate.status == "failed" and "surrogates not allowed" in surrogate.error, surrogate
    assert {g.attempt.student_id for g in graded.graded} >= {*HONEST, *ACCEPTED}

    rerun_finds_nothing(course, clock=clock, grade=lambda: grade_attempts(course, workers=2, clock=clock))
    assert release_feedback(course).problems == []
    assert "has 60000 cells" in status_of(course, "p_nb_60000_cells")
    assert len(course_tables(course).submissions) == len(attempts)
