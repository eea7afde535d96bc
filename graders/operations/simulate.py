"""A simulated cohort that works through the course the way real students do.

Planning is pure: :func:`plan_cohort` makes up students with pacing habits
(personas) and :func:`plan_submissions` turns them into timed, graded-by-
quality submissions, both reproducible from a seed. :func:`run_simulation`
then plays the plan through the real student exchange (fetch, edit, submit
from each student's own home folder) and collects as ``paceline watch``
would, all on one :class:`SimulatedClock`, so nbgrader's timestamps and
paceline's receipt times are the simulated ones. Nothing is written to the
gradebook or ledger except by collect itself.

A simulation never runs in a real course: simulated students are the ones
with an email address at ``students.example.edu`` (``example.edu`` is
reserved for examples, RFC 2606, so no real student has one), and
:func:`run_simulation` refuses, before writing anything, a course whose
roster lists anyone else. To try a real course, simulate in a copy of its
folder without the roster.
"""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from analytics.personas import PERSONA_WEIGHTS, PERSONAS, Persona
from analytics.progress import Progress, Silent

from ..course.clock import SimulatedClock
from ..course.plan import CourseConfig, LessonPlan
from ..course.roster import Student, load_roster, write_roster
from ..errors import ExchangeError, PacelineError
from ..exchange.collect import CollectReport, collect_submissions
from ..exchange.student import StudentWorkspace, fetch_lesson, submit_lesson
from .answers import AnswerKey, AnswerQuality, AnswerRef, CellQuality, answer_attempt, load_answer_keys, read_answers

POLL_MINUTES = 5  # how often the simulated `paceline watch` collects
SIM_EMAIL_DOMAIN = "students.example.edu"  # every simulated student's, and no real student's

UTC = dt.timezone.utc
_DAY = dt.timedelta(days=1)
_HOUR = dt.timedelta(hours=1)
_MINUTE = dt.timedelta(minutes=1)

# Made-up names from many places, as a real intake has; emails drop the accents.
FIRST_NAMES = tuple("""Amara Ben Chiara Dmitri Elif Femi Greta Hiro Ines Jonas Kavya Lars Mei Nikolai Olga Pablo Qi
    Rosa Samir Tess Umar Vera Wanjiru Xavier Yara Zeynep Aiko Bruno Chloé Darius Emeka Freya Gabriel Hana Ivan Jana
    Kofi Lena Mateo Noor""".split())
LAST_NAMES = tuple("""Achterberg Bianchi Costa Dubois Eriksen Fischer García Haddad Ivanova Jansen Kowalski Lindqvist
    Mensah Nakamura Okafor Petrov Quinn Rossi Schmidt Tanaka Usman Varga Weber Xu Yilmaz Zhang Andersen Becker Novak
    Moreau Sato Horvath Kaya Meyer Nowak Silva Fernández Khan Wagner Öztürk""".split())


@dataclass(frozen=True)
class SimStudent:
    """A made-up student: a roster row plus the habits that drive their plan."""

    id: str
    name: str
    email: str
    persona: Persona
    enrolled_at: dt.datetime
    withdrawn_at: dt.datetime | None
    drop_after: int | None  # dropouts submit lessons 1..drop_after, then stop

    def as_student(self) -> Student:
        return Student(self.id, self.name, self.email, self.enrolled_at, self.withdrawn_at)


@dataclass(frozen=True)
class PlannedSubmission:
    student_id: str
    lesson_id: str
    attempt: int  # 1-based, per student and lesson, in time order
    at: dt.datetime  # aware UTC, distinct per student
    quality: AnswerQuality


@dataclass(frozen=True)
class SimulatedSubmission:
    """A planned submission as made: nbgrader's timestamp and what each answer cell got."""

    planned: PlannedSubmission
    timestamp: str
    cells: Mapping[AnswerRef, CellQuality]


@dataclass(frozen=True)
class SimulationReport:
    students: int
    submissions: tuple[SimulatedSubmission, ...]
    attempts_collected: int
    personas: dict[str, int]
    until: dt.datetime
    problems: tuple[PacelineError, ...] = ()  # what collect could not take (none expected)
    locked: int = 0  # planned submissions skipped: the lesson was gated and still locked


def sim_dir(course: CourseConfig) -> Path:
    return course.layout.sim_dir


