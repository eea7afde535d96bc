"""The course in a real JupyterHub: real unix students, their own servers, nbgrader's REST endpoints.

The module starts ``paceline hub``'s JupyterHub by itself on 127.0.0.1 for a
copy of the fixture course in the tests' course environment (conftest's
``course_env``: its kernels are the students' kernels), with three roster students who get real unix
accounts (a fresh ``pl<hex>-`` prefix per run, deleted afterwards). Students
log in through the hub's REST API (a token each) and then make the calls
JupyterLab's Assignments panel makes against their own single-user server
(list, fetch, submit, fetch feedback), editing files through the Jupyter
contents API as JupyterLab does; what only a terminal could do (rename a
submission, plant a link) they do as their own unix account. The instructor
side (root, in this process) collects, grades in the sandbox, grants
extensions and releases feedback.

Layout, as docs/jupyterhub.md recommends for a shared machine: the course
folder is private to the instructor (under pytest's 0700 temp folder); the
exchange and the students' homes live in a separate world-traversable folder.

Needs root, the kernel sandbox (``make sandbox``) and the hub tools
(``make hub-tools``; ``make test`` runs both); without them the module is
skipped with the reason, except under CI, where a missing install step must
fail, not pass unseen.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.cookiejar
import io
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from graders import hub as hubmod
from graders.course.environment import kernel_environment
from graders.course.plan import CourseConfig, load_course
from graders.errors import HubError
from graders.exchange.collect import collect_submissions
from graders.exchange.ledger import Ledger
from graders.exchange.release import release_lessons
from graders.feedback.release import release_feedback
from graders.grading.grade import grade_attempts
from graders.grading.lateness import grant_extension
from graders.hub.process import CGROUP_NAME
from graders.hub.settings import STUDENT_LAB_PLUGINS_OFF, WATCH_SERVICE_NAME
from graders.operations.progress_files import refresh_progress_documents
from graders.sandbox import check_sandbox
from graders.sandbox.cgroups import cgroup_parent

from conftest import BuiltCourseEnvironment, skip_or_fail_without

FIXTURES = Path(__file__).parent / "fixtures"
TEST_MARK = re.compile(r"^paceline student pl[0-9a-f]{6}-\S+ \(fixture\)$")  # GECOS of this module's accounts
ZONE = ZoneInfo("Europe/Berlin")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _host_problems() -> list[str]:
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root (it creates unix accounts and runs JupyterHub's LocalProcessSpawner)")
    if shutil.which("useradd") is None:
        problems.append("useradd is missing")
    problems += hubmod.HubTools(hubmod.default_tools_dir()).problems()
    problems += check_sandbox()
    return problems


@pytest.fixture(scope="module")
def host_ready() -> None:
    skip_or_fail_without("JupyterHub e2e not possible here (make hub-tools sandbox)", _host_problems())


# --------------------------------------------------------------------------
# the course and its students
# --------------------------------------------------------------------------

@dataclass
class PreparedCourse:
    course: CourseConfig
    accounts: dict[str, str]  # roster id -> unix account
    shared: Path  # the world-traversable folder: exchange/ and home/

    def uid(self, student_id: str) -> int:
        return pwd.getpwnam(self.accounts[student_id]).pw_uid

    def home(self, student_id: str) -> Path:
        return Path(pwd.getpwnam(self.accounts[student_id]).pw_dir)


def _local(when: dt.datetime) -> str:
    """A TOML local date-time in the course's time zone."""
    return when.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S")


def write_course_toml(root: Path, *, exchange: Path, now: dt.datetime, environment: str) -> None:
    """Lesson 1 was due 12 hours ago (work submitted now is one day late); lesson 2 needs full marks on it.
    ``environment``: the course's [environment] table."""
    day = dt.timedelta(days=1)
    (root / "course.toml").write_text(f"""\
[course]
id = "fixture"
title = "Fixture course"
timezone = "Europe/Berlin"
exchange = "{exchange}"

[late_policy]
method = "per_day"
per_day = 0.25
cap = 0.5

[grading]
timeout = 10

[gating]
pass_fraction = 1.0

[[lessons]]
id = "01-add"
title = "Adding numbers"
opens = {_local(now - 10 * day)}
target = {_local(now - 3 * day)}
due = {_local(now - dt.timedelta(hours=12))}

[[lessons]]
id = "02-words"
title = "Counting words"
opens = {_local(now - 10 * day)}
target = {_local(now + 3 * day)}
due = {_local(now + 7 * day)}
requires = ["01-add"]
""" + environment)


