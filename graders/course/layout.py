"""Every path of a course folder and of its exchange: the one module that spells them.

A course folder is nbgrader's course directory plus paceline's own files::

    course.toml          the plan                     students.csv   the roster ([course] roster)
    nbgrader_config.py   written by paceline          course_source/ lessons ([course] source)
    release/             student versions             submitted/     nbgrader's; attempts in submitted/.attempts/
    autograded/          graded latest attempts       feedback/      nbgrader's feedback of latest attempts
    gradebook.db         nbgrader's gradebook         exports/       tables for analytics
    analytics/reports/   rendered reports             .paceline/     ledger, per-attempt feedback, simulation, hub

and the exchange (``[course] exchange``, default ``.paceline/exchange``) holds,
under ``<root>/<course id>/``, nbgrader's ``inbound``, ``outbound`` and
``feedback`` folders, paceline's ``personal/<student>/`` (gated lessons
unlocked for one student, that student's progress document, their feedback
pages and submitted notebooks by attempt) and the hub's students' Jupyter
config. A student's own server copies a lesson to review into ``review/``
in their home.

Only this module joins names into paths; every stage asks a
:class:`CourseLayout` (``course.layout``) or, for a grading task's private
course, a :class:`ScratchCourse`. Pure: nothing here touches the disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "course.toml"
DEFAULT_ROSTER = "students.csv"
DEFAULT_SOURCE = "course_source"
DEFAULT_EXCHANGE = ".paceline/exchange"
NBGRADER_CONFIG_NAME = "nbgrader_config.py"

# nbgrader's own folder names (CourseDirectory's *_directory), in a course and in a grading task's course.
SOURCE = "source"  # nbgrader's default; a paceline course names its own ([course] source)
RELEASE = "release"
SUBMITTED = "submitted"
AUTOGRADED = "autograded"
FEEDBACK = "feedback"
GRADEBOOK = "gradebook.db"
TIMESTAMP = "timestamp.txt"  # the student's claimed submission time, in each submission folder
SUBMISSION_SECRET = "submission_secret.txt"  # names the feedback pages of a submission

STATE = ".paceline"
ATTEMPTS = ".attempts"  # under submitted/: every attempt, numbered
EXPORTS = "exports"
REPORTS = ("analytics", "reports")

# The course environment ([environment] in course.toml): outside any private home, since sandbox
# users and students run its interpreter; one folder per course folder.
ENVIRONMENTS_ROOT = Path("/opt/paceline-envs")
ENVIRONMENT_STAMP = "paceline-environment.json"  # in the environment: what it was built from

# Under the exchange's <root>/<course id>/.
INBOUND = "inbound"
OUTBOUND = "outbound"
PERSONAL = "personal"
STUDENT_CONFIG = ".paceline-jupyter"
# In a student's personal folder, beside their unlocked lessons: a leading dot keeps them out of
# nbgrader's list (it globs ``*``) and can never be a lesson id.
PROGRESS_DOCUMENT = ".paceline-progress.json"
PERSONAL_FEEDBACK = ".paceline-feedback"
PERSONAL_SUBMISSIONS = ".paceline-submissions"
# In a student's home: the read-only copies My course's Review button makes of one lesson.
REVIEW = "review"


def personal_submission_parts(lesson_id: str, attempt: int) -> tuple[str, str, str]:
    """Where the notebooks one attempt submitted are kept for their student, relative to the personal folder."""
    return PERSONAL_SUBMISSIONS, lesson_id, str(attempt)


REVIEW_RELEASED = "released"  # in a review folder: the lesson as released to the student


def review_parts(lesson_id: str) -> tuple[str, str]:
    """The folder, relative to the student's home, a review of the lesson is copied to: the lesson as
    released (:data:`REVIEW_RELEASED`), the last attempt as submitted and its feedback (:func:`review_attempt_folders`)."""
    return REVIEW, lesson_id


def review_attempt_folders(attempt: int) -> tuple[str, str]:
    """A review folder's subfolders for one attempt: its notebooks as submitted, its feedback pages."""
    return f"attempt {attempt} submitted", f"attempt {attempt} feedback"


def personal_feedback_parts(lesson_id: str, attempt: int) -> tuple[str, str, str]:
    """Where one attempt's feedback pages are, relative to the student's personal folder."""
    return PERSONAL_FEEDBACK, lesson_id, str(attempt)


