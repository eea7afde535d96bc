"""The adversarial suite: hostile submissions graded in one batch with honest ones.

Each notebook in ``tests/fixtures/hostile/`` is the released student version
of the fixture course's lesson 01-add (grade ids ``add``, ``test_add_visible``
worth 1 point, ``test_add_hidden`` worth 2) rewritten to attack the grader,
and named for what it tries. Every hostile notebook writes what it managed
into its own outputs ("evidence: ..."), so the archived autograded notebook
shows whether the attack worked. Students fetch and submit through nbgrader's
real exchange; the collector archives every attempt; ``grade_attempts`` grades
them all, sandboxed, on a two-process Dask cluster, ONCE (the module-scoped
``batch`` fixture); each test below then checks one attack against that batch.

Each hostile attempt ends one of two ways, named in ``EXPECTED``: graded with
0 points (the attack ran and achieved nothing), or recorded as ``failed`` with
a reason an instructor can act on (nbgrader itself could not grade it). The
one exception is monkeypatching (see ``test_monkeypatching_can_fool_the_tests``):
tests share the student's interpreter, so a student can make them pass.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from graders.course.clock import SimulatedClock
from graders.course.plan import load_course
from graders.exchange.collect import CollectReport, collect_submissions
from graders.exchange.ledger import Attempt, Ledger
from graders.exchange.release import release_lessons
from graders.exchange.student import StudentWorkspace, fetch_feedback, fetch_lesson, submit_lesson
from graders.feedback.hidden_tests import hidden_lines
from graders.feedback.release import release_feedback
from graders.grading.grade import GradeReport, grade_attempts
from graders.sandbox import check_sandbox
from graders.sandbox.cgroups import cgroup_parent

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
MISSING = check_sandbox()
UTC = dt.timezone.utc
SUBMITTED = dt.datetime(2026, 9, 10, 12, tzinfo=UTC)  # lesson 01-add is open and not yet due
LISTEN_PORTS = (47653, 47654, 47655)  # opens_network.ipynb tries these on the grading host
MEMORY_CGROUP = cgroup_parent("memory") is not None

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING), reason="kernel sandbox not ready: " + "; ".join(MISSING)),
    pytest.mark.timeout(900),  # a hang is a failed test, not a stuck suite
]

# Limits for this batch (course.toml [grading]): small, so the slow attacks end quickly.
# memory_mb: the memory bomb must reach the limit well inside the 5 s cell timeout on a busy machine, where
# touching fresh pages is slow (a bomb held back by the timeout instead ends "graded", as CI once saw).
GRADING = {"timeout": 5, "cpu_seconds": 10, "memory_mb": 384}  # the kernel's wall-clock limit is 2 x cpu_seconds = 20 s

# Honest students, graded in the same batch: (solution source, per-cell scores). "honest-marker"
# is what reads_other_submission.ipynb looks for while they are being graded.
HONEST = {
    "honest_correct": ("def add(a, b):\n    # honest-marker\n    return a + b\n",
                       {"test_add_visible": 1.0, "test_add_hidden": 2.0}),
    "honest_integers_only": ("def add(a, b):\n    # honest-marker\n    return int(a) + int(b)\n",
                             {"test_add_visible": 1.0, "test_add_hidden": 0.0}),
    "honest_abs_bug": ("def add(a, b):\n    # honest-marker\n    return abs(a) + b\n",
                       {"test_add_visible": 1.0, "test_add_hidden": 0.0}),
    "honest_blank": (None, {"test_add_visible": 0.0, "test_add_hidden": 0.0}),
}

# How each hostile attempt ends: ("graded", total score) or ("failed", words of the recorded reason).
EXPECTED: dict[str, tuple[str, object]] = {
    "infinite_loop": ("graded", 0.0),  # interrupted at the 5 s cell timeout; later cells run
    "ignores_interrupt": ("failed", "Timeout waiting for execute reply (5s)"),  # no reply after the interrupt: nbgrader gives up
    "many_slow_cells": ("failed", "wall-clock limit"),  # each cell under the timeout; the kernel's life is bounded
    "memory_bomb": ("failed", "ran out of memory (limit 384 MB)") if MEMORY_CGROUP else ("graded", 0.0),
    "fork_bomb": ("graded", 0.0),
    "huge_output": ("graded", 0.0),
    "huge_file": ("graded", 0.0),
    "reads_source_and_solutions": ("graded", 0.0),
    "reads_other_submission": ("graded", 0.0),
    "writes_gradebook": ("graded", 0.0),
    "opens_network": ("graded", 0.0),
    "kills_parent": ("graded", 0.0),
    "sys_exit": ("graded", 0.0),  # IPython turns SystemExit into a cell error; the tests still run
    "os_exit": ("failed", "Kernel died while waiting for execute reply"),
    "kernel_crash": ("failed", "Kernel died while waiting for execute reply"),
    "tampered_tests": ("graded", 0.0),
    "deleted_tests": ("graded", 0.0),
    "monkeypatch_builtins": ("graded", 3.0),  # the attack works: see test_monkeypatching_can_fool_the_tests
    "renamed_reordered_cells": ("failed", "MissingEntry: No such grade cell"),
    "forged_grade_cells": ("failed", "the nbgrader metadata may be corrupted"),
    "duplicated_test_cell": ("failed", "'test_add_visible' appears more than once"),
    "wrong_kernel": ("graded", 0.0),
    "leaks_hidden_tests": ("graded", 0.0),
    "malformed_json": ("failed", "add.ipynb is not valid notebook JSON"),
    "non_utf8": ("failed", "add.ipynb not UTF-8 text"),
    # Fair shares (issue 8 section 5): busy processes held to [grading] cpus, output to the kernel's total.
    "starves_with_setsid_forks": ("graded", 0.0),
    "starves_with_subprocess_sessions": ("graded", 0.0),
    "starves_with_multiprocessing": ("graded", 0.0),
    "starves_with_threads": ("graded", 0.0),
    "floods_many_cells": ("graded", 0.0),
    # A score comes from the tests, not from what the kernel displays (issue 8 section 2): the answer is the stub.
    "forges_result_in_pre_run_cell_hook": ("graded", 0.0),
    "forges_result_after_hiding_traceback": ("graded", 0.0),
    "forges_result_from_custom_exc_handler": ("graded", 0.0),
    "forges_raw_execute_result_message": ("graded", 0.0),
    "forges_result_with_a_displayhook": ("graded", 0.0),
    "forges_result_from_quiet_exception": ("graded", 0.0),
    "forges_pass_by_silencing_errors": ("graded", 0.0),
    "forges_pass_by_skipping_tests": ("graded", 0.0),
    "forges_execute_reply": ("graded", 3.0),  # the attack works: see test_a_rewritten_execute_reply_fools_the_tests
    # Hidden tests stay hidden through every channel of the executed notebook (issue 8 section 1).
    "leaks_via_execution_counts": ("graded", 0.0),
    "leaks_via_output_metadata": ("graded", 0.0),
    "leaks_via_display_ids": ("graded", 0.0),
    "leaks_via_widget_state": ("graded", 0.0),
    "leaks_via_mime_bundles": ("graded", 0.0),
    "leaks_via_error_values": ("graded", 0.0),
    "leaks_via_which_cells_print": ("graded", 0.0),
    # No script runs from student output (issue 8 section 4).
    "xss_markdown_cells": ("graded", 0.0),
    "xss_outputs": ("graded", 0.0),
    # One student never stops the course (issue 8 section 3): failed before nbformat or nbgrader parse them.
    "poisoned_deeply_nested": ("failed", "add.ipynb its JSON nests 20006 levels deep, more than the 100"),
    "poisoned_nbgrader_metadata_string": ("failed", 'add.ipynb cell 1: has nbgrader metadata "solution", not an object'),
    "poisoned_execution_count_string": ("failed", 'add.ipynb cell 1: has execution_count "1", not a whole number'),
    "poisoned_markup_in_reason": ("failed", 'add.ipynb cell 0: has cell_type "[/]", not code, markdown or raw'),
}
# Files a student puts beside the fetched (blank) notebook before submitting: nbgrader copies
# every file of a submission into its feedback folder.
PLANTED = {"plants_feedback_page": {"evil.html": "<script>window.pwned = 1</script>planted page"}}
EXPECTED.update({student: ("graded", 0.0) for student in PLANTED})
# Refused at collection, so never graded: the collector does not follow links.
REFUSED = {
    "symlink_submission": "add.ipynb is a symbolic link",  # its notebook links to the course's solutions
    "symlinked_folder": "not a folder",  # the whole submission links to another student's submission
}


@dataclass
class Batch:
    course: object
    collected: CollectReport
    report: GradeReport
    attempts: dict[str, Attempt]
    cells: dict[str, dict[str, float | None]]
    rejections: dict[str, str]
    feedback: dict[str, list[str]] = field(default_factory=dict)  # student -> released pages, as fetched
    listener_got_connection: bool = False
    bystander_alive: bool = False
    seconds: float = 0.0

    def graded_notebook(self, student: str) -> nbformat.NotebookNode:
        """The autograded notebook the course keeps for the student's latest attempt."""
        return nbformat.read(self.course.root / "autograded" / student / "01-add" / "add.ipynb", as_version=4)