def _remove_stale_test_accounts() -> None:
    """Accounts a killed earlier run of this module could not delete (they carry its mark), with
    their shared folder; never those of a run still going (its pytest's pid is in owner.pid)."""
    for entry in pwd.getpwall():
        if not TEST_MARK.match(entry.pw_gecos):
            continue
        shared = Path(entry.pw_dir).parent.parent
        try:
            owner = int((shared / "owner.pid").read_text())
        except (OSError, ValueError):
            owner = None
        if owner is not None and owner != os.getpid() and Path(f"/proc/{owner}").exists():
            continue
        hubmod.remove_student_accounts([entry.pw_name])
        if shared.name.startswith("paceline-hub-e2e-"):
            shutil.rmtree(shared, ignore_errors=True)


def _hub_cgroups() -> list[Path]:
    parent = cgroup_parent("pids")
    return [] if parent is None else sorted(parent.glob(f"{CGROUP_NAME}*"))


@contextmanager
def hub_course(tmp_path_factory: pytest.TempPathFactory, *, label: str, write_toml: Callable[[Path, Path], None],
               roster: Callable[[str], str]) -> Iterator[PreparedCourse]:
    """The fixture course in a private instructor folder, its exchange in a shared one, its students' unix
    accounts made and the course released; all removed afterwards.

    ``write_toml(root, exchange)`` writes the course's course.toml; ``roster(prefix)`` the rows of its
    students.csv, their ids starting with this run's random ``prefix`` (account names are per host).
    """
    _remove_stale_test_accounts()
    prefix = f"pl{os.urandom(3).hex()}"
    instructor = tmp_path_factory.mktemp(f"{label}-instructor")
    os.chmod(instructor, 0o700)
    shared = Path(tempfile.mkdtemp(prefix="paceline-hub-e2e-", dir="/tmp"))
    os.chmod(shared, 0o755)
    (shared / "owner.pid").write_text(str(os.getpid()))
    root = instructor / "course"
    shutil.copytree(FIXTURES / "course", root)
    write_toml(root, shared / "exchange")
    (root / "students.csv").write_text("id,name,email,enrolled_at\n" + roster(prefix))
    course = load_course(root)
    accounts = hubmod.student_accounts(course)
    try:
        created = hubmod.ensure_student_accounts(course, home_base=shared / "home")
        assert created == list(accounts.values())
        hubmod.prepare_exchange(course)  # before release: root-owned, sticky, no student got there first
        release_lessons(course)
        yield PreparedCourse(course=course, accounts=accounts, shared=shared)
    finally:
        hubmod.remove_student_accounts(list(accounts.values()))
        shutil.rmtree(shared, ignore_errors=True)
    assert not [name for name in accounts.values() if _account_exists(name)]


@pytest.fixture(scope="module")
def prepared(host_ready: None, tmp_path_factory: pytest.TempPathFactory,
             course_env: BuiltCourseEnvironment) -> Iterator[PreparedCourse]:
    """The course (in its course environment) released, its exchange prepared, its students' accounts made;
    all removed afterwards."""
    now = dt.datetime.now(dt.timezone.utc)
    with hub_course(tmp_path_factory, label="hub",
                    write_toml=lambda root, exchange: write_course_toml(root, exchange=exchange, now=now,
                                                                        environment=course_env.toml),
                    roster=lambda prefix: (f"{prefix}-ada,Ada Lovelace,ada@example.org,2026-09-01\n"
                                           f"{prefix}-brook,Brook Taylor,brook@example.org,2026-09-01\n"
                                           f"{prefix}-cyd,Cyd Charisse,cyd@example.org,2026-09-10\n")) as prepared:
        yield prepared


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# --------------------------------------------------------------------------
# a student, through the hub: what their browser's JupyterLab would send
# --------------------------------------------------------------------------

