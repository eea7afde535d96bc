"""The simulated cohort: pure planning, answers made from the solutions, and one
run through the real exchange, collect and autograde."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from graders.operations.answers import BUG_LINE, AnswerKey, answer_attempt, broken_answer, cell_qualities, correct_answer, load_answer_keys, read_answers

from graders.course.plan import CourseConfig, GradingSettings, LatePolicy, LessonPlan, load_course
from graders.course.roster import Student, load_roster, validate_student_id
from graders.errors import PacelineError
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.grading.grade import grade_attempts
from graders.operations.simulate import PERSONAS, SimStudent, is_simulated, plan_cohort, plan_submissions, run_simulation

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
FIXTURE = Path(__file__).parent / "fixtures" / "course"
START = dt.datetime(2026, 9, 7, 9, tzinfo=BERLIN).astimezone(UTC)
UNTIL = dt.datetime(2026, 12, 1, tzinfo=UTC)


def weekly_course(lessons: int = 6) -> CourseConfig:
    """The demo course's shape in memory: a lesson a week, target 6 days after opening, due 2 weeks later."""
    def day_end(when: dt.datetime) -> dt.datetime:
        return dt.datetime.combine(when.astimezone(BERLIN).date(), dt.time(23, 59, 59), tzinfo=BERLIN).astimezone(UTC)

    plans = tuple(
        LessonPlan(
            id=f"{k:02d}-lesson", title=f"Lesson {k}", order=k, notebooks=("lesson.ipynb",),
            opens_at=START + dt.timedelta(weeks=k - 1),
            target_at=day_end(START + dt.timedelta(weeks=k - 1, days=6)),
            due_at=day_end(START + dt.timedelta(weeks=k - 1, days=20)),
        )
        for k in range(1, lessons + 1)
    )
    root = Path("/nonexistent/course")
    return CourseConfig(
        root=root, id="sim", title="Simulated", timezone=BERLIN, roster_path=root / "students.csv",
        source_dir=root / "course_source", exchange_root=root / ".paceline" / "exchange",
        late_policy=LatePolicy(), grading=GradingSettings(), lessons=plans,
    )


COURSE = weekly_course()
COHORT = plan_cohort(COURSE, students=60, seed=11)
PLAN = plan_submissions(COURSE, COHORT, seed=11, until=UNTIL)


def by_student(plan) -> dict[str, list]:
    out = defaultdict(list)
    for p in plan:
        out[p.student_id].append(p)
    return out


def first_attempts(student_plan) -> dict[str, dt.datetime]:
    return {p.lesson_id: p.at for p in student_plan if p.attempt == 1}


def of(persona: str) -> list[SimStudent]:
    return [s for s in COHORT if s.persona == persona]


# Planning: pure, no kernels.

@pytest.mark.parametrize("size", [6, 7, 60])
def test_every_persona_is_present_from_six_students(size: int) -> None:
    cohort = plan_cohort(COURSE, students=size, seed=3)
    assert {s.persona for s in cohort} == set(PERSONAS)
    assert [s.id for s in cohort] == [f"s{k:03d}" for k in range(1, size + 1)]
    assert all(validate_student_id(s.id) for s in cohort)
    assert len({s.email for s in cohort}) == size and len({s.name for s in cohort}) == size


def test_enrolment_dates_follow_the_persona() -> None:
    for s in COHORT:
        assert s.enrolled_at.tzinfo is not None and s.enrolled_at.second == 0  # the roster keeps minutes
        days = (s.enrolled_at - START) / dt.timedelta(days=1)
        if s.persona == "late_enroller":
            assert 14 - 1 / 1440 <= days <= 24
        else:
            assert -7 - 1 / 1440 <= days <= -1
        assert (s.drop_after is not None) == (s.persona == "dropout")
        assert s.withdrawn_at is None or s.persona == "dropout"
    assert {s.drop_after for s in of("dropout")} <= {2, 3, 4}


def test_planning_is_deterministic_for_a_seed() -> None:
    assert plan_cohort(COURSE, students=60, seed=11) == COHORT
    assert plan_submissions(COURSE, COHORT, seed=11, until=UNTIL) == PLAN
    assert plan_submissions(COURSE, COHORT, seed=12, until=UNTIL) != PLAN


def test_first_attempts_are_in_lesson_order_and_after_the_lesson_is_available() -> None:
    enrolled = {s.id: s.enrolled_at for s in COHORT}
    order = [lesson.id for lesson in COURSE.lessons]
    for student_id, plan in by_student(PLAN).items():
        firsts = first_attempts(plan)
        times = [firsts[lesson_id] for lesson_id in order if lesson_id in firsts]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert list(firsts) == order[: len(firsts)]  # no lesson skipped
        for p in plan:
            assert p.at > max(COURSE.lesson(p.lesson_id).opens_at, enrolled[student_id])
        for lesson_id in {p.lesson_id for p in plan}:
            attempts = [p for p in plan if p.lesson_id == lesson_id]
            assert [p.attempt for p in attempts] == list(range(1, len(attempts) + 1))