def answer(notebook: Path, source: str) -> None:
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "add":
            cell["source"] = source
    notebook.write_text(json.dumps(nb))


def listen() -> socket.socket:
    """A listener on the grading host that opens_network.ipynb tries to reach."""
    for port in LISTEN_PORTS:
        sock = socket.socket()
        try:
            # Every interface, not only loopback: a kernel that escaped its network namespace could
            # reach the host on any of its addresses. A bait, not a server: it reads nothing and
            # lives for this module only.
            sock.bind(("0.0.0.0", port))
        except OSError:
            sock.close()
            continue
        sock.listen()
        sock.setblocking(False)
        return sock
    pytest.fail(f"none of the ports {LISTEN_PORTS} is free for the network attack's listener")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    root = tmp_path_factory.mktemp("adversarial") / "course"
    shutil.copytree(FIXTURES / "course", root)
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace("[grading]\ntimeout = 10\n",
                                             "[grading]\n" + "".join(f"{k} = {v}\n" for k, v in GRADING.items())))
    students = [*HONEST, *EXPECTED, *REFUSED]
    with (root / "students.csv").open("a") as roster:
        roster.writelines(f"{s},{s},{s}@example.org,2026-09-01\n" for s in students)
    course = load_course(root)
    assert course.lesson("01-add").grading.timeout == GRADING["timeout"]
    release_lessons(course, lesson_ids=["01-add"])
    clock = SimulatedClock(SUBMITTED)

    def submit(student: str, notebook: Path | None = None, source: str | None = None,
               extra: dict[str, str] | None = None) -> Path:
        home = root.parent / "homes" / student
        home.mkdir(parents=True)
        ws = StudentWorkspace(student, home, course.id, course.exchange_root)
        fetched = fetch_lesson(ws, "01-add") / "add.ipynb"
        for name, text in (extra or {}).items():
            (fetched.parent / name).write_text(text)
        if notebook is not None:
            shutil.copyfile(notebook, fetched)  # the hostile notebook replaces the fetched one
        if source is not None:
            answer(fetched, source)
        before = set(course.layout.exchange.inbound.iterdir()) if course.layout.exchange.inbound.exists() else set()
        submit_lesson(ws, "01-add", clock=clock)
        [new] = set(course.layout.exchange.inbound.iterdir()) - before
        return new

    honest_inbound = {student: submit(student, source=source) for student, (source, _) in HONEST.items()}
    for student in EXPECTED:
        if student in PLANTED:
            submit(student, extra=PLANTED[student])
        else:
            submit(student, notebook=HOSTILE / f"{student}.ipynb")
    # A notebook that links to the course's source notebook (solutions and hidden tests).
    planted = submit("symlink_submission")
    (planted / "add.ipynb").unlink()
    (planted / "add.ipynb").symlink_to(course.source_dir / "01-add" / "add.ipynb")
    # A submission folder that is a link to another student's submission.
    _, lesson, stamp, random = honest_inbound["honest_correct"].name.split("+")
    (course.layout.exchange.inbound / f"symlinked_folder+{lesson}+{stamp}+x{random[1:]}").symlink_to(honest_inbound["honest_correct"])

    clock.advance_to(SUBMITTED + dt.timedelta(minutes=5))
    collected = collect_submissions(course, clock=clock)

    listener = listen()
    bystander = subprocess.Popen(["sleep", "600"])  # a process on the grading host that kills_parent.ipynb may not touch
    try:
        started = time.monotonic()
        # Three workers on two cores: attempts that sleep to their limits leave the CPU to their neighbours.
        report = grade_attempts(course, workers=3, clock=clock)  # sandboxed: the default
        seconds = time.monotonic() - started
        try:
            listener.accept()
            got_connection = True
        except BlockingIOError:
            got_connection = False
        alive = bystander.poll() is None
    finally:
        listener.close()
        bystander.kill()
        bystander.wait()

    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = {a.student_id: a for a in ledger.attempts()}
        cells = {s: {c.grade_id: c.score for c in ledger.cell_scores(a.id)} for s, a in attempts.items()}
        rejections = {name.split("+")[0]: reason for name, _, _, _, reason in ledger.rejections()}
    result = Batch(course, collected, report, attempts, cells, rejections,
                   listener_got_connection=got_connection, bystander_alive=alive, seconds=seconds)

    released = release_feedback(course)
    assert released.problems == []
    for student, attempt in attempts.items():
        if attempt.status == "graded":
            ws = StudentWorkspace(student, root.parent / "homes" / student, course.id, course.exchange_root)
            result.feedback[student] = [page.read_text() for page in fetch_feedback(ws, "01-add")]
    return result