class StudentSession:
    """One student's token and the REST calls JupyterLab's Assignments panel and file editor make."""

    def __init__(self, api: hubmod.HubAPI, url: str, prepared: PreparedCourse, student_id: str) -> None:
        self.student_id = student_id
        self.account = prepared.accounts[student_id]
        self.course_id = prepared.course.id
        self.token = api.user_token(self.account, note="paceline e2e")
        self.base = f"{url}/user/{self.account}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return hubmod.http_json(method, f"{self.base}{path}", token=self.token, body=body, timeout=120)

    def page(self, path: str) -> tuple[str, str]:
        """(final URL after redirects, HTML) of a page, as the browser gets it."""
        request = urllib.request.Request(f"{self.base}{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.geturl(), response.read().decode()

    def assignments(self) -> list[dict]:
        answer = self.call("GET", f"/assignments?course_id={self.course_id}")
        assert answer["success"], f"{self.account}: listing failed: {answer['value']}"
        return answer["value"]

    def listed(self, status: str) -> set[str]:
        return {a["assignment_id"] for a in self.assignments() if a["status"] == status}

    def try_fetch(self, lesson_id: str) -> bool:
        """Fetch as the panel does; whether the lesson is now fetched (a failed fetch can answer success)."""
        answer = self.call("POST", "/assignments/fetch", {"course_id": self.course_id, "assignment_id": lesson_id})
        value = answer["value"] if isinstance(answer["value"], list) else []
        return bool(answer["success"]) and any(a["assignment_id"] == lesson_id and a["status"] == "fetched" for a in value)

    def fetch(self, lesson_id: str) -> None:
        assert self.try_fetch(lesson_id), f"{self.account}: fetch {lesson_id} did not happen"

    def write_text(self, path: str, text: str) -> None:
        self.call("PUT", f"/api/contents/{path}", {"type": "file", "format": "text", "content": text})

    def answer(self, path: str, grade_id: str, source: str) -> None:
        notebook = self.call("GET", f"/api/contents/{path}?type=notebook&content=1")["content"]
        cells = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]
        assert len(cells) == 1, f"{path} has no single cell {grade_id!r}"
        cells[0]["source"] = source
        self.call("PUT", f"/api/contents/{path}", {"type": "notebook", "format": "json", "content": notebook})

    def submit(self, lesson_id: str) -> str:
        """Submit; returns the new submission's timestamp (as the student's side wrote it)."""
        before = self._timestamps(lesson_id, self.assignments())
        answer = self.call("POST", "/assignments/submit", {"course_id": self.course_id, "assignment_id": lesson_id})
        assert answer["success"], f"{self.account}: submit {lesson_id} failed: {answer['value']}"
        new = self._timestamps(lesson_id, answer["value"]) - before
        assert len(new) == 1, f"{self.account}: submit {lesson_id} listed {len(new)} new submissions"
        return new.pop()

    def fetch_feedback(self, lesson_id: str) -> list[dict]:
        answer = self.call("POST", "/assignments/fetch_feedback", {"course_id": self.course_id, "assignment_id": lesson_id})
        assert answer["success"], f"{self.account}: fetch_feedback {lesson_id} failed: {answer['value']}"
        submitted = next(a for a in answer["value"] if a["assignment_id"] == lesson_id and a["status"] == "submitted")
        return submitted["submissions"]

    @staticmethod
    def _timestamps(lesson_id: str, listing: list[dict]) -> set[str]:
        return {s["timestamp"] for a in listing if a["assignment_id"] == lesson_id and a["status"] == "submitted"
                for s in a["submissions"]}


