"""The student's side of the exchange: list, fetch, submit, fetch feedback.

These are the nbgrader exchange classes that JupyterLab's Assignments panel
runs in a student's server, configured the way a student's
``nbgrader_config.py`` would configure them. The simulated cohort and the
end-to-end tests go through here, so they exercise the real exchange path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError as NbExchangeError
from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config

from ..course.clock import Clock, SystemClock
from ..course.roster import validate_student_id
from ..errors import ExchangeError
from .personal import PacelineExchangeSubmit


@dataclass(frozen=True)
class StudentWorkspace:
    """One student's home folder and the course exchange they talk to."""

    student_id: str
    home: Path
    course_id: str
    exchange_root: Path

    def lesson_dir(self, lesson_id: str) -> Path:
        return self.home / lesson_id

    def feedback_dir(self, lesson_id: str) -> Path:
        return self.home / lesson_id / "feedback"


class ClockedExchangeSubmit(PacelineExchangeSubmit):
    """The students' submit, asking an injected clock for the time.

    The timestamp it writes is the student's claim; paceline's collector
    records its own receipt time next to it.
    """

    clock: Clock = SystemClock()

    def set_timestamp(self) -> None:
        self.timestamp = self.clock.now().strftime(self.timestamp_format)


def list_lessons(ws: StudentWorkspace) -> list[dict]:
    """What the Assignments panel lists: released, fetched and submitted lessons."""
    app = _app(ws, "List", lesson_id="*")
    return _run(app, "list")


def fetch_lesson(ws: StudentWorkspace, lesson_id: str) -> Path:
    _run(_app(ws, "FetchAssignment", lesson_id=lesson_id), f"fetch {lesson_id}")
    return ws.lesson_dir(lesson_id)


def submit_lesson(ws: StudentWorkspace, lesson_id: str, *, clock: Clock = SystemClock()) -> str:
    """Submit the student's copy of a lesson; returns the timestamp nbgrader wrote."""
    config = _config(ws)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = lesson_id
    app = ClockedExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)
    app.clock = clock
    _run(app, f"submit {lesson_id}")
    return app.timestamp


def fetch_feedback(ws: StudentWorkspace, lesson_id: str) -> list[Path]:
    _run(_app(ws, "FetchFeedback", lesson_id=lesson_id), f"fetch_feedback {lesson_id}")
    return sorted(ws.feedback_dir(lesson_id).rglob("*.html"))


def student_config(*, course_id: str, exchange_root: Path, home: Path, student_id: str) -> Config:
    """nbgrader settings for one student's server, as their nbgrader_config.py would say."""
    c = Config()
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.root = str(home)
    c.CourseDirectory.student_id = student_id
    c.Exchange.root = str(exchange_root)
    c.Exchange.assignment_dir = str(home)
    c.merge(student_exchange_config())
    return c


def student_exchange_config() -> Config:
    """The exchange classes students use: nbgrader's, plus lessons unlocked for them alone (listed,
    fetched, submitted), and fetched feedback in folders named by attempt number and local time."""
    c = Config()
    c.ExchangeFactory.list = "graders.exchange.PacelineExchangeList"
    c.ExchangeFactory.fetch_assignment = "graders.exchange.PacelineExchangeFetchAssignment"
    c.ExchangeFactory.submit = "graders.exchange.PacelineExchangeSubmit"
    c.ExchangeFactory.fetch_feedback = "graders.exchange.PacelineExchangeFetchFeedback"
    return c


def _config(ws: StudentWorkspace):
    validate_student_id(ws.student_id)
    config = student_config(course_id=ws.course_id, exchange_root=ws.exchange_root, home=ws.home, student_id=ws.student_id)
    # Each student keeps their own submission cache, as on their own server.
    config.Exchange.cache = str(ws.home / ".nbgrader_cache")
    return config


def _app(ws: StudentWorkspace, kind: str, *, lesson_id: str):
    config = _config(ws)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = lesson_id
    factory = ExchangeFactory(config=config)
    return getattr(factory, kind)(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)


def _run(app, step: str):
    try:
        return app.start()
    except NbExchangeError as exc:
        raise ExchangeError(f"{step}: {exc}") from None
    except OSError as exc:
        raise ExchangeError(f"{step}: {exc.strerror}: {exc.filename}") from None
