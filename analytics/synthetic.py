"""A synthetic but plausible course log with known personas, generated with numpy in one pass.

Used by the tests, the report demo and the benchmark (50 000 students x 20
lessons is about a million attempts in a few seconds). Students follow the
personas of the demo's simulated cohort (:mod:`analytics.personas`), so tests
can check that the analysis finds who was meant to struggle or drop out:

- ``early``: starts each lesson soon after it opens, rarely needs a retry;
- ``steady``: submits in the days before each target;
- ``crammer``: submits around the target, often just after it;
- ``struggler``: around the target and often late; first attempts mostly
  fail, and they try again (up to four attempts) until they pass;
- ``dropout``: steady until ``drop_after`` lessons, then stops; half of them
  withdraw 7-10 days after their last target;
- ``late_enroller``: enrols two to three weeks after the start and catches up
  a lesson every one to three days (or, with personal timelines, follows a
  timeline shifted to their enrolment).

Everyone else retries a failed attempt most of the time, and now and then
polishes a passed one. Lessons open weekly with the target six days after
opening and the due date 14 days after the target (none for the last
lesson). Each lesson has three to five all-or-nothing test cells of varying
difficulty; an attempt's score is the sum of its cells, so ``cell_scores``
and ``submissions`` agree. About 1% of attempts fail to grade and 1% are not
graded yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import typed
from .personas import PERSONA_WEIGHTS, PERSONAS
from .tables import STR, Column, CourseTables, validate_tables

PERSONA_DTYPE = pd.CategoricalDtype(PERSONAS)

PERSONA_COLUMNS: tuple[Column, ...] = (
    Column("student_id", STR, "The student (as in enrollments)."),
    Column("persona", "category", f"The habit the student was generated with: {', '.join(PERSONAS)}."),
    Column("drop_after", "Int64", "For a dropout, how many lessons they submit before stopping; null otherwise."),
)

# Logit of passing a test cell of difficulty 0 on the first attempt, and the gain per further attempt.
_SKILL = {"early": 2.6, "steady": 1.8, "crammer": 1.2, "struggler": -1.6, "dropout": 1.6, "late_enroller": 1.8}
_RETRY_GAIN, _STRUGGLER_GAIN = 0.9, 1.2
# Chance of another attempt after one that did not pass, by persona (in PERSONAS order).
_RETRY = np.array([0.95, 0.85, 0.6, 0.95, 0.8, 0.85])
_MAX_ATTEMPTS = 4
_CELL_POINTS = np.array([1.0, 2.0, 3.0])
_HOUR = 1 / 24


@dataclass(frozen=True)
class SyntheticCourse:
    """Tables plus the ground truth they were generated from."""

    tables: CourseTables
    personas: pd.DataFrame


def synthetic_tables(*, students: int, lessons: int, seed: int, start: dt.datetime) -> CourseTables:
    """The tables of :func:`synthetic_course` without personal timelines."""
    return synthetic_course(students=students, lessons=lessons, seed=seed, start=start).tables


def synthetic_course(*, students: int, lessons: int, seed: int, start: dt.datetime,
                     personal_timelines: bool = False) -> SyntheticCourse:
    """A validated course log for ``students`` x ``lessons``, reproducible from ``seed``.

    ``start`` (timezone-aware) is when the first lesson opens. From six
    students on, every persona is present. With ``personal_timelines`` the
    tables include ``timelines``: every student's dates shifted to their
    enrolment (if later than the start), and a one-week extension on one
    lesson for a third of the strugglers; students then work to those dates.
    """
    if students < 0 or lessons < 1:
        raise ValueError("need students >= 0 and lessons >= 1")
    origin = pd.Timestamp(start)
    if origin.tz is None:
        raise ValueError(f"start {start} has no time zone")
    origin = origin.tz_convert("UTC").as_unit("ns")
    rng = np.random.default_rng(seed)

    opens = np.arange(lessons) * 7.0  # days from start, as are all times below until the end
    target = opens + 6.0
    due = np.where(np.arange(lessons) == lessons - 1, np.nan, target + 14.0)
    lesson_ids = np.array([f"L{k:0{max(2, len(str(lessons)))}d}" for k in range(1, lessons + 1)])
    student_ids = np.array([f"s{k:0{max(3, len(str(students)))}d}" for k in range(1, students + 1)])

    persona = _assign_personas(rng, students)
    code = {name: persona == index for index, name in enumerate(PERSONAS)}
    enrolled = np.where(code["late_enroller"], rng.uniform(14.0, 24.0, students), -rng.uniform(1.0, 7.0, students))
    drop_after = np.where(code["dropout"], np.clip(rng.integers(2, max(3, int(np.ceil(0.7 * lessons))), students),
                                                   1, max(1, lessons - 1)), lessons)
    quits = code["dropout"] & (rng.random(students) < 0.5)

    # Each student's own dates: the lesson's, or with timelines shifted to their enrolment plus extensions.
    shift = np.zeros(students)
    extension = np.zeros((students, lessons))
    if personal_timelines:
        shift = np.maximum(0.0, enrolled - opens[0])
        extended = code["struggler"] & (rng.random(students) < 1 / 3)
        extension[extended, rng.integers(0, lessons, students)[extended]] = 7.0
    my_opens = opens[None, :] + shift[:, None]
    my_target = target[None, :] + shift[:, None] + extension
    my_due = due[None, :] + shift[:, None] + extension
    last_target = my_target[np.arange(students), drop_after - 1]
    withdrawn = np.where(quits, last_target + rng.uniform(7.0, 10.0, students), np.nan)

    first = _first_submissions(rng, code, enrolled=enrolled, opens=my_opens, target=my_target,
                               catch_up=not personal_timelines)
    reached = (np.arange(lessons)[None, :] < drop_after[:, None]) & ~(first >= withdrawn[:, None])
    student_row, lesson_col = np.nonzero(reached)
    cells = _cells(rng, lessons)
    max_score = cells.groupby("lesson")["points"].sum().to_numpy()
    skill = np.array([_SKILL[name] for name in PERSONAS])[persona] + rng.normal(0.0, 0.4, students)
    log, cell_log = _attempts(rng, cells, persona=persona, skill=skill, student=student_row, lesson=lesson_col,
                              first=first[student_row, lesson_col], max_score=max_score)
    keep = ~(log["submitted"] >= withdrawn[log["student"]])  # a retry can come after a withdrawal
    cell_log = {key: values[keep[cell_log["row"]]] for key, values in cell_log.items()}
    cell_log["row"] = (np.cumsum(keep) - 1)[cell_log["row"]]
    log = {key: values[keep] for key, values in log.items()}
    who, which, attempt, submitted, status = log["student"], log["lesson"], log["attempt"], log["submitted"], log["status"]
    graded = status == "graded"
    score = log["score"]
    days_late = np.ceil(submitted - my_due[who, which])  # NaN where there is no due date
    penalty = np.where(days_late > 0, np.round(score * np.minimum(0.5, 0.1 * days_late), 2), 0.0)
    cell_rows = cell_log["row"]

    def times(values: np.ndarray) -> pd.Series:
        # Whole seconds, like a receipt log; NaN days become NaT.
        return pd.Series(origin + pd.to_timedelta(np.round(np.ravel(values) * 86_400), unit="s"))

    tables = CourseTables(
        lessons=pd.DataFrame({
            "lesson_id": lesson_ids,
            "title": [f"Lesson {k}" for k in range(1, lessons + 1)],
            "order": np.arange(1, lessons + 1),
            "opens_at": times(opens),
            "target_at": times(target),
            "due_at": times(due),
            "max_score": max_score,
        }),
        enrollments=pd.DataFrame({
            "student_id": student_ids,
            "enrolled_at": times(enrolled),
            "withdrawn_at": times(withdrawn),
        }),
        submissions=pd.DataFrame({
            "student_id": student_ids[who],
            "lesson_id": lesson_ids[which],
            "attempt": attempt,
            "submitted_at": times(submitted),
            "score": np.where(graded, score, np.nan),
            "max_score": max_score[which],
            "late_penalty": np.where(graded, penalty, np.nan),
            "graded_at": times(np.where(graded, submitted + rng.uniform(0.02, 2.0, size=len(submitted)), np.nan)),
            "status": status,
        }),
        cell_scores=pd.DataFrame({
            "student_id": student_ids[who[cell_rows]],
            "lesson_id": lesson_ids[which[cell_rows]],
            "attempt": attempt[cell_rows],
            "notebook": "lesson",
            "grade_id": cells["grade_id"].to_numpy()[cell_log["cell"]],
            "score": cell_log["score"],
            "max_score": cells["points"].to_numpy()[cell_log["cell"]],
        }),
        timelines=pd.DataFrame({
            "student_id": np.repeat(student_ids, lessons),
            "lesson_id": np.tile(lesson_ids, students),
            "opens_at": times(my_opens),
            "target_at": times(my_target),
            "due_at": times(my_due),
        }) if personal_timelines else None,
    )
    truth = pd.DataFrame({
        "student_id": student_ids,
        "persona": pd.Categorical.from_codes(persona, dtype=PERSONA_DTYPE),
        "drop_after": pd.array(np.where(code["dropout"], drop_after, 0), dtype="Int64"),
    })
    truth["drop_after"] = truth["drop_after"].where(code["dropout"])
    return SyntheticCourse(tables=validate_tables(tables),
                           personas=typed(truth, PERSONA_COLUMNS, categories={"persona": PERSONA_DTYPE}))


def _assign_personas(rng: np.random.Generator, students: int) -> np.ndarray:
    """Persona codes: one of each first (when there are enough students), the rest by weight, shuffled."""
    fixed = np.arange(min(students, len(PERSONAS)))
    extra = rng.choice(len(PERSONAS), size=students - len(fixed), p=PERSONA_WEIGHTS)
    persona = np.concatenate([fixed, extra])
    rng.shuffle(persona)
    return persona


def _first_submissions(rng: np.random.Generator, code: dict[str, np.ndarray], *, enrolled: np.ndarray,
                       opens: np.ndarray, target: np.ndarray, catch_up: bool) -> np.ndarray:
    """Days of each student's first attempt at each lesson (students x lessons), in lesson order.

    A persona proposes a time c_k per lesson; work is sequential, so
    f_k = max(c_k, f_{k-1} + g_k), which unrolls to f_k = G_k + max_{j<=k}(c_j - G_j)
    with G the cumulative minimum gaps g.
    """
    shape = opens.shape
    ready = np.maximum(opens, enrolled[:, None])
    column = lambda mask: mask[:, None]  # noqa: E731 - a persona mask broadcast over lessons
    proposal = np.select(
        [column(code["early"]), column(code["steady"] | code["dropout"]), column(code["crammer"]),
         column(code["struggler"])],
        [ready + rng.uniform(0.5, 3.0, shape), target - rng.uniform(0.01, 2.5, shape),
         target + rng.uniform(-1.5, 2.0, shape), target + rng.uniform(-1.5, 3.0, shape)],
        default=(ready + rng.uniform(0.3, 1.5, shape)) if catch_up else (target - rng.uniform(0.01, 2.5, shape)),
    )
    proposal = np.maximum(proposal, ready + rng.uniform(10, 180, shape) / 1440)
    gaps = rng.uniform(1, 8, shape) * _HOUR
    if catch_up:
        gaps = np.where(column(code["late_enroller"]), rng.uniform(1.0, 3.0, shape), gaps)
    total = np.cumsum(gaps, axis=1)
    return total + np.maximum.accumulate(proposal - total, axis=1)


def _attempts(rng: np.random.Generator, cells: pd.DataFrame, *, persona: np.ndarray, skill: np.ndarray,
              student: np.ndarray, lesson: np.ndarray, first: np.ndarray,
              max_score: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every attempt at the reached student x lessons, and the cells of the graded ones.

    Attempt by attempt (at most ``_MAX_ATTEMPTS`` rounds, each vectorised over
    everyone still trying): grade it, then retry with the persona's probability
    if it did not pass (now and then also after a pass, to polish the score).
    """
    rounds: list[dict[str, np.ndarray]] = []
    cell_rounds: list[dict[str, np.ndarray]] = []
    pair = np.arange(len(student))
    at = first
    offset = 0
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        who = student[pair]
        outcome = rng.random(len(pair))
        status = np.where(outcome < 0.01, "failed", np.where(outcome < 0.02, "collected", "graded"))
        graded = status == "graded"
        gain = np.where(persona[who] == PERSONAS.index("struggler"), _STRUGGLER_GAIN, _RETRY_GAIN)
        scored, score = _score_cells(rng, cells, attempt_skill=skill[who] + gain * (attempt - 1),
                                     lesson=lesson[pair], graded=graded)
        rounds.append({"student": who, "lesson": lesson[pair], "attempt": np.full(len(pair), attempt),
                       "submitted": at, "status": status, "score": np.where(graded, score, np.nan)})
        cell_rounds.append({**scored, "row": offset + scored["row"]})
        offset += len(pair)
        passed = graded & (score >= 0.5 * max_score[lesson[pair]])
        retry = rng.random(len(pair)) < np.where(passed, 0.05, _RETRY[persona[who]])
        gap = np.select([persona[who] == PERSONAS.index("struggler"), persona[who] == PERSONAS.index("crammer")],
                        [rng.uniform(2, 20, len(pair)) * _HOUR, rng.uniform(20, 90, len(pair)) / 1440],
                        default=rng.uniform(3, 48, len(pair)) * _HOUR)
        pair, at = pair[retry], (at + gap)[retry]
    log = {key: np.concatenate([part[key] for part in rounds]) for key in rounds[0]}
    cell_log = {key: np.concatenate([part[key] for part in cell_rounds]) for key in cell_rounds[0]}
    return log, cell_log


