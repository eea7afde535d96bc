"""Authoring checks: is a lesson ready to release?

An instructor runs these before releasing. First the nbgrader metadata is read
(grade ids, points, solution and hidden-test markers: :mod:`.lint`), then each notebook runs
twice in a real kernel: the source version, where the instructor's solutions
must run and earn full marks on their own tests, and the student version built
by nbgrader's own ``ClearSolutions``, where every test must lose points (a test
that cannot fail grades nothing). Problems are collected, never raised, so one
run lists everything to fix across all lessons.

Problem codes are stable (the CLI and docs refer to them): ``invalid-notebook``,
``no-notebooks``, ``no-graded-cells``, ``missing-grade-id``, ``invalid-grade-id``,
``duplicate-grade-id``, ``no-points``, ``invalid-metadata``, ``unclosed-region``,
``solution-outside-solution-cell``, ``hidden-tests-outside-test-cell``,
``execution-error``, ``consequence-of-earlier-failure`` (later cells failing after
a cell that raised: reported once, not as a cascade of ``NameError``),
``solution-fails-tests``, ``student-version-failed``, ``student-version-does-not-compile``,
``student-version-error`` (a cell before the first answer fails only where the
published files are),
``test-passes-on-student-version``, ``instructor-only-file`` (a file of the lesson
folder other than its notebooks holds a solution or hidden-test marker: see
:mod:`graders.authoring.lesson_files`), ``data-not-fetched`` (a file of ``[[lessons]] data``
could not be fetched: :mod:`graders.authoring.lesson_data`; the lesson is not run).

Lessons run side by side, one per core (a lesson's two versions one after the other); the report
lists them in course order, as one at a time would.

Cells tagged ``raises-exception`` (nbclient's convention) are meant to raise: their
errors are not problems.

Notebooks run where grading runs them: in the course environment
(``[environment]``, :mod:`graders.course.environment`) and, when this host has
the grading sandbox, inside it with the lesson's ``[grading]`` limits and no
network, with ``NBGRADER_EXECUTION=autograde`` as nbgrader's autograder sets it.
A notebook whose kernelspec the environment does not provide is refused
(``kernel-not-in-environment``) with the sentence ``paceline grade`` refuses it with.

Warnings do not block a release (``paceline check`` still exits 0) but point
at tests a student can game: ``equality-only-test``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from nbformat import NotebookNode

from analytics.progress import Progress, Silent

from ..course.nbgrader_table import NbgraderSettings
from ..course.environment import KernelEnvironment, kernel_environment, kernel_problem, notebook_kernel, own_environment, require_built
from ..course.plan import CourseConfig, GradingSettings
from ..engine.isolation import TrialKernels, trial_kernels
from ..errors import CellRef, LessonError, PacelineError
from .lesson import RegionMarkers, read_notebook
from .lesson_data import fetch_lesson_data
from .lesson_files import instructor_markers, lesson_files, select_files
from .lint import (  # lint owns reading a cell's nbgrader metadata; check shares its readers
    BLOCKS_STUDENT_VERSION,
    Problem,
    cell_ref,
    checked_role,
    is_scored_test,
    leaking_files,
    metadata_problems,
    notebook_warnings,
    student_compile_problems,
    valid_points,
)
from .student_version import student_version
from .trial_run import ErrorHints, TrialRun, error_output, expects_error, full_credit, run_in_kernel


@dataclass(frozen=True)
class CheckReport:
    """All problems found, what was checked, and warnings (which do not make the check fail)."""

    problems: tuple[Problem, ...]
    lessons: int
    notebooks: int
    graded_cells: int
    points: float
    warnings: tuple[Problem, ...] = ()
    sandboxed: bool | None = None  # whether notebooks ran in the grading sandbox (None: nothing ran)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Kernels:
    """Where a check runs notebooks: the environment, and how kernels start in it."""

    environment: KernelEnvironment
    trial: TrialKernels

    @property
    def hints(self) -> ErrorHints:
        return ErrorHints(network_off=self.trial.sandboxed, environment=self.environment.description)


def kernels_for(settings: GradingSettings, *, environment: KernelEnvironment) -> Kernels:
    return Kernels(environment, trial_kernels(settings, environment=environment))


def check_course(
    course: CourseConfig,
    *,
    lesson_ids: Sequence[str] | None = None,
    progress: Progress = Silent(),
    execute: bool = True,
) -> CheckReport:
    """Check the lessons of a paceline course (all, or the named ones)."""
    from ..engine.wiring import nbgrader_config

    lessons = course.select_lessons(tuple(lesson_ids) if lesson_ids else None)
    environment = kernel_environment(course)
    if execute:
        require_built(environment)
    plan, unfetched = [], []
    for lesson in lessons:
        try:
            if execute:  # the lesson runs as grading runs it: with its data, fetched once into the folder
                fetch_lesson_data(course, lesson)
        except LessonError as exc:
            unfetched.append(Problem(exc.where, "data-not-fetched", exc.problem))
            continue
        plan.append(_LessonFolder(lesson.id, course.layout.lesson_source(lesson.id), lesson.notebooks,
                                  include=(*lesson.include, *(data.name for data in lesson.data)), exclude=lesson.exclude,
                                  nbgrader=course.nbgrader, grading=lesson.grading))
    markers = instructor_markers(nbgrader_config(course))
    report = _check_lessons(plan, execute=execute, progress=progress, markers=markers, environment=environment)
    return replace(report, problems=(*unfetched, *report.problems), lessons=report.lessons + len(unfetched))


def check_source_tree(
    source_dir: Path,
    *,
    lesson_ids: Sequence[str] | None = None,
    timeout: int = 30,
    progress: Progress = Silent(),
    execute: bool = True,
) -> CheckReport:
    """Check any nbgrader source tree: every subfolder holding notebooks is a lesson."""
    if not source_dir.is_dir():
        raise PacelineError(f"{source_dir} is not a folder (expected an nbgrader source folder with one subfolder per lesson)")
    found = [
        path.name for path in sorted(source_dir.iterdir())
        if path.is_dir() and not path.name.startswith(".") and any(path.glob("*.ipynb"))
    ]
    if not found:
        raise PacelineError(f"{source_dir} has no lesson folders (subfolders with .ipynb notebooks)")
    if lesson_ids:
        unknown = sorted(set(lesson_ids) - set(found))
        if unknown:
            raise PacelineError(f"no lesson folder {', '.join(map(repr, unknown))} in {source_dir} (found: {', '.join(found)})")
        found = [name for name in found if name in set(lesson_ids)]
    plan = [_LessonFolder(name, source_dir / name, None, grading=GradingSettings(timeout=timeout)) for name in found]
    return _check_lessons(plan, execute=execute, progress=progress, markers=instructor_markers(),
                          environment=own_environment())


def check_lesson(
    lesson_dir: Path,
    *,
    lesson_id: str,
    notebooks: Sequence[str] | None = None,
    timeout: int = 30,
    execute: bool = True,
    environment: KernelEnvironment | None = None,
) -> list[Problem]:
    """Problems in one lesson folder; ``notebooks`` defaults to every ``*.ipynb`` in it.

    ``execute=False`` skips the two kernel runs per notebook and only reads metadata.
    Kernels run in ``environment`` (default: paceline's own interpreter).
    """
    lesson = _LessonFolder(lesson_id, lesson_dir, notebooks, grading=GradingSettings(timeout=timeout))
    return list(_check_one_lesson(lesson, execute=execute, markers=instructor_markers(),
                                  environment=environment or own_environment()).problems)


def check_notebook(
    nb: NotebookNode,
    *,
    lesson_id: str,
    notebook: str,
    cwd: Path,
    student_cwd: Path | None = None,
    timeout: int = 30,
    execute: bool = True,
    nbgrader: NbgraderSettings = NbgraderSettings(),
    environment: KernelEnvironment | None = None,
    kernels: Kernels | None = None,
) -> list[Problem]:
    """Problems in one notebook, in cell order.

    The source version runs in ``cwd``, a copy of the lesson folder; the student version in
    ``student_cwd`` (default ``cwd``), which holds what a release publishes beside the notebooks,
    so a file students will not get fails here rather than for every student. The student version
    is built with the course's ``[nbgrader]`` settings (``nbgrader``: delimiters, stubs).
    Kernels run in ``environment`` (default: paceline's own interpreter), started by ``kernels``
    (default: the grading sandbox when this host has it); a kernel name the environment lacks is
    reported instead of running anything.
    """
    environment = environment or own_environment()
    problems = metadata_problems(nb, lesson_id=lesson_id, notebook=notebook, markers=RegionMarkers.of(nbgrader))
    if not any(problem.code in BLOCKS_STUDENT_VERSION for problem in problems):
        problems += student_compile_problems(nb, lesson_id=lesson_id, notebook=notebook, nbgrader=nbgrader)
    wrong_kernel = kernel_problem(kernel_name=notebook_kernel(nb.metadata), environment=environment)
    if wrong_kernel is not None:
        problems.append(Problem(CellRef(lesson_id, notebook), "kernel-not-in-environment", wrong_kernel))
    elif execute:
        kernels = kernels or kernels_for(GradingSettings(timeout=timeout), environment=environment)
        source_run = run_in_kernel(nb, cwd=cwd, timeout=timeout, kernels=kernels.trial)
        problems += _source_version_problems(source_run, lesson_id=lesson_id, notebook=notebook, timeout=timeout,
                                             hints=kernels.hints)
        # A kernel that cannot start or dies on the source would only repeat itself on the student version.
        if source_run.failure is None and not any(problem.code in BLOCKS_STUDENT_VERSION for problem in problems):
            problems += _student_version_problems(nb, lesson_id=lesson_id, notebook=notebook, cwd=student_cwd or cwd,
                                                  timeout=timeout, nbgrader=nbgrader, source_run=source_run,
                                                  kernels=kernels)
    return sorted(problems, key=lambda problem: -1 if problem.where.cell_index is None else problem.where.cell_index)


class _LessonFolder(NamedTuple):
    id: str
    folder: Path
    notebooks: Sequence[str] | None  # None: every notebook in the folder
    include: Sequence[str] = ()  # course.toml's release patterns
    exclude: Sequence[str] = ()
    nbgrader: NbgraderSettings = NbgraderSettings()  # course.toml's [nbgrader]: how student versions are built
    grading: GradingSettings = GradingSettings()  # the lesson's limits and timeout: check runs as grading does


def _check_lessons(
    plan: list[_LessonFolder],
    *,
    execute: bool,
    progress: Progress,
    markers: Sequence[str],
    environment: KernelEnvironment,
) -> CheckReport:
    results = []
    sandboxed = None
    # Lessons run side by side, one per core: their kernels are separate processes (each in its own leased
    # sandbox user) and this process mostly waits for them. Results are taken in the plan's order, so the
    # report lists every lesson's problems cell by cell exactly as one lesson at a time did.
    workers = min(len(plan), _cores()) if execute else 1
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="paceline-check") as pool:
        futures = [pool.submit(_check_one_lesson, lesson, execute=execute, markers=markers, environment=environment)
                   for lesson in plan]
        try:
            for _, future in zip(progress.track(plan, description="Checking"), futures):
                result = future.result()
                sandboxed = result.sandboxed if result.sandboxed is not None else sandboxed
                results.append(result)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # lessons not started yet never start
            raise
    return CheckReport(
        problems=tuple(problem for result in results for problem in result.problems),
        lessons=sum(result.lessons for result in results),
        notebooks=sum(result.notebooks for result in results),
        graded_cells=sum(result.graded_cells for result in results),
        points=sum(result.points for result in results),
        warnings=tuple(warning for result in results for warning in result.warnings),
        sandboxed=sandboxed,
    )


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_one_lesson(lesson: _LessonFolder, *, execute: bool, markers: Sequence[str],
                      environment: KernelEnvironment) -> CheckReport:
    lesson_id, lesson_dir, timeout = lesson.id, lesson.folder, lesson.grading.timeout
    kernels = kernels_for(lesson.grading, environment=environment) if execute else None
    names = list(lesson.notebooks) if lesson.notebooks is not None else sorted(path.name for path in lesson_dir.glob("*.ipynb"))
    if not names:
        problem = Problem(CellRef(lesson_id), "no-notebooks", f"lesson folder {lesson_dir} has no notebooks (or does not exist)")
        return CheckReport((problem,), lessons=1, notebooks=0, graded_cells=0, points=0.0)
    problems: list[Problem] = leaking_files(lesson_dir, lesson_id=lesson_id, markers=markers)
    warnings: list[Problem] = []
    graded = 0
    points = 0.0
    # Kernels run in a scratch copy: whatever a notebook writes must not land in course_source/.
    with tempfile.TemporaryDirectory(prefix=f"paceline-check-{lesson_id}-") as scratch:
        workdir = Path(scratch) / "source" / lesson_id
        student_dir = Path(scratch) / "student" / lesson_id
        if execute:
            shutil.copytree(lesson_dir, workdir, symlinks=True)
            published = select_files(lesson_files(lesson_dir), notebooks=names, include=lesson.include, exclude=lesson.exclude)
            for path in published.files:
                (student_dir / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(lesson_dir / path, student_dir / path)
            student_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            try:
                nb = read_notebook(lesson_dir / name, lesson=lesson_id)
            except LessonError as exc:
                problems.append(Problem(exc.where, "invalid-notebook", exc.problem))
                continue
            scored = [value for cell in nb.cells if (value := valid_points(cell)) is not None]
            graded, points = graded + len(scored), points + sum(scored)
            problems += check_notebook(nb, lesson_id=lesson_id, notebook=name, cwd=workdir, student_cwd=student_dir,
                                       timeout=timeout, execute=execute, nbgrader=lesson.nbgrader,
                                       environment=environment, kernels=kernels)
            warnings += notebook_warnings(nb, lesson_id=lesson_id, notebook=name)
    return CheckReport(tuple(problems), lessons=1, notebooks=len(names), graded_cells=graded, points=points,
                       warnings=tuple(warnings), sandboxed=kernels.trial.sandboxed if kernels is not None else None)


def _source_version_problems(run: TrialRun, *, lesson_id: str, notebook: str, timeout: int,
                             hints: ErrorHints = ErrorHints()) -> list[Problem]:
    """What failed in the source run; after the first cell that raised, later failures are its likely consequences.

    A cell that raised (not a test: a failed assertion leaves nothing undefined) stops defining what
    later cells use, so their ``NameError`` s are folded into one problem that points back at it.
    """
    problems = _failure_problems(run, lesson_id=lesson_id, notebook=notebook, version="source version")
    first_failure: int | None = None
    consequences: list[tuple[int, str]] = []
    for index, cell in _ran_code_cells(run):
        where = cell_ref(lesson_id, notebook, run.nb, index)
        if is_scored_test(cell):
            full, why = full_credit(cell, timeout=timeout, hints=hints)
            if full:
                continue
            if first_failure is not None:
                consequences.append((index, why))
                continue
            problems.append(Problem(where, "solution-fails-tests",
                                    f"test cell fails on the source version ({why}): the solution does not pass its own test"))
        elif (error := error_output(cell, timeout=timeout, hints=hints)) is not None and not expects_error(cell):
            if first_failure is not None:
                consequences.append((index, error))
                continue
            problems.append(Problem(where, "execution-error",
                                    f"fails when the source notebook runs ({error}): fix it so the notebook runs top to bottom"))
            first_failure = index
    if consequences:
        cells = ", ".join(str(cell_ref(lesson_id, notebook, run.nb, index)).split(" / ")[-1] for index, _ in consequences)
        errors = "; ".join(dict.fromkeys(error.split(":", 1)[0] for _, error in consequences))
        problems.append(Problem(
            cell_ref(lesson_id, notebook, run.nb, consequences[0][0]), "consequence-of-earlier-failure",
            f"{len(consequences)} later cell(s) fail too ({cells}: {errors}), most likely only because cell "
            f"{first_failure} failed first: fix cell {first_failure}, then check again",
        ))
    return problems


def _student_version_problems(
    nb: NotebookNode, *, lesson_id: str, notebook: str, cwd: Path, timeout: int, nbgrader: NbgraderSettings,
    source_run: TrialRun, kernels: Kernels,
) -> list[Problem]:
    try:
        student = student_version(nb, nbgrader=nbgrader)
    except (RuntimeError, ValueError) as exc:
        return [Problem(CellRef(lesson_id, notebook), "student-version-failed", f"nbgrader cannot build the student version: {exc}")]
    run = run_in_kernel(student, cwd=cwd, timeout=timeout, kernels=kernels.trial)
    problems = _failure_problems(run, lesson_id=lesson_id, notebook=notebook, version="student version")
    # Cells before the first answer cannot depend on the student's work: one that fails only in the
    # student version, which runs beside the published files alone, fails for every student.
    answers = ("autograded answer", "manually graded answer")
    first_answer = next((index for index, cell in enumerate(nb.cells) if checked_role(cell) in answers), len(nb.cells))
    for index, cell in _ran_code_cells(run):
        error = error_output(cell, timeout=timeout)
        if (index < first_answer and error is not None and not expects_error(cell)
                and error_output(source_run.nb.cells[index], timeout=timeout) is None):
            problems.append(Problem(cell_ref(lesson_id, notebook, run.nb, index), "student-version-error",
                                    f"fails in the student version ({error}) although the source runs: every student "
                                    "gets this error; a file it needs may not be published (see [[lessons]] include)"))
        if is_scored_test(cell) and full_credit(cell, timeout=timeout)[0]:
            problems.append(Problem(cell_ref(lesson_id, notebook, run.nb, index), "test-passes-on-student-version",
                                    "test cell passes on the student version: it cannot fail, so it grades nothing"))
    return problems


def _failure_problems(run: TrialRun, *, lesson_id: str, notebook: str, version: str) -> list[Problem]:
    if run.failure is None:
        return []
    return [Problem(cell_ref(lesson_id, notebook, run.nb, run.stopped_at), "execution-error", f"{version}: {run.failure}")]


def _ran_code_cells(run: TrialRun) -> list[tuple[int, NotebookNode]]:
    cells = list(enumerate(run.nb.cells))
    if run.failure is not None:
        cells = cells[: run.stopped_at or 0]
    return [(index, cell) for index, cell in cells if cell.cell_type == "code"]