# --------------------------------------------------------------------------
# helpers: what a graded notebook printed
# --------------------------------------------------------------------------

def output_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"ERROR {output.ename}: {output.evalue}\n")
        else:
            parts.append(str(output.get("data", {}).get("text/plain", "")) + "\n")
    return "".join(parts)


def cell_output(nb, grade_id: str) -> str:
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return output_text(cell)


def student_output(nb) -> str:
    """Everything the student's own cells (not the tests) printed."""
    return "".join(output_text(c) for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade"))


def evidence(nb) -> list[str]:
    return [line.removeprefix("evidence: ") for line in student_output(nb).splitlines() if line.startswith("evidence: ")]


def source_test_cells(batch: Batch) -> dict[str, str]:
    nb = nbformat.read(batch.course.source_dir / "01-add" / "add.ipynb", as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def hidden_test_lines(batch: Batch) -> list[str]:
    return [line.strip() for source in source_test_cells(batch).values() for line in hidden_lines(source) if line.strip()]


# --------------------------------------------------------------------------
# the batch as a whole
# --------------------------------------------------------------------------

@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_hostile_attempt_scores_zero_or_fails_with_a_reason(batch: Batch, student: str) -> None:
    outcome, detail = EXPECTED[student]
    attempt = batch.attempts[student]
    if outcome == "graded":
        assert (attempt.status, attempt.error) == ("graded", None)
        assert attempt.score == detail and attempt.max_score == 3.0
    else:
        assert attempt.status == "failed" and attempt.score is None
        assert detail in attempt.error, attempt.error
        assert attempt.error.startswith(f"{student} / 01-add / attempt 1: ")


@pytest.mark.parametrize("student", sorted(HONEST))
def test_every_honest_submission_in_the_batch_gets_exactly_its_score(batch: Batch, student: str) -> None:
    _, cells = HONEST[student]
    attempt = batch.attempts[student]
    assert (attempt.status, attempt.error, attempt.late_penalty) == ("graded", None, 0.0)
    assert batch.cells[student] == cells
    assert attempt.score == sum(cells.values()) and attempt.max_score == 3.0


def test_the_batch_was_graded_once(batch: Batch) -> None:
    assert len(batch.report.graded) == sum(a.status == "graded" for a in batch.attempts.values())
    assert {str(p).split(" / ")[0] for p in batch.report.problems} == {s for s, (o, _) in EXPECTED.items() if o == "failed"}
    assert set(batch.attempts) == set(HONEST) | set(EXPECTED)
    print(f"graded {len(batch.attempts)} attempts in {batch.seconds:.0f} s")


def test_the_gradebook_holds_exactly_the_graded_attempts(batch: Batch) -> None:
    # writes_gradebook.ipynb tried to set every grade to 100: the gradebook is the coordinator's alone.
    with Gradebook(f"sqlite:///{batch.course.layout.gradebook_path}", course_id=batch.course.id) as gb:
        recorded = {s.student.id: (s.score, s.max_score) for s in gb.find_assignment("01-add").submissions}
        grades = {(s.student.id, g.name): (g.auto_score, g.manual_score, g.needs_manual_grade)
                  for s in gb.find_assignment("01-add").submissions for n in s.notebooks for g in n.grades}
    graded = {s: (a.score, a.max_score) for s, a in batch.attempts.items() if a.status == "graded"}
    assert recorded == graded
    for (student, cell), (auto, manual, flagged) in grades.items():
        if student == "deleted_tests":
            # As in nbgrader: a test cell that is not there is not scored (0) and is flagged for the instructor.
            assert (auto, manual, flagged) == (None, None, True)
        else:
            assert manual is None and not flagged and 0 <= auto <= {"test_add_visible": 1, "test_add_hidden": 2}[cell]
    assert not (batch.course.root / "autograded" / "writes_gradebook" / "01-add" / "gradebook.db").exists()


def test_symlinked_submissions_are_refused_at_collection(batch: Batch) -> None:
    for student, reason in REFUSED.items():
        assert student not in batch.attempts
        assert reason in batch.rejections[student], batch.rejections[student]
        assert not batch.course.layout.attempt_dir(student_id=student, lesson_id="01-add", attempt=1).exists()
    # The linked-to submission was collected once, as its own student's.
    assert batch.attempts["honest_correct"].attempt == 1
    assert len(batch.collected.collected) == len(HONEST) + len(EXPECTED)


# --------------------------------------------------------------------------
# denial of service
# --------------------------------------------------------------------------

def test_infinite_loop_is_interrupted_and_the_notebook_goes_on(batch: Batch) -> None:
    nb = batch.graded_notebook("infinite_loop")
    assert "ERROR KeyboardInterrupt" in cell_output(nb, "add")
    assert "kernel alive after the loop was interrupted" in " ".join(evidence(nb))
    assert "NameError" in cell_output(nb, "test_add_visible")  # add() was never defined


def test_fork_bomb_is_held_under_the_process_limit(batch: Batch) -> None:
    [line] = evidence(batch.graded_notebook("fork_bomb"))
    _, forked, _, refused = line.split()
    assert int(forked) < 64 and int(refused) > 400  # processes = 64 counts the kernel's own threads too


def test_memory_bomb_is_stopped_by_the_sandbox(batch: Batch) -> None:
    if MEMORY_CGROUP:
        pytest.skip("with a memory cgroup the kernel is killed: the failure reason is checked above")
    nb = batch.graded_notebook("memory_bomb")
    assert "MemoryError" in cell_output(nb, "add")
    assert int(evidence(nb)[-2].split()[1]) <= GRADING["memory_mb"] + 1024  # RLIMIT_AS: the default address space


def test_huge_output_is_capped(batch: Batch) -> None:
    nb = batch.graded_notebook("huge_output")
    printed = cell_output(nb, "add")
    assert "[paceline sandbox: output passed the limit (16 MB per cell" in printed
    assert 15 * 2**20 < len(printed) < 17 * 2**20  # of 20 MB printed
    assert "next cell runs" in " ".join(evidence(nb))
    path = batch.course.root / "autograded" / "huge_output" / "01-add" / "add.ipynb"
    assert path.stat().st_size < 18 * 2**20


def test_huge_files_stop_at_the_file_size_limit(batch: Batch) -> None:
    lines = evidence(batch.graded_notebook("huge_file"))
    assert [line.split()[1] for line in lines[:3]] == ["big.bin", "/tmp/big.bin", "/dev/shm/big.bin"]
    assert all("File too large" in line and int(line.split()[-2]) <= 64 for line in lines)
    assert sum("inherited fd" in line for line in lines) >= 1  # its log file on the host: also capped
    assert not any("WROTE" in line for line in lines)
    # The kernel works in a scratch copy: nothing it wrote comes back to the course.
    kept = sorted(p.name for p in (batch.course.root / "autograded" / "huge_file" / "01-add").iterdir())
    assert kept == ["add.ipynb", "submission_secret.txt", "timestamp.txt"]


# --------------------------------------------------------------------------
# confidentiality and integrity
# --------------------------------------------------------------------------

def test_solutions_hidden_tests_and_gradebook_cannot_be_read(batch: Batch) -> None:
    nb = batch.graded_notebook("reads_source_and_solutions")
    lines = evidence(nb)
    assert not [line for line in lines if line.startswith(("READ", "FOUND"))]
    assert sum(line.startswith("denied") for line in lines) >= 10
    assert any(line.startswith("searched") and line.endswith("found 0") for line in lines)
    printed = student_output(nb)
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "2.5, 2.5", "SQLite format 3", "return a + b"):
        assert secret not in printed
    # Its working folder holds its own files only: not the graded notebook with the hidden tests.
    assert "cwd holds ['submission_secret.txt', 'timestamp.txt']" in lines


def test_other_students_submissions_cannot_be_read(batch: Batch) -> None:
    nb = batch.graded_notebook("reads_other_submission")
    printed = student_output(nb)
    assert "FOUND" not in printed and "LISTED" not in printed and "honest-marker" not in printed
    assert evidence(nb) == ["other processes visible: [1, 2]"]  # its own pid namespace: sandbox init and itself


def test_the_gradebook_and_course_cannot_be_written(batch: Batch) -> None:
    lines = evidence(batch.graded_notebook("writes_gradebook"))
    wrote = [line.split()[1] for line in lines if line.startswith("WROTE")]
    assert wrote == ["/tmp/evil"]  # the sandbox's private /tmp
    assert sum(line.startswith("denied") for line in lines) >= 7


def test_no_network(batch: Batch) -> None:
    lines = evidence(batch.graded_notebook("opens_network"))
    assert not any(word in line for line in lines for word in ("CONNECTED", "RESOLVED", "SENT"))
    assert sum(line.startswith("refused") for line in lines) == 9
    [ports] = [line for line in lines if line.startswith("open local ports")]
    assert ports.endswith("all the kernel own: True")  # e.g. ipykernel's own socket, in its own namespace
    assert not batch.listener_got_connection


def test_killing_processes_cannot_hurt_the_grader(batch: Batch) -> None:
    lines = evidence(batch.graded_notebook("kills_parent"))
    assert not any("KILLED" in line for line in lines)
    assert lines[-1] == "killed by scanning []"
    assert batch.bystander_alive
    # ...and the batch went on: every other attempt got its outcome (checked above).


def test_sys_exit_is_a_cell_error_and_the_tests_still_run(batch: Batch) -> None:
    nb = batch.graded_notebook("sys_exit")
    assert "ERROR SystemExit: 0" in cell_output(nb, "add")
    assert "AssertionError" in cell_output(nb, "test_add_visible")
    assert "kernel alive after sys.exit" in " ".join(evidence(nb))


# --------------------------------------------------------------------------
# gaming the tests
# --------------------------------------------------------------------------

def test_tampered_test_cells_are_restored(batch: Batch) -> None:
    nb = batch.graded_notebook("tampered_tests")
    graded = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert {k: c.source for k, c in graded.items()} == source_test_cells(batch)  # hidden tests included
    assert {k: c.metadata.nbgrader["points"] for k, c in graded.items()} == {"test_add_visible": 1, "test_add_hidden": 2}
    assert "AssertionError" in cell_output(nb, "test_add_visible")


def test_deleted_test_cells_score_zero(batch: Batch) -> None:
    assert batch.cells["deleted_tests"] == {"test_add_visible": 0.0, "test_add_hidden": 0.0}


def test_wrong_kernel_runs_as_the_sandboxed_python(batch: Batch) -> None:
    nb = batch.graded_notebook("wrong_kernel")
    assert nb.metadata.kernelspec.name == "python3"  # nbgrader restores the lesson's kernelspec
    assert "ERROR SyntaxError" in cell_output(nb, "add")  # its R code ran as Python


def test_monkeypatching_can_fool_the_tests(batch: Batch) -> None:
    """What can and cannot be defended when a solution cell monkeypatches.

    nbgrader runs the tests as cells in the student's own kernel, after the
    student's code: the tests use the student's ``add``, the student's
    builtins, the student's IPython. monkeypatch_builtins.ipynb returns an
    object that compares equal to anything (and replaces ``abs``/``round``
    for defensive tests), and gets full marks for a wrong ``add``. No grader
    that runs tests in the same interpreter can prevent this: a solution cell
    can equally install an AST transformer that deletes asserts, or replace
    IPython's traceback display. Defending it needs tests outside the
    student's interpreter, which is not how nbgrader (or paceline) grades.

    What is defended: the test cells' code and points are restored from the
    gradebook (test_tampered_test_cells_are_restored), extra or duplicated
    graded cells fail the attempt, and the kernel cannot reach the grader,
    the gradebook or other students, so the damage is this one attempt's own
    score. The submitted code is archived: an instructor can see it.
    """
    assert batch.attempts["monkeypatch_builtins"].score == 3.0  # the attack succeeds, by design of nbgrader
    nb = batch.graded_notebook("monkeypatch_builtins")
    assert "AlwaysEqual(a - b)" in [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add"][0]
    # It fooled only its own kernel: honest students graded in the same batch kept their scores (above).


# --------------------------------------------------------------------------
# hidden tests never reach the student
# --------------------------------------------------------------------------

def test_hidden_tests_are_never_in_released_feedback(batch: Batch) -> None:
    hidden = hidden_test_lines(batch)
    assert hidden == ["assert add(2.5, 2.5) == 5.0"]
    underscored = "".join(ch if ch.isalnum() else "_" for ch in hidden[0])
    # leaks_hidden_tests.ipynb failed the hidden tests with an exception named after them, then
    # printed the kernel's history (which holds the hidden tests once they ran): as it is,
    # reversed, base64-encoded, spread out, as an exception's name, and into a display shown
    # before the tests ran. Its graded notebook (the instructor's copy) shows it did:
    leaked = batch.graded_notebook("leaks_hidden_tests")
    printed = "".join(output_text(c) for c in leaked.cells)
    for form in (hidden[0], hidden[0][::-1], " ".join(hidden[0]), underscored):
        assert form in printed
    # Nothing it printed after the hidden tests ran reaches its feedback, in any encoding.
    [page] = batch.feedback["leaks_hidden_tests"]
    after = [line for c in leaked.cells[4:] for line in output_text(c).splitlines() if len(line) > 20]
    assert len(after) >= 4 and not [line for line in after if line in page]
    assert "This cell ran after hidden tests, so its output is not shown." in page
    assert "nothing yet" in page  # the early display as it was before the hidden tests ran, not rewritten
    # And no student's feedback holds a hidden test, plain or encoded.
    assert set(batch.feedback) == {s for s, a in batch.attempts.items() if a.status == "graded"}
    for student, pages in batch.feedback.items():
        text = "".join(pages)
        for form in (hidden[0], hidden[0][::-1], " ".join(hidden[0]), underscored, "2.5, 2.5", "5.2 ,5.2"):
            assert form not in text, (student, form)


def test_feedback_still_says_which_tests_passed(batch: Batch) -> None:
    [correct] = batch.feedback["honest_correct"]
    assert "add(1, 2)" in correct and "including the hidden ones" in correct
    [partial] = batch.feedback["honest_integers_only"]
    assert "did not all pass (AssertionError)" in partial
    # A made-up exception name is not shown: only Python's own.
    [leaky] = batch.feedback["leaks_hidden_tests"]
    assert "These tests did not all pass. Some of them are hidden" in leaky


# --------------------------------------------------------------------------
# scores come from the tests, not from what the kernel displays (issue 8 section 2)
# --------------------------------------------------------------------------

# Each leaves the answer as the stub and makes its failing test cells look passed; plain nbgrader
# gives all but the last full points (tests/test_scoring.py grades them both ways).
FORGED_RESULTS = ("forges_result_in_pre_run_cell_hook", "forges_result_after_hiding_traceback",
                  "forges_result_from_custom_exc_handler", "forges_raw_execute_result_message",
                  "forges_result_with_a_displayhook", "forges_result_from_quiet_exception")


def graded_test_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("student", FORGED_RESULTS)
def test_a_forged_result_in_a_failing_test_cell_earns_nothing(batch: Batch, student: str) -> None:
    nb = batch.graded_notebook(student)
    assert evidence(nb)  # the attack's cell ran in the sandbox...
    for cell in graded_test_cells(nb):
        # ...and its test cells carry the forged points as a result, which plain nbgrader would have read.
        forged = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert forged and forged[0].data["text/plain"] == repr(float(cell.metadata.nbgrader["points"]))
        assert cell.metadata.paceline["execute_reply"] == "error"  # the kernel's reply, which decides
    assert batch.cells[student] == {"test_add_visible": 0.0, "test_add_hidden": 0.0}
    [page] = batch.feedback[student]
    assert "did not all pass" in page and "All tests in this cell passed" not in page


def test_silenced_errors_and_skipped_tests_earn_nothing(batch: Batch) -> None:
    silenced = batch.graded_notebook("forges_pass_by_silencing_errors")
    assert "errors silenced" in " ".join(evidence(silenced))
    assert [c.metadata.paceline["execute_reply"] for c in graded_test_cells(silenced)] == ["error"] * 2
    skipped = batch.graded_notebook("forges_pass_by_skipping_tests")
    # Never run, so nothing in them says they failed; the metadata claiming "ok" was the submission's.
    assert [(c.outputs, c.metadata.paceline) for c in graded_test_cells(skipped)] == [([], {"execute_reply": "not run"})] * 2
    for student in ("forges_pass_by_silencing_errors", "forges_pass_by_skipping_tests"):
        assert batch.cells[student] == {"test_add_visible": 0.0, "test_add_hidden": 0.0}


def test_a_rewritten_execute_reply_fools_the_tests(batch: Batch) -> None:
    """The limit of scoring from the kernel's reply: the reply is sent by the student's interpreter.

    forges_execute_reply.ipynb wraps ipykernel's own ``do_execute`` so that a
    failed cell replies "ok", and hides the traceback: the stub answer gets
    full marks, as with monkeypatching (test_monkeypatching_can_fool_the_tests).
    Nothing that runs inside the student's kernel can be made to report its own
    failure honestly; what holds is that the damage is this attempt's own score.
    """
    assert batch.attempts["forges_execute_reply"].score == 3.0
    nb = batch.graded_notebook("forges_execute_reply")
    assert "execute replies rewritten" in " ".join(evidence(nb))
    assert [c.metadata.paceline["execute_reply"] for c in graded_test_cells(nb)] == ["ok"] * 2


# --------------------------------------------------------------------------
# fair shares: CPU quota and total output (issue 8 section 5)
# --------------------------------------------------------------------------

STARVES = ("starves_with_setsid_forks", "starves_with_subprocess_sessions", "starves_with_multiprocessing",
           "starves_with_threads")


@pytest.mark.parametrize("student", STARVES)
def test_busy_processes_in_new_sessions_get_one_cpu_at_most(batch: Batch, student: str) -> None:
    if cgroup_parent("cpu") is None:
        pytest.skip("no writable cgroup v1 cpu controller: the kernel's CPU share is not capped here")
    # Four busy workers that left the kernel's session measured, from /proc inside the sandbox, how
    # much CPU the sandbox got per wall second: [grading] cpus (default 1) plus scheduling slack,
    # while the honest attempts of this batch graded exactly (above).
    [line] = [line for line in evidence(batch.graded_notebook(student)) if line.startswith("cpu share")]
    assert float(line.split()[2]) <= 1.15, line


def test_many_cells_under_the_cell_limit_stop_at_the_total_output(batch: Batch) -> None:
    # Eight cells each printed just under 4 MB (the cell limit is 16 MB): 20 MB is kept in all.
    printed = student_output(batch.graded_notebook("floods_many_cells"))
    assert "16 MB per cell, 20 MB per notebook" in printed
    assert 19 * 2**20 < len(printed) <= 20 * 2**20 + 8 * 300
    path = batch.course.root / "autograded" / "floods_many_cells" / "01-add" / "add.ipynb"
    assert path.stat().st_size < 21 * 2**20


# --------------------------------------------------------------------------
# hidden tests stay hidden through every channel; no script runs from student output (issue 8 sections 1, 4)
# --------------------------------------------------------------------------

from test_feedback_allowlist import found_encodings  # noqa: E402 (this section's own helpers)
from test_feedback_browser import formgrader_exporter, formgrader_page, live_attacks, site, visit  # noqa: E402,F401

from graders.page_policy import CONTENT_SECURITY_POLICY  # noqa: E402

LEAKS = sorted(student for student in EXPECTED if student.startswith("leaks_via_"))
XSS = sorted(student for student in EXPECTED if student.startswith("xss_"))


def test_no_encoding_of_a_hidden_test_is_in_any_released_feedback(batch: Batch) -> None:
    hidden = hidden_test_lines(batch)
    for student in LEAKS:
        # Each attack had the hidden test in its kernel (the instructor's copy shows what it printed)...
        assert f"the kernel holds the hidden test: {hidden[0]}" in evidence(batch.graded_notebook(student)), student
        assert len(batch.feedback[student]) == 1  # ...and its feedback was released
    # Plain, reversed, spaced, base64, hex, ord codes (also as In [n] prompts), url-encoded, underscored, rot13.
    for student, pages in batch.feedback.items():
        for line in hidden:
            assert found_encodings("".join(pages), line) == [], student


def test_the_leak_attacks_worked_on_the_kernel_side(batch: Batch) -> None:
    """What each attack managed in the graded notebook (the instructor's copy), none of which its feedback shows."""
    [line] = hidden_test_lines(batch)
    # Each cell set the kernel's execution count to a code point of the hidden line; whether a cell's
    # prompt shows it or one less depends on ipykernel's version, so the prompts spell it with an offset.
    counts = [c.execution_count for c in batch.graded_notebook("leaks_via_execution_counts").cells if c.cell_type == "code"]
    assert any("ord codes" in found_encodings(" ".join(f"In [{n + shift}]" for n in counts), line) for shift in (0, 1))
    # The sandbox keeps a later cell from rewriting a display shown before the hidden tests ran.
    early = batch.graded_notebook("leaks_via_display_ids").cells[1]
    assert output_text(early) == "'early display, before the hidden tests'\n"
    errors = [o for c in batch.graded_notebook("leaks_via_error_values").cells for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert line[::-1] in errors[1].evalue and errors[1].ename == "ValueError"
    [page] = batch.feedback["leaks_via_error_values"]
    assert "did not all pass (ValueError). Some of them are hidden" in page  # only the built-in name


def first_element(html: str) -> tuple[str, dict[str, str | None]] | None:
    """The first start tag of ``html`` and its attributes, as a browser's parser reads them."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class FirstElement(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    FirstElement().feed(html)
    return found[0] if found else None


def test_no_script_from_a_submission_is_live_in_its_feedback_or_in_formgrader(
    batch: Batch, monkeypatch: pytest.MonkeyPatch,
) -> None:
    csp = ("meta", {"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY})
    for student, pages in batch.feedback.items():
        for page in pages:
            assert first_element(page.split("<head>", 1)[1]) == csp, student
            assert live_attacks(page) == [], student
    [notes] = batch.feedback["xss_markdown_cells"]
    assert "&lt;script&gt;window.pwned_markdown_script" in notes  # the student's Markdown, shown as text
    # The instructor's view of the same attempts: formgrader, configured by the course's nbgrader_config.py.
    exporter = formgrader_exporter(batch.course.root, monkeypatch)
    for student in XSS:
        page = formgrader_page(exporter, batch.graded_notebook(student))
        assert "pwned" in page and live_attacks(page) == [], student


def test_no_script_runs_in_released_feedback_in_a_browser(batch: Batch, browser, site) -> None:
    for student in [*XSS, "honest_correct"]:
        [page] = batch.feedback[student]
        seen = visit(browser, site, f"/{student}.html", page)
        assert (seen.ran, seen.dialogs, seen.beacons) == ([], [], []), student
        assert "add (Score: " in seen.text and seen.title == "add", student


# --------------------------------------------------------------------------
# only paceline's pages are released as feedback
# --------------------------------------------------------------------------

def test_a_page_the_student_planted_is_not_released_as_feedback(batch: Batch) -> None:
    # nbgrader's generate_feedback copied evil.html into the feedback folder beside add.html;
    # only the page rendered from the lesson's notebook reaches the exchange.
    [page] = batch.feedback["plants_feedback_page"]
    assert "planted page" not in page and "Content-Security-Policy" in page
