"""The Jupyter server extension in every student's server: their own progress document and feedback pages.

Routes, relative to the server's base URL (the contract with the JupyterLab
panel; the document's schema is in the README):

- ``GET paceline/progress``: the logged-in student's progress document (JSON);
  404 while none is written yet; 403 for ``?student=`` anyone else. With
  ``If-None-Match`` (the ETag of the document the panel shows) and
  ``?wait=SECONDS`` (at most ``LONGEST_WAIT``), the answer waits until the
  document changes: the panel sees a score the moment the grader writes it,
  with one request instead of a poll every fraction of a second;
- ``GET paceline/feedback/<lesson>/<attempt>[/<notebook>]``: that attempt's
  released feedback page (the lesson's first notebook's without a notebook),
  served with paceline's Content-Security-Policy (:mod:`graders.page_policy`);
- ``POST paceline/review/<lesson>``: read-only copies, in ``review/<lesson>/``
  of the student's home, of the lesson as released to them, their last
  attempt's notebooks as submitted and that attempt's feedback pages (each
  Review replaces the previous copies); the lesson must be one of their
  document's and open to them. Answers what was copied (JSON).

Who the student is comes from the server's configuration, written by the hub
into the student's own Jupyter config folder (:class:`StudentProgress`), never
from the request. The files live in the student's personal exchange folder,
which only their unix account can read: a student who points this
configuration at a classmate's folder gets the operating system's refusal (a
403 here), not the classmate's document. Loaded with
``ServerApp.jpserver_extensions = {"graders.hub.student_server": True}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Unicode
from traitlets.config import Configurable

from ..course.layout import (
    PROGRESS_DOCUMENT,
    REVIEW_RELEASED,
    personal_feedback_parts,
    personal_submission_parts,
    review_attempt_folders,
    review_parts,
)
from ..course.toml_reader import SAFE_ID
from ..page_policy import CONTENT_SECURITY_POLICY

EXTENSION = __name__
LONGEST_WAIT = 30  # seconds a request may wait for a new document: under the idle timeouts of proxies in between
CHANGE_CHECK = 0.05  # seconds between two looks (a stat) at the document while a request waits
_NOTEBOOK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@ -]{0,127}$")


class StudentProgress(Configurable):
    """Whose server this is, and where their personal exchange folder is (set by the hub's config)."""

    student_id = Unicode("", help="The roster id of the student this server belongs to.").tag(config=True)
    personal_folder = Unicode("", help="The student's personal exchange folder.").tag(config=True)
    released_folder = Unicode("", help="The exchange's folder of lessons released to everyone (nbgrader's outbound).").tag(config=True)

    @property
    def document(self) -> Path:
        return Path(self.personal_folder) / PROGRESS_DOCUMENT

    def feedback_attempt(self, lesson_id: str, attempt: int) -> Path:
        return Path(self.personal_folder).joinpath(*personal_feedback_parts(lesson_id, attempt))

    def submitted_attempt(self, lesson_id: str, attempt: int) -> Path:
        return Path(self.personal_folder).joinpath(*personal_submission_parts(lesson_id, attempt))

    def released_lesson(self, lesson_id: str) -> Path | None:
        """The lesson as released to this student: unlocked for them alone, or released to everyone."""
        for folder in (Path(self.personal_folder) / lesson_id, Path(self.released_folder) / lesson_id if self.released_folder else None):
            if folder is not None and folder.is_dir() and not folder.is_symlink():
                return folder
        return None


class _Paceline:
    auth_resource = "contents"  # a student's own files: whoever may read their server's files may read these

    def initialize(self, settings: StudentProgress) -> None:
        self.progress = settings

    def _fail(self, status: int, message: str) -> None:
        raise web.HTTPError(status, message)


class ProgressHandler(_Paceline, APIHandler):
    _gone = False

    @web.authenticated
    @authorized
    async def get(self) -> None:
        me = self.progress.student_id
        if not me or not self.progress.personal_folder:
            self._fail(404, "paceline is not configured for this server (no student id): ask your instructor")
        asked = self.get_query_argument("student", None)
        if asked is not None and asked != me:
            self._fail(403, "you can only see your own progress")
        wait = self._wait()
        data = self._document()
        if wait and self._shown(data):
            data = await self._changed(data, wait=wait)
        self.set_header("Cache-Control", "no-store")
        self.finish(data)  # as application/json; a 304 when it is still the one shown (tornado checks the ETag)

    def on_connection_close(self) -> None:
        self._gone = True  # a panel that closed stops the wait
        super().on_connection_close()

    def _wait(self) -> float:
        text = self.get_query_argument("wait", "0")
        try:
            wait = float(text)
        except ValueError:
            wait = -1.0
        if not 0 <= wait <= LONGEST_WAIT:  # NaN fails this too
            self._fail(400, f"wait must be a number of seconds from 0 to {LONGEST_WAIT}, not {text[:20]!r}")
        return wait

    def _document(self) -> bytes:
        data = _read(self.progress.document, missing="no progress document yet: it appears once the course is released")
        try:
            json.loads(data)
        except ValueError:
            self._fail(503, "the progress document is being rewritten: try again in a moment")
        return data

    def _shown(self, data: bytes) -> bool:
        """Whether ``data`` is the document the request says it shows (its If-None-Match)."""
        self.set_header("Etag", '"%s"' % hashlib.sha1(data).hexdigest())  # tornado's own ETag of this body
        try:
            return self.check_etag_header()
        finally:
            self.clear_header("Etag")  # finish() sets it again, and answers 304 itself when it matches

    async def _changed(self, data: bytes, *, wait: float) -> bytes:
        """The document once it differs from ``data``, or ``data`` after ``wait`` seconds.

        Rewrites replace the file (a new inode), so a stat every ``CHANGE_CHECK``
        seconds tells when to read it again; a half-written document is not one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen = _identity(self.progress.document)
        while not self._gone and loop.time() < deadline:
            await asyncio.sleep(CHANGE_CHECK)
            now = _identity(self.progress.document)
            if now == seen:
                continue
            seen = now
            try:
                fresh = _read(self.progress.document, missing="")
                json.loads(fresh)
            except (web.HTTPError, ValueError):
                continue  # gone or being rewritten for a moment: look again
            if not self._shown(fresh):
                return fresh
        return data


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


class ReviewHandler(_Paceline, APIHandler):
    @web.authenticated
    @authorized
    async def post(self, lesson_id: str) -> None:
        if not self.progress.student_id or not self.progress.personal_folder:
            self._fail(404, "paceline is not configured for this server (no student id): ask your instructor")
        if not SAFE_ID.match(lesson_id) or ".." in lesson_id:
            self._fail(404, "no such lesson")
        try:
            document = json.loads(_read(self.progress.document, missing="no progress document yet"))
            lesson = next((entry for entry in document["lessons"] if entry["id"] == lesson_id), None)
        except (ValueError, KeyError, TypeError):
            self._fail(503, "the progress document is being rewritten: try again in a moment")
        if lesson is None:
            self._fail(404, f"no lesson {lesson_id} in your course")
        if lesson["state"] in CLOSED_STATES:
            self._fail(403, f"{lesson_id} is not open to you yet: {lesson['state_text']}")
        released = self.progress.released_lesson(lesson_id)
        attempt = max((a["number"] for a in lesson["attempts"]), default=None)
        sources: list[tuple[str, Path | None]] = [(REVIEW_RELEASED, released)]
        if attempt is not None:
            submitted, feedback = review_attempt_folders(attempt)
            sources += [(submitted, self.progress.submitted_attempt(lesson_id, attempt)),
                        (feedback, self.progress.feedback_attempt(lesson_id, attempt))]
        home = Path(self.contents_manager.root_dir)
        try:
            copied, missing = copy_for_review(home, lesson_id, sources)
        except PermissionError:
            self._fail(403, "this is not yours to read")
        self.finish(json.dumps({"folder": "/".join(review_parts(lesson_id)), "attempt": attempt,
                                "copied": copied, "missing": missing}))


# A lesson in these states is not open to the student: nothing of it to review.
CLOSED_STATES = frozenset({"locked", "not_open"})
MAX_REVIEW_BYTES = 200 * 1024 * 1024


def copy_for_review(home: Path, lesson_id: str, sources: list[tuple[str, Path | None]]) -> tuple[list[str], list[str]]:
    """Copy each source folder's regular files (no link followed) into ``review/<lesson>/<name>/`` of the
    student's ``home``, read-only, replacing an earlier review; returns the copied paths (relative to the
    home) and the names of the sources that are not there."""
    review = home.joinpath(*review_parts(lesson_id))
    review.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{lesson_id}-", dir=review.parent))
    copied: list[str] = []
    missing: list[str] = []
    budget = MAX_REVIEW_BYTES
    try:
        for name, source in sources:
            files = _regular_files(source) if source is not None else []
            if not files:
                missing.append(name)
                continue
            for relative in files:
                data = _read(source / relative, missing="gone meanwhile")
                budget -= len(data)
                if budget < 0:
                    raise web.HTTPError(413, "this lesson is too large to copy for a review")
                target = staging / name / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(0o444)  # a copy to look at: JupyterLab opens it read-only
                copied.append("/".join([*review_parts(lesson_id), name, *relative.parts]))
        if review.exists():
            shutil.rmtree(review)
        os.rename(staging, review)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(copied), missing


def _regular_files(folder: Path) -> list[Path]:
    """The regular files under ``folder`` (relative), skipping links and hidden names (nbgrader's too)."""
    found: list[Path] = []
    for parent, folders, names in os.walk(folder):  # os.walk does not descend into linked folders
        folders[:] = sorted(f for f in folders if not f.startswith(".") and not os.path.islink(os.path.join(parent, f)))
        for name in sorted(names):
            path = Path(parent) / name
            if not name.startswith(".") and stat.S_ISREG(path.lstat().st_mode):
                found.append(path.relative_to(folder))
    return found


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


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
        (url_path_join(base, r"paceline/review/([^/]+)"), ReviewHandler, {"settings": settings}),
    ])
    serverapp.log.info("paceline: progress for student %r from %s", settings.student_id, settings.personal_folder)
