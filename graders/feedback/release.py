"""Feedback: HTML feedback for every graded attempt, released through the exchange.

Each attempt's feedback is rendered by nbgrader when it is graded (see
:mod:`graders.grading.task`) and kept under ``.paceline/feedback/``. It is
released in nbgrader's own exchange format, keyed by the attempt's
``submission_secret.txt``, so a student's *Fetch Feedback* gets feedback for
every attempt they made, and copied by attempt number into the student's
personal folder, where their server's ``paceline/feedback`` route serves it. The latest attempt's feedback is rendered again from
the gradebook first where the gradebook's facts changed since its page was rendered (manual grades and comments
from formgrader, a late penalty an extension moved), so they appear; a page that shows what the gradebook holds
is not rendered again (grading records which facts the worker's page shows).
Hidden tests show only whether they passed (:mod:`graders.feedback.hidden_tests`).

An attempt imported from an nbgrader course without a secret (older
nbgrader kept none) gets its feedback in the student's own folder only. One
attempt whose feedback cannot be released (a secret that is not
nbgrader's, anything unforeseen) is recorded in the ledger with the reason and
not tried again until its feedback changes; every other attempt's goes out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import notebook_hash

from analytics.progress import Progress, Silent

from ..course.layout import personal_feedback_parts
from ..course.plan import CourseConfig, LessonPlan
from ..engine.gradebook_reader import read_submissions
from ..engine.wiring import check_result, instructor_api, write_nbgrader_config
from ..errors import PacelineError, SubmissionError, at_submission
from ..exchange.ledger import Attempt, Ledger
from ..exchange.personal_folder import personal_folder, write_personal_file
from ..exchange.submission_checks import SECRET_NAME, secret_problem
from ..grading.gradebook_scores import sync_gradebook_scores
from .basis import page_basis


@dataclass
class FeedbackReport:
    released: dict[str, int] = field(default_factory=dict)  # lesson id -> attempts whose feedback was released
    personal_copies: int = 0  # attempts released earlier whose pages were only now copied to the student's folder
    rendered: dict[str, int] = field(default_factory=dict)  # lesson id -> latest attempts whose pages were rendered again
    up_to_date: int = 0  # graded latest attempts whose kept pages already showed the gradebook's facts
    problems: list[PacelineError] = field(default_factory=list)


def release_feedback(
    course: CourseConfig, *, lesson_ids: list[str] | None = None, progress: Progress = Silent(),
) -> FeedbackReport:
    """Render again the latest attempts' feedback that is out of date with the gradebook, then release all new feedback."""
    report = FeedbackReport()
    refresh_from_gradebook(course, lesson_ids=lesson_ids, progress=progress, report=report)
    release_attempt_feedback(course, lesson_ids=lesson_ids, report=report)
    return report


def refresh_from_gradebook(
    course: CourseConfig, *, lesson_ids: list[str] | None, progress: Progress, report: FeedbackReport,
) -> None:
    """nbgrader's feedback for each student's latest attempt, with manual grades and comments, rendered
    again only where the kept page is missing or shows other facts than the gradebook holds now (a teacher
    marked or commented in formgrader, a late penalty moved, a regrade kept an earlier attempt's marks)."""
    lessons = course.select_lessons(lesson_ids)
    with Ledger.open(course.layout.ledger_path) as ledger:
        # The scores the pages show are the ones the students' progress documents show next.
        sync_gradebook_scores(course, ledger)
        latest: dict[tuple[str, str], Attempt] = {}
        for attempt in ledger.attempts(lesson_ids=[lesson.id for lesson in lessons]):
            latest[(attempt.student_id, attempt.lesson_id)] = attempt
    recorded = read_submissions(course.layout.gradebook_path, lesson_ids=[lesson.id for lesson in lessons])
    todo: dict[str, list[tuple[Attempt, str]]] = {}
    for key, attempt in latest.items():
        submission = recorded.get(key)
        if attempt.status != "graded" or submission is None:
            continue  # nothing graded, or not in the gradebook (nbgrader keeps the latest graded attempt)
        graded = course.layout.autograded(student_id=attempt.student_id, lesson_id=attempt.lesson_id)
        if not graded.is_dir():
            continue  # nbgrader renders from autograded/: nothing to render from
        kept = course.layout.attempt_feedback(student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                                              attempt=attempt.attempt)
        # A page per graded notebook (a notebook the student did not submit has none, then or now).
        missing = [name for name in course.lesson(attempt.lesson_id).notebooks
                   if (graded / name).is_file() and not (kept / f"{Path(name).stem}.html").is_file()]
        basis = page_basis(submission.basis)  # what the gradebook holds, drawn by this renderer
        if attempt.feedback_basis == basis and not missing:
            continue
        todo.setdefault(attempt.lesson_id, []).append((attempt, basis))
    report.up_to_date = sum(1 for a in latest.values() if a.status == "graded") - sum(map(len, todo.values()))
    if not todo:
        return
    write_nbgrader_config(course)
    api = instructor_api(course)
    for lesson in progress.track([lesson for lesson in lessons if lesson.id in todo], description="Feedback"):
        for attempt, basis in sorted(todo[lesson.id], key=lambda item: item[0].student_id):
            try:
                # nbgrader removes the page of a student it cannot render: nothing of it is copied then.
                check_result(f"generate_feedback {lesson.id} {attempt.student_id}",
                             api.generate_feedback(lesson.id, attempt.student_id))
            except PacelineError as exc:
                report.problems.append(exc)
                continue
            rendered = course.layout.feedback(student_id=attempt.student_id, lesson_id=lesson.id)
            dest = course.layout.attempt_feedback(student_id=attempt.student_id, lesson_id=lesson.id,
                                                  attempt=attempt.attempt)
            dest.mkdir(parents=True, exist_ok=True)
            for html in feedback_pages(rendered, lesson):
                shutil.copyfile(html, dest / html.name)
            with Ledger.open(course.layout.ledger_path) as ledger:
                ledger.record_feedback_basis(attempt.id, basis=basis)
            report.rendered[lesson.id] = report.rendered.get(lesson.id, 0) + 1


