from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Reports keep drawn formulas and compiled templates in a cache folder: the tests' (and the reports, kernels
# and commands they start, which inherit it) go in the project's pytest cache, not the home of whoever runs
# them; it stays warm from run to run.
os.environ["PACELINE_CACHE_DIR"] = str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "paceline")

# Debian's chromium, driven by Playwright: what a person sees in a browser is tested in one.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


def browser_problems() -> list[str]:
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium; make browser)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install -e '.[test]')")
    return problems


def skip_or_fail_without(what: str, problems: list[str]) -> None:
    """Skip a test this host cannot run (``what``: the make target that fixes it), but fail under CI,
    where `make test` installs everything: a test that silently skips there tests nothing."""
    if problems:
        message = f"{what}: " + "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """Headless chromium for one test module; skipped without it, except in CI where `make test` installs it."""
    skip_or_fail_without("no browser for this test (make browser)", browser_problems())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session", autouse=True)
def _alembic_head_asked_once() -> Iterator[None]:
    """nbgrader runs the ``alembic heads`` command to stamp every gradebook it creates (about a second
    each, hundreds of times in this suite); the answer depends only on the installed nbgrader, so the
    suite's own process asks once. Commands run as subprocesses still ask for themselves."""
    import functools

    import nbgrader.api

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nbgrader.api, "get_alembic_version", functools.cache(nbgrader.api.get_alembic_version))
        yield


def bare_course_config(root: Path):
    """A course held in memory at ``root`` (no course.toml, no lessons): id "c", UTC, nbgrader's late policy."""
    from zoneinfo import ZoneInfo

    from graders.course.plan import CourseConfig, GradingSettings, LatePolicy

    return CourseConfig(root=root, id="c", title="C", timezone=ZoneInfo("UTC"), roster_path=root / "students.csv",
                        source_dir=root / "course_source", exchange_root=root / "exchange", late_policy=LatePolicy(),
                        grading=GradingSettings())


@pytest.fixture
def fixture_course(tmp_path: Path) -> Path:
    """A private copy of the two-lesson fixture course."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", root)
    return root


class KernelCalls(list):
    """The parameters of each notebook run (without ``report_file``), and in ``prepared`` the analysis
    each run was handed (read back from its ``report_file``, as the kernel would)."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list = []


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> KernelCalls:
    """papermill stand-in for tests of what the report runners pass: copies the notebook unexecuted
    and records each call's parameters (the real kernels run in the e2e report tests)."""
    import analytics.report  # papermill takes seconds to import: only for the tests that use this
    import nbformat

    calls = KernelCalls()

    def execute(source: Path, output: Path, *, parameters: dict, **options: object) -> "nbformat.NotebookNode":
        calls.prepared.append(analytics.load_report(parameters["report_file"]))
        calls.append({name: value for name, value in parameters.items() if name != "report_file"})
        shutil.copy(source, output)
        return nbformat.read(output, as_version=4)  # as papermill returns the executed notebook

    monkeypatch.setattr(analytics.report.papermill, "execute_notebook", execute)
    return calls


# The nbgrader fixture course's due dates (UTC) and students, as its gradebook records them.
NBGRADER_COURSE_DUE = {
    "basics": "2026-03-06 22:59:59", "reads-data": "2026-03-13 22:59:59", "needs-package": "2026-03-20 22:59:59",
    "downloads": "2026-03-27 22:59:59", "asks-input": "2026-04-03 21:59:59", "grading-mode": "2026-04-10 21:59:59",
    "uses-helper": "2026-04-17 21:59:59",
}
NBGRADER_COURSE_STUDENTS = {"alice": ("Alice", "Archer", "alice@example.org"), "bob": ("Bob", "Baker", "bob@example.org"),
                            "carol": ("Carol", "Cole", "carol@example.org")}