def default_until(course: CourseConfig) -> dt.datetime:
    """A week after the last deadline: late work and stragglers are in."""
    return max(lesson.due_at or lesson.target_at for lesson in course.lessons) + 7 * _DAY


def plan_cohort(course: CourseConfig, *, students: int, seed: int) -> list[SimStudent]:
    """``students`` made-up students, ids ``s001``..., at least one of each persona when there are six or more."""
    if students < 1:
        raise PacelineError(f"a simulated cohort needs at least 1 student, not {students}")
    rng = np.random.default_rng(seed)
    personas: list[Persona] = list(PERSONAS[:students])
    if students > len(PERSONAS):
        extra = rng.choice(len(PERSONAS), size=students - len(PERSONAS), p=PERSONA_WEIGHTS)
        personas += [PERSONAS[i] for i in extra]
    rng.shuffle(personas)  # so that ids do not give personas away

    start = course.lessons[0].opens_at
    width = max(3, len(str(students)))
    cohort: list[SimStudent] = []
    for number, (persona, (name, email)) in enumerate(zip(personas, _names(rng, students)), start=1):
        if persona == "late_enroller":
            enrolled = start + _DAY * rng.uniform(14, 24)
        else:
            enrolled = start - _DAY * rng.uniform(1, 7)
        drop_after = withdrawn = None
        if persona == "dropout":
            # Keep at least one lesson unsubmitted, or a short course would hide the dropout.
            drop_after = max(1, min(int(rng.choice([2, 3, 4])), len(course.lessons) - 1))
            if rng.random() < 0.5:
                # A steady student has submitted by the target: this is 7-10 days after their last work.
                withdrawn = _to_minute(course.lessons[drop_after - 1].target_at + _DAY * rng.uniform(7, 10))
        cohort.append(SimStudent(
            id=f"s{number:0{width}d}", name=name, email=email, persona=persona,
            enrolled_at=_to_minute(enrolled), withdrawn_at=withdrawn, drop_after=drop_after,
        ))
    return cohort


def plan_submissions(
    course: CourseConfig, cohort: list[SimStudent], *, seed: int, until: dt.datetime,
) -> list[PlannedSubmission]:
    """Every submission the cohort makes up to ``until``, in time order."""
    if until.tzinfo is None:
        raise PacelineError(f"until {until} has no time zone")
    planned: list[PlannedSubmission] = []
    for student in cohort:
        # One stream per student, so a student's plan does not depend on who else is simulated.
        rng = np.random.default_rng([seed, zlib.crc32(student.id.encode())])
        planned += _student_plan(course, student, rng=rng, until=until)
    return sorted(planned, key=lambda p: (p.at, p.student_id))


def run_simulation(
    course: CourseConfig,
    *,
    students: int,
    seed: int = 7,
    until: dt.datetime | None = None,
    progress: Progress = Silent(),
) -> SimulationReport:
    """Enrol a simulated cohort and play its submissions through the exchange up to ``until``.

    Writes the new students into the roster (keeping existing rows), the
    ground truth to ``.paceline/sim/cohort.csv`` and one home folder per
    student under ``.paceline/sim/``. Refuses, writing nothing, a course whose
    roster holds real students (:func:`is_simulated`) and an earlier simulation.
    """
    until = default_until(course) if until is None else until
    cohort = plan_cohort(course, students=students, seed=seed)
    existing = load_roster(course.roster_path, timezone=course.timezone) if course.roster_path.exists() else ()
    _refuse_real_students(course, existing)
    _refuse_to_resimulate(course, cohort, existing)
    plan = plan_submissions(course, cohort, seed=seed, until=until)
    keys = {lesson.id: load_answer_keys(course, lesson) for lesson in course.lessons}
    _refuse_unreleased(course, {p.lesson_id for p in plan})

    write_roster(course.roster_path, [*existing, *(s.as_student() for s in cohort)], timezone=course.timezone)
    _write_cohort(sim_dir(course) / "cohort.csv", cohort)
    workspaces: dict[str, StudentWorkspace] = {}
    for student in cohort:
        home = sim_dir(course) / student.id
        home.mkdir(parents=True)
        workspaces[student.id] = StudentWorkspace(student.id, home, course.id, course.exchange_root)

    clock = SimulatedClock(plan[0].at if plan else until)
    stubs: dict[tuple[str, str], dict[AnswerRef, str]] = {}
    made: list[SimulatedSubmission] = []
    collections: list[CollectReport] = []
    poll: dt.datetime | None = None  # when the watcher next collects, if anything waits
    locked = 0
    for planned in progress.track(plan, description="Simulating"):
        if poll is not None and poll <= planned.at:
            collections.append(_collect_at(course, poll, clock=clock))
            poll = None
        clock.advance_to(planned.at)
        try:
            made.append(_submit(workspaces[planned.student_id], planned, keys[planned.lesson_id], stubs, clock=clock, seed=seed))
        except ExchangeError:
            # A gated lesson stays locked here: the simulation does not grade while it plays.
            locked += 1
            continue
        poll = poll or _next_poll(planned.at)
    if poll is not None:
        collections.append(_collect_at(course, poll, clock=clock))
    counts = Counter(s.persona for s in cohort)
    return SimulationReport(
        students=len(cohort),
        submissions=tuple(made),
        attempts_collected=sum(len(c.collected) for c in collections),
        personas={p: n for p in PERSONAS if (n := counts[p])},
        until=until,
        problems=tuple(problem for c in collections for problem in c.problems),
        locked=locked,
    )


