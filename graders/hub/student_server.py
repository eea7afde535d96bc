"""The Jupyter server extension in every student's server: their own progress document and feedback pages.

Routes, relative to the server's base URL (the contract with the JupyterLab
panel; the document's schema is in the README):

- ``GET paceline/progress``: the logged-in student's progress document (JSON);
  404 while none is written yet; 403 for ``?student=`` anyone else;
- ``GET paceline/feedback/<lesson>/<attempt>[/<notebook>]``: that attempt's
  released feedback page (the lesson's first notebook's without a notebook),
  served with paceline's Content-Security-Policy (:mod:`graders.page_policy`).

Who the student is comes from the server's configuration, written by the hub
into the student's own Jupyter config folder (:class:`StudentProgress`), never
from the request. The files live in the student's personal exchange folder,
which only their unix account can read: a student who points this
configuration at a classmate's folder gets the operating system's refusal (a
403 here), not the classmate's document. Loaded with
``ServerApp.jpserver_extensions = {"graders.hub.student_server": True}``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Unicode
from traitlets.config import Configurable

from ..course.layout import PERSONAL_FEEDBACK, PROGRESS_DOCUMENT
from ..course.toml_reader import SAFE_ID
from ..page_policy import CONTENT_SECURITY_POLICY

EXTENSION = __name__
_NOTEBOOK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@ -]{0,127}$")


class StudentProgress(Configurable):
    """Whose server this is, and where their personal exchange folder is (set by the hub's config)."""

    student_id = Unicode("", help="The roster id of the student this server belongs to.").tag(config=True)
    personal_folder = Unicode("", help="The student's personal exchange folder.").tag(config=True)

    @property
    def document(self) -> Path:
        return Path(self.personal_folder) / PROGRESS_DOCUMENT

    def feedback_attempt(self, lesson_id: str, attempt: int) -> Path:
        return Path(self.personal_folder) / PERSONAL_FEEDBACK / lesson_id / str(attempt)


class _Paceline:
    auth_resource = "contents"  # a student's own files: whoever may read their server's files may read these

    def initialize(self, settings: StudentProgress) -> None:
        self.progress = settings

    def _fail(self, status: int, message: str) -> None:
        raise web.HTTPError(status, message)


class ProgressHandler(_Paceline, APIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        me = self.progress.student_id
        if not me or not self.progress.personal_folder:
            self._fail(404, "paceline is not configured for this server (no student id): ask your instructor")
        asked = self.get_query_argument("student", None)
        if asked is not None and asked != me:
            self._fail(403, "you can only see your own progress")
        data = _read(self.progress.document, missing="no progress document yet: it appears once the course is released")
        try:
            json.loads(data)
        except ValueError:
            self._fail(503, "the progress document is being rewritten: try again in a moment")
        self.set_header("Cache-Control", "no-store")
        self.finish(data)  # as application/json


class FeedbackHandler(_Paceline, JupyterHandler):  # a page, not an API answer (APIHandler sends JSON)
    @property
    def content_security_policy(self) -> str:
        # Nothing on the page may run or load; JupyterLab may frame it.
        return f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'self'; sandbox"

    @web.authenticated
    @authorized
    async def get(self, lesson_id: str, attempt: str, notebook: str | None = None) -> None:
        if not self.progress.personal_folder:
            self._fail(404, "paceline is not configured for this server")
        if not SAFE_ID.match(lesson_id) or ".." in lesson_id or (notebook is not None and not _NOTEBOOK.match(notebook)):
            self._fail(404, "no such feedback")
        folder = self.progress.feedback_attempt(lesson_id, int(attempt))
        if notebook is None:
            try:
                pages = sorted(name for name in os.listdir(folder) if name.endswith(".html") and not name.startswith("."))
            except FileNotFoundError:
                pages = []
            except PermissionError:
                self._fail(403, "not your feedback")
            if not pages:
                self._fail(404, f"no feedback for {lesson_id} attempt {attempt} yet")
            page = folder / pages[0]
        else:
            page = folder / f"{notebook.removesuffix('.html').removesuffix('.ipynb')}.html"
        data = _read(page, missing=f"no feedback for {lesson_id} attempt {attempt} yet")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


def _read(path: Path, *, missing: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise web.HTTPError(404, missing) from None
    except PermissionError:
        raise web.HTTPError(403, "this is not yours to read") from None
    except OSError:  # a link planted in the folder (ELOOP), or not a file
        raise web.HTTPError(404, missing) from None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": EXTENSION}]


def _load_jupyter_server_extension(serverapp) -> None:
    settings = StudentProgress(config=serverapp.config, parent=serverapp)
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, "paceline/progress"), ProgressHandler, {"settings": settings}),
        (url_path_join(base, r"paceline/feedback/([^/]+)/(\d{1,6})(?:/([^/]+))?"), FeedbackHandler, {"settings": settings}),
    ])
    serverapp.log.info("paceline: progress for student %r from %s", settings.student_id, settings.personal_folder)