@pytest.fixture(scope="session")
def nbgrader_course_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nbgrader fixture course (nbgrader's documented layout) with the gradebook an instructor's
    nbgrader would have made: students, due dates, and every lesson generated with the course's own
    nbgrader_config.py (no kernels run; nothing autograded). Built once per session; copy it to use it."""
    import datetime as dt
    import logging
    import os
    import sys

    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    scratch = tmp_path_factory.mktemp("nbgrader-template")
    root = scratch / "nbgrader_course"
    shutil.copytree(FIXTURES / "nbgrader_course", root)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()  # the fixture's own, trusted file
    config.CourseDirectory.root = str(root)
    config.Exchange.root = str(scratch / "exchange")  # the fixture names a server's; nothing here uses it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))  # alembic
        mp.chdir(root)  # nbgrader opens the header notebook relative to the working folder, as its CLI runs
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        api.log.setLevel(logging.ERROR)
        for lesson in NBGRADER_COURSE_DUE:
            result = api.generate_assignment(lesson, force=True, create=True)
            assert result["success"], result.get("log", "") + result.get("error", "")
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id="databasics") as gb:
            for student, (first, last, email) in NBGRADER_COURSE_STUDENTS.items():
                gb.update_or_create_student(student, first_name=first, last_name=last, email=email)
            for lesson, due in NBGRADER_COURSE_DUE.items():
                gb.update_or_create_assignment(lesson, duedate=dt.datetime.fromisoformat(due))
    shutil.rmtree(root / "release")
    return root


@pytest.fixture
def nbgrader_course(nbgrader_course_template: Path, tmp_path: Path) -> Path:
    """A private copy of the nbgrader fixture course, gradebook included."""
    root = tmp_path / "nbgrader_course"
    shutil.copytree(nbgrader_course_template, root)
    return root


# The tests' course environment ([environment] in course.toml): a venv from Debian's python3 with ipykernel and
# statsdemo, a package paceline's own Python lacks, from a wheel written here. Outside any private home, so sandbox
# users and students can run it; reused across sessions (building it takes about a minute).
COURSE_ENV_HOME = Path("/var/tmp/paceline-tests/course-env")
STATSDEMO = "def mean(xs):\n    return sum(xs) / len(xs)\n"


@dataclass(frozen=True)
class BuiltCourseEnvironment:
    toml: str  # the [environment] table that names it
    python: Path
    built: bool  # this session's first build did the work
    rebuilt: bool  # a second build did it again (it should not)


def write_statsdemo_wheel(folder: Path) -> Path:
    """statsdemo 1.0 as a pure-Python wheel (a zip with its dist-info), written here: no index needed."""
    import base64
    import hashlib
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "statsdemo/__init__.py": STATSDEMO,
        "statsdemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: statsdemo\nVersion: 1.0\n",
        "statsdemo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: paceline-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},{len(text.encode())}\n"
        for name, text in files.items()) + "statsdemo-1.0.dist-info/RECORD,,\n"
    wheel = folder / "statsdemo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in {**files, "statsdemo-1.0.dist-info/RECORD": record}.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return wheel


@pytest.fixture(scope="session")
def course_env(tmp_path_factory: pytest.TempPathFactory) -> BuiltCourseEnvironment:
    """Build the tests' course environment once (a no-op when a past session built it)."""
    import fcntl
    import os

    from graders.course.environment import build_environment
    from graders.course.plan import load_course

    home = COURSE_ENV_HOME
    toml = f'\n[environment]\nrequirements = "{home}/requirements.txt"\nlocation = "{home}/venv"\n'
    for folder in (home.parent, home):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o755)
    with open(home.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other test sessions on this host use the same folder
        write_statsdemo_wheel(home / "wheels")
        (home / "requirements.txt").write_text(f"--find-links {home}/wheels\nstatsdemo==1.0\n")
        root = tmp_path_factory.mktemp("env") / "course"
        shutil.copytree(FIXTURES / "course", root)
        (root / "course.toml").write_text((root / "course.toml").read_text() + toml)
        course = load_course(root)
        first = build_environment(course)
        second = build_environment(course)
    return BuiltCourseEnvironment(toml=toml, python=first.python, built=first.built, rebuilt=second.built)