def _submit(
    ws: StudentWorkspace, planned: PlannedSubmission, keys: tuple[AnswerKey, ...],
    stubs: dict[tuple[str, str], dict[AnswerRef, str]], *, clock: SimulatedClock, seed: int,
) -> SimulatedSubmission:
    """Fetch on first touch, answer in the student's own copy, submit as the Assignments panel does."""
    lesson_dir = ws.lesson_dir(planned.lesson_id)
    touch = (planned.student_id, planned.lesson_id)
    if touch not in stubs:
        fetch_lesson(ws, planned.lesson_id)
        stubs[touch] = read_answers(lesson_dir, keys)
    # Seeded per attempt, so which cells a partial attempt gets right does not depend on run order.
    rng = np.random.default_rng([seed, zlib.crc32(f"{planned.student_id}/{planned.lesson_id}/{planned.attempt}".encode())])
    cells = answer_attempt(lesson_dir, keys, planned.quality, stubs=stubs[touch], rng=rng)
    timestamp = submit_lesson(ws, planned.lesson_id, clock=clock)
    return SimulatedSubmission(planned, timestamp, cells)


def _collect_at(course: CourseConfig, when: dt.datetime, *, clock: SimulatedClock) -> CollectReport:
    clock.advance_to(when)
    return collect_submissions(course, clock=clock)


