"""Paceline's Jupyter server extension in a real jupyter_server on 127.0.0.1 (a subprocess with a token)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from graders.course.layout import PERSONAL_FEEDBACK, PERSONAL_SUBMISSIONS, PROGRESS_DOCUMENT, personal_submission_parts
from graders.course.plan import CourseConfig, GradingSettings, LatePolicy
from graders.exchange.personal_folder import write_personal_file
from graders.hub.settings import STUDENT_SERVER_EXTENSION, student_server_config
from graders.hub.student_server import EXTENSION
from graders.page_policy import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).parent.parent
TOKEN = "paceline-test-token"
DOCUMENT = {"schema": "paceline-progress/1", "revision": "r1", "student": {"id": "ada"}, "lessons": [
    {"id": "01-intro", "state": "graded", "state_text": "graded", "attempts": [{"number": 1}, {"number": 2}]},
    {"id": "02-gated", "state": "open", "state_text": "open", "attempts": []},
    {"id": "03-later", "state": "locked", "state_text": "locked — unlocks when your best score on 02-gated reaches 60%",
     "attempts": []},
]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect to the login page is the answer itself
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def get(url: str, *, token: str | None = TOKEN, method: str = "GET",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                     headers={**({"Authorization": f"token {token}"} if token else {}), **(headers or {})})
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """A student's server for ada, whose personal folder holds her document and one attempt's feedback."""
    tmp = tmp_path_factory.mktemp("student-server")
    course = CourseConfig(root=tmp, id="py101", title="Python 101", timezone=ZoneInfo("UTC"), roster_path=tmp / "students.csv",
                          source_dir=tmp / "course_source", exchange_root=tmp / "exchange", late_policy=LatePolicy(),
                          grading=GradingSettings())
    personal = course.layout.exchange.personal_dir
    for student in ("ada", "brook"):
        (personal / student).mkdir(parents=True)
        write_personal_file(personal / student, [PROGRESS_DOCUMENT], json.dumps({**DOCUMENT, "student": {"id": student}}).encode())
    write_personal_file(personal / "ada", [PERSONAL_FEEDBACK, "01-intro", "1", "intro.html"], b"<html><p>ada's feedback</p></html>")
    write_personal_file(personal / "brook", [PERSONAL_FEEDBACK, "01-intro", "1", "intro.html"], b"<html>brook's</html>")
    # What a review copies: the lesson released to everyone, one unlocked for ada alone, her attempts' notebooks.
    released = course.layout.exchange.released("01-intro")
    (released / "data").mkdir(parents=True)
    (released / "intro.ipynb").write_text("as released")
    (released / "data" / "table.csv").write_text("a\n1\n")
    write_personal_file(personal / "ada", ["02-gated", "gated.ipynb"], b"unlocked for ada")
    for attempt in (1, 2):
        write_personal_file(personal / "ada", [*personal_submission_parts("01-intro", attempt), "intro.ipynb"],
                            f"ada's attempt {attempt}".encode())
    write_personal_file(personal / "ada", [PERSONAL_FEEDBACK, "01-intro", "2", "intro.html"], b"<html>attempt 2</html>")
    os.symlink(personal / "brook" / PROGRESS_DOCUMENT, personal / "ada" / PERSONAL_SUBMISSIONS / "01-intro" / "2" / "brook.ipynb")
    config = tmp / "config"
    config.mkdir()
    # As the hub writes them: the extension on for everyone, whose server it is per student.
    assert STUDENT_SERVER_EXTENSION == EXTENSION
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {STUDENT_SERVER_EXTENSION: True}}, **student_server_config(course, "ada")}))
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(config), "JUPYTER_CONFIG_DIR": str(tmp / "user-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    (tmp / "home").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp / 'home'}",
         "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "wb"))
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(base + "api/status")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("jupyter_server did not start:\n" + (tmp / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base, personal, tmp / "home"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.e2e
def test_the_student_reads_her_own_document_and_nobody_elses(server: tuple[str, Path, Path]) -> None:
    base, personal, _ = server
    status, headers, body = get(base + "paceline/progress")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json",
                                                                    {**DOCUMENT, "student": {"id": "ada"}})
    assert get(base + "paceline/progress?student=ada")[0] == 200
    status, _, body = get(base + "paceline/progress?student=brook")
    assert (status, json.loads(body)["message"]) == (403, "you can only see your own progress")
    assert get(base + "paceline/progress", token=None)[0] == 403  # not logged in
    assert get(base + "paceline/progress", token="wrong")[0] == 403
    # The panel polls with the last answer's ETag: an unchanged document is a 304 with no body.
    etag = headers["Etag"]
    assert get(base + "paceline/progress", headers={"If-None-Match": etag})[:3:2] == (304, b"")
    assert get(base + "paceline/progress", headers={"If-None-Match": '"other"'})[0] == 200


@pytest.mark.e2e
def test_a_request_that_waits_answers_when_her_document_changes(server: tuple[str, Path, Path]) -> None:
    base, personal, _ = server
    _, headers, original = get(base + "paceline/progress")
    shown = {"If-None-Match": headers["Etag"]}
    # Unchanged for the whole wait: a 304, after waiting.
    started = time.monotonic()
    assert get(base + "paceline/progress?wait=1", headers=shown)[:3:2] == (304, b"")
    assert time.monotonic() - started >= 1
    # Rewritten (as paceline writes it: a new file put in place) while a request waits: that request
    # answers with the new document, long before its wait is over (an unanswered wait would be a 304).
    graded = {**json.loads(original), "revision": "r2"}
    rewrite = threading.Timer(0.5, write_personal_file, (personal / "ada", [PROGRESS_DOCUMENT], json.dumps(graded).encode()))
    rewrite.start()
    try:
        status, _, body = get(base + "paceline/progress?wait=25", headers=shown)
        assert (status, json.loads(body)) == (200, graded)
        # A document other than the one shown is answered at once, waiting or not.
        assert get(base + "paceline/progress?wait=25", headers=shown)[0] == 200
    finally:
        rewrite.join()
        write_personal_file(personal / "ada", [PROGRESS_DOCUMENT], original)
    for wait in ("31", "-1", "nan", "soon"):
        status, _, body = get(base + f"paceline/progress?wait={wait}", headers=shown)
        assert (status, json.loads(body)["message"]) == (400, f"wait must be a number of seconds from 0 to 30, not {wait!r}")


@pytest.mark.e2e
def test_feedback_pages_by_attempt_with_paceline_csp(server: tuple[str, Path, Path]) -> None:
    base, personal, _ = server
    for url in ("paceline/feedback/01-intro/1", "paceline/feedback/01-intro/1/intro", "paceline/feedback/01-intro/1/intro.ipynb"):
        status, headers, body = get(base + url)
        assert (status, body) == (200, b"<html><p>ada's feedback</p></html>"), url
        assert headers["Content-Type"] == "text/html; charset=UTF-8"
        assert headers["Content-Security-Policy"].startswith(CONTENT_SECURITY_POLICY + ";")
    for url in ("paceline/feedback/01-intro/3", "paceline/feedback/02-next/1", "paceline/feedback/..%2Fbrook/1",
                "paceline/feedback/01-intro/1/other"):
        assert get(base + url)[0] == 404, url
    status, headers, _ = get(base + "paceline/feedback/01-intro/1", token=None)
    assert (status, headers["Location"].split("?")[0]) == (302, "/login")  # a page: off to log in first


@pytest.mark.e2e
def test_no_document_yet_is_a_404(server: tuple[str, Path, Path]) -> None:
    base, personal, _ = server
    document = personal / "ada" / PROGRESS_DOCUMENT
    document.rename(document.with_suffix(".away"))
    try:
        status, _, body = get(base + "paceline/progress")
        assert status == 404
        assert "no progress document yet" in json.loads(body)["message"]
    finally:
        document.with_suffix(".away").rename(document)


@pytest.mark.e2e
def test_review_copies_her_own_lesson_submission_and_feedback_read_only(server: tuple[str, Path, Path]) -> None:
    base, personal, home = server
    status, _, body = get(base + "paceline/review/01-intro", method="POST")
    assert status == 200, body
    review = json.loads(body)
    folder = "review/01-intro"
    assert review == {"folder": folder, "attempt": 2, "missing": [], "copied": [
        f"{folder}/attempt 2 feedback/intro.html", f"{folder}/attempt 2 submitted/intro.ipynb",
        f"{folder}/released/data/table.csv", f"{folder}/released/intro.ipynb"]}
    assert (home / folder / "released" / "intro.ipynb").read_text() == "as released"
    assert (home / folder / "attempt 2 submitted" / "intro.ipynb").read_text() == "ada's attempt 2"  # her last
    assert (home / folder / "attempt 2 feedback" / "intro.html").read_text() == "<html>attempt 2</html>"
    assert (home / folder / "released" / "intro.ipynb").stat().st_mode & 0o777 == 0o444
    assert not (home / folder / "attempt 2 submitted" / "brook.ipynb").exists()  # a planted link is not followed

    # A second review replaces the first copies, and leaves nothing half-made beside them.
    write_personal_file(personal / "ada", [PERSONAL_FEEDBACK, "01-intro", "2", "intro.html"], b"<html>regraded</html>")
    assert get(base + "paceline/review/01-intro", method="POST")[0] == 200
    assert (home / folder / "attempt 2 feedback" / "intro.html").read_text() == "<html>regraded</html>"
    assert sorted(p.name for p in (home / "review").iterdir()) == ["01-intro"]

    # A lesson unlocked for her alone, not attempted yet: only the lesson as released to her.
    status, _, body = get(base + "paceline/review/02-gated", method="POST")
    assert (status, json.loads(body)["copied"]) == (200, ["review/02-gated/released/gated.ipynb"])
    status, _, body = get(base + "paceline/review/03-later", method="POST")
    assert status == 403 and "not open to you yet: locked" in json.loads(body)["message"]
    for lesson in ("99-unknown", "..%2Fbrook", "01-intro%2F..%2F..", "%2E%2E"):
        assert get(base + f"paceline/review/{lesson}", method="POST")[0] == 404, lesson
    assert get(base + "paceline/review/01-intro", method="POST", token=None)[0] == 403
    assert get(base + "paceline/review/01-intro")[0] == 405  # copying is a POST