def test_timestamps_are_aware_utc_distinct_per_student_and_globally_ordered() -> None:
    assert [p.at for p in PLAN] == sorted(p.at for p in PLAN)
    for plan in by_student(PLAN).values():
        assert len({p.at for p in plan}) == len(plan)
        assert all(p.at.utcoffset() == dt.timedelta(0) for p in plan)


def test_nothing_after_until_and_a_shorter_run_is_a_prefix() -> None:
    until = COURSE.lessons[2].target_at
    short = plan_submissions(COURSE, COHORT, seed=11, until=until)
    assert short and max(p.at for p in short) <= until
    assert short == [p for p in PLAN if p.at <= until]


def test_dropouts_stop_after_their_lesson_and_withdraw_a_week_or_so_later() -> None:
    plans = by_student(PLAN)
    withdrawn = 0
    for s in of("dropout"):
        lessons = {p.lesson_id for p in plans[s.id]}
        assert lessons == {lesson.id for lesson in COURSE.lessons[: s.drop_after]}
        if s.withdrawn_at is not None:
            withdrawn += 1
            gap = (s.withdrawn_at - max(p.at for p in plans[s.id])) / dt.timedelta(days=1)
            assert 7 - 1 / 1440 <= gap <= 12.5
    assert withdrawn >= 1


def test_late_enrollers_start_late_and_catch_up_a_lesson_every_few_days() -> None:
    plans = by_student(PLAN)
    for s in of("late_enroller"):
        firsts = list(first_attempts(plans[s.id]).values())
        assert firsts[0] > s.enrolled_at >= START + dt.timedelta(days=14)
        assert firsts[0] > COURSE.lessons[0].target_at  # the first lesson is late
        gaps = [(b - a) / dt.timedelta(days=1) for a, b in zip(firsts, firsts[1:])]
        assert all(gap >= 1 for gap in gaps[:2])


def test_pacing_habits() -> None:
    plans = by_student(PLAN)
    day = dt.timedelta(days=1)
    for s in of("early"):
        for lesson_id, at in first_attempts(plans[s.id]).items():
            assert 0.5 * day <= at - COURSE.lesson(lesson_id).opens_at <= 3 * day + dt.timedelta(hours=3)
        assert all(p.attempt <= 2 for p in plans[s.id])
    for s in of("steady"):
        for lesson_id, at in first_attempts(plans[s.id]).items():
            assert -2.5 * day <= at - COURSE.lesson(lesson_id).target_at < dt.timedelta(0)
    for s in of("crammer"):
        for lesson_id, at in first_attempts(plans[s.id]).items():
            assert at.astimezone(BERLIN).hour in (22, 23, 0, 1, 2, 3)
            assert at - COURSE.lesson(lesson_id).target_at <= 2.5 * day
    for s in of("struggler"):
        for lesson in COURSE.lessons:
            attempts = [p for p in plans[s.id] if p.lesson_id == lesson.id]
            assert 2 <= len(attempts) <= 4
            assert attempts[0].quality in ("error", "partial", "blank") and attempts[-1].quality in ("correct", "partial")
            assert all(b.at - a.at >= dt.timedelta(hours=2) for a, b in zip(attempts, attempts[1:]))


def test_a_cohort_needs_a_student() -> None:
    with pytest.raises(PacelineError, match="at least 1 student"):
        plan_cohort(COURSE, students=0, seed=1)