def _next_poll(after: dt.datetime) -> dt.datetime:
    """The watcher's next run after ``after``: receipt times trail claims by at most a poll period."""
    period = POLL_MINUTES * 60
    return dt.datetime.fromtimestamp((int(after.timestamp()) // period + 1) * period, tz=UTC)


def is_simulated(student: Student) -> bool:
    """Whether a roster row is a simulated student (simulate gives them an address no real student has)."""
    return student.email.lower().endswith(f"@{SIM_EMAIL_DOMAIN}")


def _refuse_real_students(course: CourseConfig, existing: tuple[Student, ...]) -> None:
    real = [s.id for s in existing if not is_simulated(s)]
    if real:
        shown = ", ".join(real[:3]) + (f" and {len(real) - 3} more" if len(real) > 3 else "")
        raise PacelineError(
            f"{course.roster_path.name} lists real students ({shown}: emails not at {SIM_EMAIL_DOMAIN}): a simulation "
            f"submits, collects and grades in the course it runs in, so it never runs in a real one. To try this "
            f"course, copy its folder, delete the copy's {course.roster_path.name} and simulate there")


def _refuse_to_resimulate(course: CourseConfig, cohort: list[SimStudent], existing: tuple[Student, ...]) -> None:
    enrolled = {s.id for s in existing}
    for student in cohort:
        if student.id in enrolled:
            found = f"student {student.id} is already in {course.roster_path.name}"
        elif (sim_dir(course) / student.id).exists():
            found = f"{sim_dir(course) / student.id} exists"
        else:
            continue
        raise PacelineError(
            f"already simulated ({found}): a cohort is simulated once per course folder. To simulate again, "
            f"delete what the last one made: {course.roster_path.name}, .paceline/, submitted/.attempts/, "
            f"autograded/, feedback/, gradebook.db and exports/ (none of it is real student data here), then "
            f"run paceline release again"
        )


def _refuse_unreleased(course: CourseConfig, lesson_ids: set[str]) -> None:
    exchange = course.layout.exchange
    gated = {lesson.id for lesson in course.lessons if lesson.requires}
    missing = sorted(lesson_id for lesson_id in lesson_ids
                     if not (course.layout.lesson_release(lesson_id) if lesson_id in gated else exchange.released(lesson_id)).is_dir())
    if missing:
        raise PacelineError(f"lesson(s) not released yet: {', '.join(missing)} (run `paceline release` first)")


def _write_cohort(path: Path, cohort: list[SimStudent]) -> None:
    """Ground truth for checking analytics: who was meant to be a dropout, a crammer, ..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "persona", "drop_after"])
        for s in cohort:
            writer.writerow([s.id, s.persona, "" if s.drop_after is None else s.drop_after])


def _student_plan(
    course: CourseConfig, student: SimStudent, *, rng: np.random.Generator, until: dt.datetime,
) -> list[PlannedSubmission]:
    lessons = course.lessons[: student.drop_after] if student.drop_after is not None else course.lessons
    if student.persona == "crammer":
        firsts = _crammer_firsts(lessons, student, tz=course.timezone, rng=rng)
    else:
        firsts = _paced_firsts(lessons, student, tz=course.timezone, rng=rng)
    events: list[tuple[dt.datetime, str, int, AnswerQuality]] = []
    for lesson, first in firsts:
        for attempt, (offset, quality) in enumerate(_attempts(student.persona, rng), start=1):
            at = first + offset
            if student.persona not in ("crammer", "struggler"):  # the night owls
                at = _awake(at, tz=course.timezone, rng=rng)
            # Seconds and microseconds of jitter: nbgrader names cache folders by timestamp.
            at += dt.timedelta(seconds=rng.uniform(0, 60))
            events.append((at, lesson.id, attempt, quality))
    events.sort()
    planned: list[PlannedSubmission] = []
    previous: dt.datetime | None = None
    for at, lesson_id, attempt, quality in events:
        if previous is not None and at <= previous:
            at = previous + dt.timedelta(seconds=1)
        previous = at
        if at > until or (student.withdrawn_at is not None and at >= student.withdrawn_at):
            break  # everything after is later still
        planned.append(PlannedSubmission(student.id, lesson_id, attempt, at, quality))
    return planned


def _paced_firsts(
    lessons: tuple[LessonPlan, ...], student: SimStudent, *, tz: ZoneInfo, rng: np.random.Generator,
) -> list[tuple[LessonPlan, dt.datetime]]:
    """First attempts of everyone but crammers: one lesson after another, in waking hours."""
    firsts: list[tuple[LessonPlan, dt.datetime]] = []
    previous: dt.datetime | None = None
    for lesson in lessons:
        ready = max(lesson.opens_at, student.enrolled_at)
        match student.persona:
            case "early":
                at = ready + _DAY * rng.uniform(0.5, 3)
            case "steady" | "dropout":
                at = lesson.target_at - _DAY * rng.uniform(0.01, 2.5)  # a margin, so jitter never makes it late
            case "struggler":
                at = lesson.target_at + _DAY * rng.uniform(-1.5, 3)  # late two times in three
            case _:  # late_enroller: catching up, a lesson every 1-3 days
                at = ready + _DAY * rng.uniform(0.3, 1.5)
                if previous is not None:
                    at = max(at, previous + _DAY * rng.uniform(1, 3))
        at = _awake(at, tz=tz, rng=rng)
        at = max(at, ready + _MINUTE * rng.uniform(10, 180))
        if previous is not None:
            at = max(at, previous + _HOUR * rng.uniform(1, 8))
        firsts.append((lesson, at))
        previous = at
    return firsts


def _crammer_firsts(
    lessons: tuple[LessonPlan, ...], student: SimStudent, *, tz: ZoneInfo, rng: np.random.Generator,
) -> list[tuple[LessonPlan, dt.datetime]]:
    """Night sessions near a target; a session goes on to the next lessons if they are already open."""
    firsts: list[tuple[LessonPlan, dt.datetime]] = []
    index = 0
    while index < len(lessons):
        lesson = lessons[index]
        ready = max(lesson.opens_at, student.enrolled_at)
        night = _night_start(lesson.target_at + _HOUR * rng.uniform(-36, 48), tz=tz, rng=rng)
        while night <= ready or (firsts and night <= firsts[-1][1]):
            night += _DAY
        at = night
        firsts.append((lesson, at))
        index += 1
        burst = 1
        while (
            index < len(lessons) and burst < 3
            and max(lessons[index].opens_at, student.enrolled_at) < at and rng.random() < 0.6
        ):
            at += _MINUTE * rng.uniform(20, 45)
            firsts.append((lessons[index], at))
            index += 1
            burst += 1
    return firsts


def _attempts(persona: Persona, rng: np.random.Generator) -> list[tuple[dt.timedelta, AnswerQuality]]:
    """(time after the first attempt, quality) of each attempt at one lesson."""
    zero = dt.timedelta(0)
    match persona:
        case "early":
            first: AnswerQuality = "correct" if rng.random() < 0.85 else "partial"
            if first == "partial" or rng.random() < 0.1:
                return [(zero, first), (_HOUR * rng.uniform(2, 24), "correct")]
            return [(zero, first)]
        case "crammer":
            first = _pick(rng, {"correct": 0.5, "partial": 0.35, "error": 0.1, "blank": 0.05})
            if first != "correct" and rng.random() < 0.5:  # a second go the same night
                return [(zero, first), (_MINUTE * rng.uniform(20, 90), _pick(rng, {"correct": 0.6, "partial": 0.4}))]
            return [(zero, first)]
        case "struggler":
            count = int(rng.integers(2, 5))
            qualities = [_pick(rng, {"error": 0.5, "partial": 0.3, "blank": 0.2})]
            qualities += ["partial"] * (count - 2)
            qualities.append(_pick(rng, {"correct": 0.7, "partial": 0.3}))
            offsets = np.cumsum(np.concatenate([[0.0], rng.uniform(2, 20, size=count - 1)]))
            return [(_HOUR * float(h), q) for h, q in zip(offsets, qualities)]
        case _:  # steady, dropout, late_enroller
            first = _pick(rng, {"correct": 0.65, "partial": 0.28, "error": 0.07})
            if first != "correct" and rng.random() < 0.75:
                return [(zero, first), (_HOUR * rng.uniform(3, 48), _pick(rng, {"correct": 0.8, "partial": 0.2}))]
            return [(zero, first)]


def _pick(rng: np.random.Generator, weights: dict[AnswerQuality, float]) -> AnswerQuality:
    names = list(weights)
    return names[int(rng.choice(len(names), p=list(weights.values())))]


def _awake(at: dt.datetime, *, tz: ZoneInfo, rng: np.random.Generator) -> dt.datetime:
    """Move a time between midnight and 08:00 local to that morning: most students sleep."""
    local = at.astimezone(tz)
    if local.hour >= 8:
        return at
    morning = dt.datetime.combine(local.date(), dt.time(8), tzinfo=tz).astimezone(UTC)
    return morning + _HOUR * rng.uniform(0, 3)


def _night_start(near: dt.datetime, *, tz: ZoneInfo, rng: np.random.Generator) -> dt.datetime:
    """A start between 22:00 and 01:30 local on the night ``near`` falls in (or the evening before it)."""
    local = near.astimezone(tz)
    evening = local.date() if local.hour >= 12 else local.date() - _DAY
    # Until 01:30 so that a three-lesson burst still ends around 03:00.
    return dt.datetime.combine(evening, dt.time(22), tzinfo=tz).astimezone(UTC) + _HOUR * rng.uniform(0, 3.5)


def _to_minute(at: dt.datetime) -> dt.datetime:
    """The roster stores minutes: plan with what it will read back."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def _names(rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    """Distinct made-up (name, email) pairs."""
    pairs = len(FIRST_NAMES) * len(LAST_NAMES)
    picks = rng.choice(pairs, size=min(count, pairs), replace=False).tolist()
    picks += rng.integers(pairs, size=count - len(picks)).tolist()
    out: list[tuple[str, str]] = []
    for number, pick in enumerate(picks):
        first, last = FIRST_NAMES[pick // len(LAST_NAMES)], LAST_NAMES[pick % len(LAST_NAMES)]
        local = f"{_ascii(first)}.{_ascii(last)}" + (f"{number}" if number >= pairs else "")
        out.append((f"{first} {last}", f"{local}@{SIM_EMAIL_DOMAIN}"))
    return out


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