def _cells(rng: np.random.Generator, lessons: int) -> pd.DataFrame:
    """The test cells: lesson (0-based), grade_id, points and difficulty (logit), in lesson order."""
    per_lesson = 3 + np.arange(lessons) % 3
    lesson = np.repeat(np.arange(lessons), per_lesson)
    index = np.arange(len(lesson)) - np.repeat(np.cumsum(per_lesson) - per_lesson, per_lesson)
    return pd.DataFrame({
        "lesson": lesson,
        "grade_id": [f"test_{k + 1}" for k in index],
        "points": _CELL_POINTS[(lesson + index) % len(_CELL_POINTS)],
        "difficulty": rng.normal(0.0, 0.8, len(lesson)),
    })


def _score_cells(rng: np.random.Generator, cells: pd.DataFrame, *, attempt_skill: np.ndarray, lesson: np.ndarray,
                 graded: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per graded attempt x cell: pass with probability sigmoid(skill - difficulty); and each attempt's total."""
    per_lesson = cells.groupby("lesson").size().to_numpy()
    first_cell = np.cumsum(per_lesson) - per_lesson
    graded_rows = np.flatnonzero(graded)
    counts = per_lesson[lesson[graded_rows]]
    row = np.repeat(graded_rows, counts)
    cell = np.repeat(first_cell[lesson[graded_rows]], counts) + (
        np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts))
    logit = attempt_skill[row] - cells["difficulty"].to_numpy()[cell]
    points = cells["points"].to_numpy()[cell]
    cell_score = np.where(rng.random(len(cell)) < 1 / (1 + np.exp(-logit)), points, 0.0)
    score = np.bincount(row, weights=cell_score, minlength=len(lesson))
    return {"row": row, "cell": cell, "score": cell_score}, score