def feedback_folder_name(attempt: int, local_time: str) -> str:
    """The folder a student's fetched feedback of one attempt goes to (``local_time`` as 2026-11-30 14-02)."""
    return f"attempt-{attempt} ({local_time})"


@dataclass(frozen=True)
class ExchangeLayout:
    """One course's part of an nbgrader exchange: ``<root>/<course id>/...``."""

    root: Path
    course_id: str

    @property
    def course_dir(self) -> Path:
        return self.root / self.course_id

    @property
    def inbound(self) -> Path:
        """Submissions as students' ``submit`` leaves them: ``<student>+<lesson>+<timestamp>+<random>``."""
        return self.course_dir / INBOUND

    @property
    def outbound(self) -> Path:
        """Lessons released to everyone."""
        return self.course_dir / OUTBOUND

    def released(self, lesson_id: str) -> Path:
        return self.outbound / lesson_id

    @property
    def feedback(self) -> Path:
        """Feedback pages, named by a hash of the submission's secret."""
        return self.course_dir / FEEDBACK

    @property
    def personal_dir(self) -> Path:
        """Gated lessons unlocked for one student, one folder per student."""
        return self.course_dir / PERSONAL

    def personal(self, student_id: str) -> Path:
        return self.personal_dir / student_id

    def progress_document(self, student_id: str) -> Path:
        """The student's progress document (JSON), readable by their account only."""
        return self.personal(student_id) / PROGRESS_DOCUMENT

    def personal_submission(self, student_id: str, *, lesson_id: str, attempt: int) -> Path:
        """The notebooks that attempt submitted, as the student's server copies them for a review."""
        return self.personal(student_id).joinpath(*personal_submission_parts(lesson_id, attempt))

    def personal_feedback(self, student_id: str, *, lesson_id: str, attempt: int) -> Path:
        """That attempt's released feedback pages, as the student's server serves them."""
        return self.personal(student_id).joinpath(*personal_feedback_parts(lesson_id, attempt))

    @property
    def student_config_dir(self) -> Path:
        """The students' Jupyter and nbgrader config the course's hub writes."""
        return self.course_dir / STUDENT_CONFIG