def release_attempt_feedback(
    course: CourseConfig, *, lesson_ids: list[str] | None = None, report: FeedbackReport | None = None,
) -> FeedbackReport:
    """Copy every graded attempt's feedback that changed since it was last released to the exchange."""
    report = report if report is not None else FeedbackReport()
    outbound = course.layout.exchange.feedback
    outbound.mkdir(parents=True, exist_ok=True)
    # nbgrader's own mode: students can open a file whose name they know, not list the folder.
    os.chmod(outbound, 0o711)
    with Ledger.open(course.layout.ledger_path) as ledger:
        lessons = [lesson.id for lesson in course.select_lessons(lesson_ids)]
        for attempt in ledger.attempts(lesson_ids=lessons, statuses=["graded"]):
            folder = course.layout.attempt_feedback(student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
            pages = feedback_pages(folder, course.lesson(attempt.lesson_id))
            if not pages:
                continue
            digest = hashlib.sha256(b"".join(page.name.encode() + b"\0" + page.read_bytes() for page in pages)).hexdigest()
            if digest == attempt.feedback_digest:
                # Released as it is, or failed to be: either way recorded. Feedback released before
                # students' personal folders held it gets its copy there now (nothing goes out again).
                if attempt.feedback_error is None and not _has_personal_copy(course, attempt, pages):
                    try:
                        _copy_personal(course, attempt, pages)
                        report.personal_copies += 1
                    except Exception as exc:  # noqa: BLE001 - one student's folder failing stops no one else's
                        report.problems.append(at_submission(exc, student_id=attempt.student_id,
                                                             lesson_id=attempt.lesson_id, attempt=attempt.attempt))
                continue
            try:
                _release_one(course, attempt, pages, outbound)
            except Exception as exc:  # noqa: BLE001 - one attempt's feedback failing stops no one else's
                problem = at_submission(exc, student_id=attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
                ledger.record_feedback_failure(attempt.id, digest=digest, error=str(problem))
                report.problems.append(problem)
                continue
            ledger.mark_feedback_released(attempt.id, digest=digest)
            report.released[attempt.lesson_id] = report.released.get(attempt.lesson_id, 0) + 1
    return report


def feedback_pages(folder: Path, lesson: LessonPlan) -> list[Path]:
    """The pages rendered from the lesson's own notebooks; any other HTML there came from the student."""
    return [folder / f"{Path(name).stem}.html" for name in lesson.notebooks if (folder / f"{Path(name).stem}.html").is_file()]


def _release_one(course: CourseConfig, attempt: Attempt, pages: list[Path], outbound: Path) -> None:
    secret_file = course.layout.attempt_dir(student_id=attempt.student_id, lesson_id=attempt.lesson_id,
                                           attempt=attempt.attempt) / SECRET_NAME
    # An attempt imported from an nbgrader course that kept no secret (older nbgrader) has no page
    # nbgrader's Fetch Feedback could find: its feedback goes to the student's own folder alone.
    if secret_file.is_file() or attempt.origin != "imported":
        if not secret_file.is_file():
            raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt,
                                  f"feedback not released: no {SECRET_NAME} in the submission: nbgrader cannot match feedback to it")
        with secret_file.open("rb") as fh:
            data = fh.read(1024)
        # Collection checks the secret; attempts collected before it did are checked here.
        problem = secret_problem(data)
        if problem:
            raise SubmissionError(attempt.student_id, attempt.lesson_id, attempt.attempt, f"feedback not released: {problem}")
        secret = data.decode("ascii")
        for page in pages:
            name = notebook_hash(secret=secret, notebook_id=page.stem)
            staging = outbound / f"{name}-tmp.html"
            shutil.copyfile(page, staging)
            os.chmod(staging, 0o644)
            os.replace(staging, outbound / f"{name}.html")  # students never see a half-written page
    _copy_personal(course, attempt, pages)


def _copy_personal(course: CourseConfig, attempt: Attempt, pages: list[Path]) -> None:
    """The same pages by attempt number in the student's own folder, where their JupyterLab panel opens them."""
    mine = personal_folder(course, attempt.student_id)
    for page in pages:
        write_personal_file(mine, [*personal_feedback_parts(attempt.lesson_id, attempt.attempt), page.name], page.read_bytes())


def _has_personal_copy(course: CourseConfig, attempt: Attempt, pages: list[Path]) -> bool:
    folder = course.layout.exchange.personal_feedback(attempt.student_id, lesson_id=attempt.lesson_id, attempt=attempt.attempt)
    return all(os.path.lexists(folder / page.name) for page in pages)