class Browser:
    """A browser's cookie session with the hub: logs in through the login form, as a student would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> tuple[int, str, str]:
        """(status, final URL after redirects, body) of a GET."""
        try:
            with self.opener.open(f"{self.url}{path}", timeout=120) as response:
                return response.status, response.geturl(), response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode(errors="replace")

    def log_in(self, account: str, password: str) -> bool:
        """Submit the hub's login form; whether the hub let us in (a failed login answers 403 with the form)."""
        _, _, form = self.get("/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({"username": account, "password": password, "_xsrf": xsrf}).encode()
        request = urllib.request.Request(f"{self.url}/hub/login?next=%2Fhub%2Fhome", data=body, method="POST")
        try:
            with self.opener.open(request, timeout=120) as response:
                return urllib.parse.urlparse(response.geturl()).path == "/hub/home"
        except urllib.error.HTTPError:
            return False

    def whoami(self) -> str | None:
        status, _, body = self.get("/hub/api/user")
        return json.loads(body)["name"] if status == 200 else None


_HANDED_OUT: dict[Path, dict[str, str]] = {}


def student_passwords(course: CourseConfig) -> dict[str, str]:
    """account -> password, from the list `paceline hub` writes for the instructor to hand out, as first read
    (an instructor copies it out: a row leaves the file at its student's first login)."""
    path = course.layout.hub_passwords_csv
    if path not in _HANDED_OUT:
        _HANDED_OUT[path] = listed_passwords(course)
    return _HANDED_OUT[path]


def listed_passwords(course: CourseConfig) -> dict[str, str]:
    """account -> password, from the list as it is now."""
    return {row["account"]: row["password"] for row in csv.DictReader(io.StringIO(course.layout.hub_passwords_csv.read_text()))}


def run_as(account: str, *argv: str) -> subprocess.CompletedProcess:
    """A command as the student's own unix account, outside the hub (what their terminal could do)."""
    return subprocess.run(["setpriv", "--reuid", account, "--regid", account, "--init-groups", "--", *argv],
                          capture_output=True, text=True, timeout=60, cwd="/")


def processes() -> list[tuple[int, list[str]]]:
    """(uid, argv) of every process on the host."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            found.append((proc.stat().st_uid, argv))
        except (OSError, ValueError):
            continue
    return found


def inbound_of(course: CourseConfig, student_id: str, lesson_id: str) -> list[Path]:
    return sorted(p for p in course.layout.exchange.inbound.iterdir() if p.name.startswith(f"{student_id}+{lesson_id}+"))


ADD = "def add(a, b):\n    return a + b\n"
ADD_INTS = "def add(a, b):\n    return int(a) + int(b)\n"  # fails the hidden float test: 1 of 3 points


# --------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------

@pytest.fixture
def hub(prepared: PreparedCourse) -> Iterator[hubmod.HubProcess]:
    with hubmod.run_hub(prepared.course, echo=None) as running:
        cgroup = running.cgroup
        assert (cgroup is None) == (cgroup_parent("pids") is None)  # where the host has one, the run has its own
        yield running
    # Everything this run started is gone: hub, proxy, servers and their children, and the cgroup.
    assert hubmod.run_processes(running.settings.run_id) == []
    assert running.proc.returncode is not None and running.cgroup is None
    assert cgroup is None or not cgroup.exists()


def test_students_work_through_the_hub_and_the_exchange_cannot_be_fooled(prepared: PreparedCourse, hub: hubmod.HubProcess) -> None:
    course = prepared.course
    ada, brook, cyd = prepared.accounts  # roster order
    assert hubmod.exposed_instructor_paths(course) == []
    # nbgrader's release resets the exchange root's low bits to 0777 and leaves the sticky bit alone.
    assert stat.S_IMODE(course.exchange_root.stat().st_mode) == 0o1777

    # Log in: the service starts every student's server, then gets each student their own token.
    for account in prepared.accounts.values():
        hub.api.start_server(account)
    try:
        hub.api.wait_ready(list(prepared.accounts.values()), timeout=180)
    except HubError as exc:
        pytest.fail(f"{exc}\n--- hub log ---\n{hub.log_tail(60)}")
    students = {sid: StudentSession(hub.api, hub.url, prepared, sid) for sid in prepared.accounts}

    # A kernel she starts runs the course environment ([environment]), as her own unprivileged account.
    python = kernel_environment(course).python
    assert students[ada].call("GET", "/api/kernelspecs")["kernelspecs"]["python3"]["spec"]["argv"][0] == python
    kernel = students[ada].call("POST", "/api/kernels", {"name": "python3"})["id"]
    try:
        deadline = time.monotonic() + 90  # the REST state stays "starting" until a client asks the kernel anything
        while not (started := [cmdline for uid, cmdline in processes() if f"kernel-{kernel}.json" in " ".join(cmdline)]):
            assert time.monotonic() < deadline, f"ada's kernel did not start\n{hub.log_tail(40)}"
            time.sleep(0.5)
        [argv] = started
        assert argv[0] == python and argv[1:3] == ["-m", "ipykernel_launcher"]
        assert [uid for uid, cmdline in processes() if cmdline == argv] == [prepared.uid(ada)]
    finally:
        students[ada].call("DELETE", f"/api/kernels/{kernel}")
    done = run_as(prepared.accounts[ada], python, "-c", "import statsdemo; print(statsdemo.mean([1, 3]))")
    assert done.stdout.strip() == "2.0", done.stderr  # the package only the course environment has

    # JupyterLab is the default UI; nbgrader's instructor parts are off for students.
    url, html = students[ada].page("/")
    assert url.endswith(f"/user/{prepared.accounts[ada]}/lab"), url
    page_config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert set(STUDENT_LAB_PLUGINS_OFF) <= set(page_config["disabledExtensions"])
    with pytest.raises(HubError, match="HTTP 404"):
        students[ada].call("GET", "/formgrader")

    # The gated lesson is invisible and cannot be fetched: only lesson 1 is there.
    for sid, student in students.items():
        assert student.listed("released") == {"01-add"}
        assert not student.try_fetch("02-words")
        assert not (prepared.home(sid) / "02-words").exists()
        student.fetch("01-add")
        fetched = prepared.home(sid) / "01-add" / "add.ipynb"
        assert fetched.stat().st_uid == prepared.uid(sid)
        assert "raise NotImplementedError" in fetched.read_text()

    # A spoofed id: ada's own nbgrader_config.py (written in JupyterLab) says she is brook.
    students[ada].answer("01-add/add.ipynb", "add", ADD)
    students[ada].write_text("nbgrader_config.py", f'c = get_config()\nc.CourseDirectory.student_id = "{brook}"\n')
    students[ada].submit("01-add")
    [spoofed] = inbound_of(course, brook, "01-add")
    assert spoofed.stat().st_uid == prepared.uid(ada)  # named for brook, made by ada's account
    students[ada].call("DELETE", "/api/contents/nbgrader_config.py")

    # A forged timestamp: ada submits as herself, then dates it back before the due date,
    # in both places nbgrader takes the time from (the folder's name and timestamp.txt).
    students[ada].submit("01-add")
    [honest] = inbound_of(course, ada, "01-add")
    forged_time = "2026-01-01 00:00:00.000000 UTC"
    forged = honest.with_name(f"{ada}+01-add+{forged_time}+{honest.name.rsplit('+', 1)[1]}")
    assert run_as(prepared.accounts[ada], "mv", str(honest), str(forged)).returncode == 0
    assert run_as(prepared.accounts[ada], "sh", "-c", f"printf '%s' '{forged_time}' > '{forged}/timestamp.txt'").returncode == 0

    # brook submits weaker work; cyd first plants a link to a file only root may read, then resubmits.
    students[brook].answer("01-add/add.ipynb", "add", ADD_INTS)
    students[brook].submit("01-add")
    students[cyd].answer("01-add/add.ipynb", "add", ADD)
    students[cyd].submit("01-add")
    [planted] = inbound_of(course, cyd, "01-add")
    assert run_as(prepared.accounts[cyd], "ln", "-s", "/etc/shadow", str(planted / "shadow.txt")).returncode == 0
    students[cyd].submit("01-add")

    # Submissions are each student's own files; students cannot look into the inbound or each other's homes.
    for sid in prepared.accounts:
        for folder in inbound_of(course, sid, "01-add"):
            owner = prepared.uid(ada) if folder == spoofed else prepared.uid(sid)
            assert folder.stat().st_uid == owner and all(p.lstat().st_uid == owner for p in folder.rglob("*"))
    assert run_as(prepared.accounts[ada], "ls", str(course.layout.exchange.inbound)).returncode != 0
    assert run_as(prepared.accounts[ada], "cat", str(prepared.home(brook) / "01-add" / "add.ipynb")).returncode != 0
    assert run_as(prepared.accounts[ada], "cat", str(prepared.home(ada) / "01-add" / "add.ipynb")).returncode == 0

    # The instructor side, as root in this process: collect.
    started = dt.datetime.now(dt.timezone.utc)
    collected = collect_submissions(course)
    assert sorted((a.student_id, a.attempt) for a in collected.collected) == [(ada, 1), (brook, 1), (cyd, 1)]
    assert all(a.received_at >= started - dt.timedelta(seconds=1) for a in collected.collected)
    with Ledger.open(course.layout.ledger_path) as ledger:
        refused = {name: reason for name, _, _, _, reason in ledger.rejections()}
        attempts = {a.student_id: a for a in ledger.attempts()}
    assert refused.keys() == {spoofed.name, planted.name}
    assert f"claims to be from '{brook}' but was submitted by '{prepared.accounts[ada]}'" in refused[spoofed.name]
    assert "shadow.txt is a symbolic link" in refused[planted.name]
    shadow = Path("/etc/shadow").read_bytes()
    assert not [p for p in course.layout.submitted_dir.rglob("*") if p.is_file() and p.read_bytes() == shadow]
    # ada's forged time is kept for reference; the time that counts is paceline's receipt.
    assert attempts[ada].claimed_at == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert attempts[ada].submitted_at == attempts[ada].received_at >= started - dt.timedelta(seconds=1)

    # cyd's extension, granted before grading, makes her work on time; grading then unlocks lesson 2 for her.
    grant_extension(course, student_id=cyd, lesson_id="01-add", days=3, reason="e2e: illness", granted_by="e2e")
    graded = grade_attempts(course, workers=2)
    assert graded.problems == []
    marks = {g.attempt.student_id: (g.score, g.late_penalty) for g in graded.graded}
    # One day late: a quarter off. ada's forged date changed nothing.
    assert marks == {ada: (3.0, 0.75), brook: (1.0, 0.25), cyd: (3.0, 0.0)}
    assert graded.unlocked == [(cyd, "02-words")]  # ada's late 2.25 of 3 does not pass: locked

    # An extension granted after grading changes the penalty of work already graded.
    grant_extension(course, student_id=brook, lesson_id="01-add", days=2, reason="e2e: late enrolment", granted_by="e2e")
    with Ledger.open(course.layout.ledger_path) as ledger:
        assert {a.student_id: a.late_penalty for a in ledger.attempts()} == {ada: 0.75, brook: 0.0, cyd: 0.0}

    # The unlocked lesson appears in cyd's panel, and only in hers.
    assert students[cyd].listed("released") == {"02-words"}
    students[cyd].fetch("02-words")
    assert (prepared.home(cyd) / "02-words" / "words.ipynb").stat().st_uid == prepared.uid(cyd)
    for sid in (ada, brook):
        assert "02-words" not in students[sid].listed("released")
        assert not students[sid].try_fetch("02-words")
        assert not (prepared.home(sid) / "02-words").exists()
        personal = course.exchange_root / course.id / "personal" / cyd / "02-words"
        assert run_as(prepared.accounts[sid], "ls", str(personal)).returncode != 0

    # Feedback: released by the instructor, fetched through the panel, landing in each home as theirs.
    feedback = release_feedback(course)
    assert feedback.problems == [] and feedback.released == {"01-add": 3}
    for sid, student in students.items():
        received = [s for s in student.fetch_feedback("01-add") if s["has_local_feedback"]]
        assert len(received) == 1, f"{sid}: {received}"
        [page] = (prepared.home(sid) / "01-add" / "feedback").rglob("add.html")
        assert page.stat().st_uid == prepared.uid(sid)
        text = page.read_text()
        assert "add(1, 2)" in text and "2.5, 2.5" not in text  # visible test shown, hidden test never
    assert "did not all pass" in next((prepared.home(brook) / "01-add" / "feedback").rglob("add.html")).read_text()

    # Each student's progress document: her own server serves it and nobody else's (403), her terminal
    # reads her own file and not a classmate's, and her attempt's feedback opens by its number.
    assert refresh_progress_documents(course).problems == []
    for sid, student in students.items():
        mine, other = course.layout.exchange.progress_document(sid), course.layout.exchange.progress_document(
            brook if sid != brook else ada)
        document = student.call("GET", "/paceline/progress")
        assert document == json.loads(mine.read_text()) and document["student"]["id"] == sid
        with pytest.raises(HubError, match="HTTP 403"):
            student.call("GET", f"/paceline/progress?student={brook if sid != brook else ada}")
        assert run_as(student.account, "cat", str(mine)).returncode == 0
        assert run_as(student.account, "cat", str(other)).returncode != 0
    cyd_add = students[cyd].call("GET", "/paceline/progress")["lessons"][0]
    assert [a["feedback_url"] for a in cyd_add["attempts"]] == ["paceline/feedback/01-add/1"]
    assert "add(1, 2)" in students[cyd].page("/paceline/feedback/01-add/1")[1]
    brook_add = students[brook].call("GET", "/paceline/progress")["lessons"][0]
    assert brook_add["extension"]["reason"] is None  # not marked shareable
    ada_words = students[ada].call("GET", "/paceline/progress")["lessons"][1]
    assert (ada_words["state"], ada_words["unlock"]["best_so_far"]) == ("locked", 0.75)


def test_each_student_logs_in_with_her_own_password_and_reaches_only_her_own_server(prepared: PreparedCourse, hub: hubmod.HubProcess) -> None:
    ada, brook = (prepared.accounts[sid] for sid in list(prepared.accounts)[:2])
    passwords = student_passwords(prepared.course)
    assert set(passwords) == set(prepared.accounts.values()) and len(set(passwords.values())) == len(passwords)
    # One student's password opens no other account, and a wrong one opens none.
    assert not Browser(hub.url).log_in(brook, passwords[ada])
    assert not Browser(hub.url).log_in(ada, passwords[brook])
    assert not Browser(hub.url).log_in(ada, passwords[ada][:-1])
    browsers = {name: Browser(hub.url) for name in (ada, brook)}
    for name, browser in browsers.items():
        assert browser.log_in(name, passwords[name]), f"{name} could not log in with her own password"
        assert browser.whoami() == name
    # Their passwords are in use: they leave the plain-text list, which keeps the others' for handing out.
    assert listed_passwords(prepared.course) == {name: password for name, password in passwords.items()
                                                  if name not in (ada, brook)}
    hub.api.start_server(brook)
    try:
        hub.api.wait_ready([brook], timeout=180)
    except HubError as exc:
        pytest.fail(f"{exc}\n--- hub log ---\n{hub.log_tail(60)}")
    # brook's own session opens her JupyterLab (so the refusal below is not a broken hub)...
    status, url, page = browsers[brook].get(f"/user/{brook}/lab")
    assert status == 200 and urllib.parse.urlparse(url).path == f"/user/{brook}/lab", (status, url)
    assert f'"hubUser": "{brook}"' in page
    # ...and ada's cookie does not: the hub refuses to authorise her for brook's server.
    status, url, page = browsers[ada].get(f"/user/{brook}/lab")
    assert status == 403, (status, url, page[:500])
    assert "hubUser" not in page


def test_paceline_hub_command_runs_watch_as_a_service_and_stops_everything(prepared: PreparedCourse) -> None:
    course = prepared.course
    command = [str(Path(sys.executable).parent / "paceline"), "--course", str(course.root),
               "hub", "--port", "0", "--interval", "1", "--workers", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed: list[str] = []
    try:
        while not any("Press Ctrl-C" in line for line in printed):
            line = proc.stdout.readline()
            assert line, f"paceline hub exited with {proc.wait()}:\n{''.join(printed)}"
            printed.append(line)
        text = "".join(printed)
        url = re.search(r"JupyterHub for fixture at (http://127\.0\.0\.1:\d+)/ \(this machine only\)", text).group(1)
        assert f"log in as a student: user name = their unix account ({prepared.accounts[next(iter(prepared.accounts))]}" in text
        assert "password: each student's own" in text
        hub_dir = course.layout.hub_dir
        token = (hub_dir / "service-token").read_text().strip()
        assert stat.S_IMODE(hub_dir.stat().st_mode) == 0o700

        # The hub started `paceline watch` as a managed service, and it is working on the course.
        service = hubmod.http_json("GET", f"{url}/hub/api/services/{WATCH_SERVICE_NAME}", token=token)
        assert service["command"][-5:] == ["watch", "--interval", "1.0", "--workers", "1"]
        log = hub_dir / "jupyterhub.log"
        deadline = time.monotonic() + 60
        while "Watching fixture every 1 s" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, f"the watch service did not start:\n{log.read_text()[-3000:]}"
            assert proc.poll() is None
            time.sleep(0.3)
        run_id = next(line.split("=", 1)[1] for line in (Path("/proc") / str(service["pid"]) / "environ")
                      .read_bytes().decode().split("\0") if line.startswith("PACELINE_HUB_RUN="))
        assert service["pid"] in hubmod.run_processes(run_id)

        # Feedback on arrival: a student submits through her server; nobody runs collect, grade or
        # feedback by hand, yet the feedback for that very submission reaches her panel.
        api = hubmod.HubAPI(url, token)
        ada = next(iter(prepared.accounts))
        # She logs in with her own password, from the list the hub wrote for the instructor.
        assert Browser(url).log_in(prepared.accounts[ada], student_passwords(course)[prepared.accounts[ada]])
        api.start_server(prepared.accounts[ada])
        api.wait_ready([prepared.accounts[ada]], timeout=180)
        student = StudentSession(api, url, prepared, ada)
        if not (prepared.home(ada) / "01-add").exists():  # when this test runs on its own
            student.fetch("01-add")
        student.answer("01-add/add.ipynb", "add", ADD)
        submitted = student.submit("01-add")
        deadline = time.monotonic() + 120
        while not any(s["timestamp"] == submitted and s["has_local_feedback"] for s in student.fetch_feedback("01-add")):
            assert time.monotonic() < deadline, f"no feedback for {submitted}:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        with Ledger.open(course.layout.ledger_path) as ledger:
            latest = max((a for a in ledger.attempts() if a.student_id == ada), key=lambda a: a.attempt)
        assert latest.graded_at is not None and latest.score == 3.0
    finally:
        proc.send_signal(signal.SIGTERM)  # what a service manager, or Ctrl-C, does
        rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, rest
    assert hubmod.run_processes(run_id) == []  # hub, proxy, watch and its Dask workers: all gone
    assert f"{CGROUP_NAME}{run_id}" not in {path.name for path in _hub_cgroups()}


def test_a_student_whose_id_is_not_an_account_name_is_recognised_by_collect(host_ready: None, fixture_course: Path) -> None:
    from graders.exchange.collect import check_owner

    student_id = f"pl{os.urandom(3).hex()}-Dee@uni"
    (fixture_course / "students.csv").write_text(f"id,name,email,enrolled_at\n{student_id},Dee,dee@example.org,2026-09-01\n")
    course = load_course(fixture_course)
    shared = Path(tempfile.mkdtemp(prefix="paceline-hub-e2e-", dir="/tmp"))
    os.chmod(shared, 0o755)
    (shared / "owner.pid").write_text(str(os.getpid()))
    [account] = hubmod.student_accounts(course).values()
    try:
        hubmod.ensure_student_accounts(course, home_base=shared / "home")
        submission = shared / f"{student_id}+01-add+2026-09-09 10:00:00.000000 UTC+abc"
        os.mkdir(submission)
        os.chown(submission, pwd.getpwnam(account).pw_uid, pwd.getpwnam(account).pw_gid)  # as their submit makes it
        check_owner(submission, student_id=student_id)
    finally:
        hubmod.remove_student_accounts([account])
        shutil.rmtree(shared, ignore_errors=True)