@dataclass(frozen=True)
class CourseLayout:
    """The paths of one course folder; ``source_dir``, ``roster_path`` and the exchange come from course.toml."""

    root: Path
    source_dir: Path
    roster_path: Path
    exchange: ExchangeLayout

    @classmethod
    def of(
        cls, root: Path, *, course_id: str, source: str = DEFAULT_SOURCE, roster: str = DEFAULT_ROSTER,
        exchange: str = DEFAULT_EXCHANGE,
    ) -> CourseLayout:
        """The layout of the course at ``root``, with course.toml's ``[course]`` source, roster and exchange."""
        return cls(root=root, source_dir=root / source, roster_path=root / roster,
                   exchange=ExchangeLayout(root / exchange, course_id))

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def readme_path(self) -> Path:
        return self.root / "README.md"

    @property
    def gitignore_path(self) -> Path:
        return self.root / ".gitignore"

    @property
    def nbgrader_config_path(self) -> Path:
        return self.root / NBGRADER_CONFIG_NAME

    def lesson_source(self, lesson_id: str) -> Path:
        return self.source_dir / lesson_id

    @property
    def release_dir(self) -> Path:
        return self.root / RELEASE

    def lesson_release(self, lesson_id: str) -> Path:
        return self.release_dir / lesson_id

    @property
    def submitted_dir(self) -> Path:
        return self.root / SUBMITTED

    def attempt_dir(self, *, student_id: str, lesson_id: str, attempt: int) -> Path:
        """Where an attempt's files are archived (never modified after collection)."""
        return self.submitted_dir / ATTEMPTS / student_id / lesson_id / f"{attempt:03d}"

    @property
    def autograded_dir(self) -> Path:
        return self.root / AUTOGRADED

    def autograded(self, *, student_id: str, lesson_id: str) -> Path:
        """nbgrader's graded notebooks of the attempt in the gradebook (the student's latest)."""
        return self.autograded_dir / student_id / lesson_id

    @property
    def feedback_dir(self) -> Path:
        """nbgrader's ``feedback/``: pages of the attempts in the gradebook."""
        return self.root / FEEDBACK

    def feedback(self, *, student_id: str, lesson_id: str) -> Path:
        """Where nbgrader's ``generate_feedback`` renders the pages of the attempt in the gradebook."""
        return self.feedback_dir / student_id / lesson_id

    @property
    def gradebook_path(self) -> Path:
        return self.root / GRADEBOOK

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.gradebook_path}"

    @property
    def state_dir(self) -> Path:
        """Paceline's own private state."""
        return self.root / STATE

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.db"

    @property
    def lock_path(self) -> Path:
        """The course lock: one command at a time writes the course (holder's command, pid and start inside)."""
        return self.state_dir / "course.lock"

    def attempt_feedback(self, *, student_id: str, lesson_id: str, attempt: int) -> Path:
        """Feedback pages of one attempt, kept for every attempt (nbgrader's ``feedback/`` holds the latest)."""
        return self.state_dir / FEEDBACK / student_id / lesson_id / f"{attempt:03d}"

    @property
    def sim_dir(self) -> Path:
        """The simulated cohort's ground truth and home folders."""
        return self.state_dir / "sim"

    @property
    def hub_dir(self) -> Path:
        """The course's JupyterHub: its config, secrets, database and log (private)."""
        return self.state_dir / "hub"

    @property
    def hub_password_hashes(self) -> Path:
        """Each student's hub password, hashed (the hub's authenticator reads it at every login)."""
        return self.hub_dir / "password-hashes.json"

    @property
    def hub_passwords_csv(self) -> Path:
        """New students' hub passwords in plain text, for the instructor to hand out (then delete)."""
        return self.hub_dir / "student-passwords.csv"

    @property
    def export_dir(self) -> Path:
        return self.root / EXPORTS

    @property
    def reports_dir(self) -> Path:
        return self.root.joinpath(*REPORTS)

    def instructor_only(self) -> tuple[Path, ...]:
        """What students must never read: solutions, submissions, grades, the roster, paceline's state."""
        return (
            self.source_dir, self.release_dir, self.submitted_dir, self.autograded_dir, self.feedback_dir,
            self.gradebook_path, self.roster_path, self.export_dir, self.ledger_path, self.state_dir / FEEDBACK,
            self.hub_dir,
        )


def default_environment_dir(root: Path, course_id: str) -> Path:
    """Where a course's environment is built unless ``[environment] location`` says otherwise."""
    return ENVIRONMENTS_ROOT / f"{course_id}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class EnvironmentLayout:
    """The paths of a built course environment (a venv)."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def stamp(self) -> Path:
        return self.root / ENVIRONMENT_STAMP

    @property
    def kernels_dir(self) -> Path:
        """Kernelspecs for the environment's extra kernel names (``[environment] kernels``)."""
        return self.root / "share" / "jupyter" / "kernels"


# What `paceline init` puts in .gitignore: student data and everything derived from it. The roster
# holds names and emails; anchored to the course folder, where init writes it, so a data file of the
# same name elsewhere (a lesson's) stays committable.
STUDENT_DATA_PATTERNS = (
    f"/{DEFAULT_ROSTER}",
    f"{SUBMITTED}/*",
    f"{AUTOGRADED}/",
    f"{FEEDBACK}/",
    GRADEBOOK,
    f"{GRADEBOOK}-journal",
    f"{STATE}/",
    f"{EXPORTS}/",
    "/".join(REPORTS) + "/",
    f"{RELEASE}/*",
)


@dataclass(frozen=True)
class ScratchCourse:
    """The private temporary course one grading task runs nbgrader in (nbgrader's default layout)."""

    root: Path

    def source(self, lesson_id: str) -> Path:
        return self.root / SOURCE / lesson_id

    def submitted(self, *, student_id: str, lesson_id: str) -> Path:
        return self.root / SUBMITTED / student_id / lesson_id

    def autograded(self, *, student_id: str, lesson_id: str) -> Path:
        return self.root / AUTOGRADED / student_id / lesson_id

    def feedback(self, *, student_id: str, lesson_id: str) -> Path:
        return self.root / FEEDBACK / student_id / lesson_id

    @property
    def gradebook_path(self) -> Path:
        return self.root / GRADEBOOK

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.gradebook_path}"