def test_refuses_a_course_with_real_students_before_writing_anything(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    roster = course.roster_path.read_text()
    with pytest.raises(PacelineError, match=r"students.csv lists real students \(ada, brook, cyd: emails not at "
                                            r"students.example.edu\): a simulation .* never runs in a real one"):
        run_simulation(course, students=6)
    assert course.roster_path.read_text() == roster and not course.layout.sim_dir.exists()
    assert not course.layout.ledger_path.exists() and not course.layout.exchange.root.exists()


def test_refuses_unreleased_lessons_and_an_earlier_simulation_before_writing_anything(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course.roster_path.unlink()  # a course without real students
    with pytest.raises(PacelineError, match=r"not released yet: 01-add, 02-words \(run `paceline release` first\)"):
        run_simulation(course, students=6)
    assert not course.roster_path.exists() and not (course.layout.sim_dir).exists()
    (course.layout.sim_dir / "s001").mkdir(parents=True)
    with pytest.raises(PacelineError, match=r"already simulated \(.*s001 exists\): .* delete what the last one made") as refused:
        run_simulation(course, students=6)
    assert "make " not in str(refused.value)  # a course folder has no Makefile: only paceline's own commands
    assert not course.roster_path.exists()


def test_simulated_students_are_recognised_by_their_reserved_email_domain() -> None:
    assert all(is_simulated(s.as_student()) for s in COHORT)
    assert all(s.email.endswith("@students.example.edu") for s in COHORT)
    real = Student("ada", "Ada Lovelace", "ada@example.org", START)
    assert not is_simulated(real)


# Answers: text transformations, then executed against the released lesson.

def test_broken_answer_plants_a_name_error_at_the_solution_indentation() -> None:
    inside = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION'
    assert broken_answer(inside) == f'def f(x):\n    """Doc."""\n    {BUG_LINE}\n    return x'
    assert correct_answer(inside) == 'def f(x):\n    """Doc."""\n    return x'
    assert broken_answer("### BEGIN SOLUTION\ny = 2\n### END SOLUTION") == f"{BUG_LINE}\ny = 2"
    assert broken_answer("y = 2") == f"{BUG_LINE}\ny = 2"


def test_partial_mixes_right_and_wrong_cells() -> None:
    keys = tuple(AnswerKey("nb.ipynb", f"q{k}", "code", "x = 1") for k in range(3))
    for seed in range(50):
        cells = cell_qualities(keys, "partial", rng=np.random.default_rng(seed))
        assert "correct" in cells.values() and set(cells.values()) - {"correct"}


@pytest.fixture(scope="module")
def released_course(tmp_path_factory: pytest.TempPathFactory) -> CourseConfig:
    root = tmp_path_factory.mktemp("sim") / "course"
    shutil.copytree(FIXTURE, root)
    (root / "students.csv").unlink()  # simulate runs only where there are no real students
    course = load_course(root)
    release_lessons(course)
    return course


def run_tests(notebook: Path) -> dict[str, str | None]:
    """Execute a notebook as the autograder would; the error name raised by each test cell (None = passed)."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=20, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    outcome = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            errors = [o.ename for o in cell.get("outputs", []) if o.output_type == "error"]
            outcome[meta["grade_id"]] = errors[0] if errors else None
    return outcome


@pytest.mark.e2e
@pytest.mark.parametrize(("lesson_id", "quality", "expected"), [
    ("01-add", "correct", None),
    ("01-add", "error", "NameError"),
    ("01-add", "blank", "NotImplementedError"),
    ("02-words", "correct", None),
])
def test_answers_executed_give_the_expected_test_outcomes(
    released_course: CourseConfig, tmp_path: Path, lesson_id: str, quality: str, expected: str | None,
) -> None:
    lesson_dir = tmp_path / lesson_id
    shutil.copytree(released_course.layout.release_dir / lesson_id, lesson_dir)
    keys = load_answer_keys(released_course, released_course.lesson(lesson_id))
    stubs = read_answers(lesson_dir, keys)
    cells = answer_attempt(lesson_dir, keys, quality, stubs=stubs, rng=np.random.default_rng(0))
    assert set(cells.values()) == {quality}
    outcome = run_tests(next(lesson_dir.glob("*.ipynb")))
    assert outcome and set(outcome.values()) == {expected}


# End to end: the simulated cohort through the exchange, collect and autograde.

@pytest.mark.e2e
def test_simulated_cohort_submits_through_the_exchange_and_is_graded(released_course: CourseConfig) -> None:
    course = released_course
    report = run_simulation(course, students=8, seed=7)

    made = {(s.planned.student_id, s.planned.lesson_id, s.planned.attempt): s for s in report.submissions}
    assert report.students == 8 and set(report.personas) == set(PERSONAS)
    assert report.problems == () and report.attempts_collected == len(made) > 8
    assert report.until == course.lessons[-1].due_at + dt.timedelta(days=7)
    assert all(s.planned.at <= report.until for s in report.submissions)
    inbound = sorted(p.name for p in course.layout.exchange.inbound.iterdir())
    assert len(inbound) == len(made) and all(name.startswith("s00") for name in inbound)

    roster = load_roster(course.roster_path, timezone=course.timezone)
    assert len(roster) == 8 and all(is_simulated(s) for s in roster)
    with open(course.layout.sim_dir / "cohort.csv", newline="") as fh:
        truth = list(csv.DictReader(fh))
    assert [row["student_id"] for row in truth] == [s.id for s in roster]
    assert {row["persona"] for row in truth} == set(PERSONAS)

    with Ledger.open(course.layout.ledger_path) as ledger:
        attempts = ledger.attempts()
    assert {(a.student_id, a.lesson_id, a.attempt) for a in attempts} == set(made)
    for a in attempts:
        assert a.claimed_at == made[(a.student_id, a.lesson_id, a.attempt)].planned.at
        assert dt.timedelta(0) < a.received_at - a.claimed_at <= dt.timedelta(minutes=5)

    with pytest.raises(PacelineError, match="already simulated"):
        run_simulation(course, students=8, seed=7)

    graded = grade_attempts(course)
    assert graded.problems == [] and len(graded.graded) == len(made)
    seen = set()
    with Ledger.open(course.layout.ledger_path) as ledger:
        for a in ledger.attempts():
            code = {q for (nb, gid), q in made[(a.student_id, a.lesson_id, a.attempt)].cells.items() if gid != "explain_split"}
            tests = [c for c in ledger.cell_scores(a.id) if c.grade_id.startswith("test_")]
            # Each fixture notebook has one code answer, which every test cell checks.
            if code == {"correct"}:
                assert all(c.score == c.max_score for c in tests), a
            else:
                assert all(c.score == 0 for c in tests), a
            seen |= code
    assert {"correct", "error"} <= seen
