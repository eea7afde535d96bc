"""A student's "My course" panel in a real JupyterLab, behind a real ``paceline hub``, in Debian's chromium.

One self-paced student logs in through the hub's login page with her own
password (the list ``paceline hub`` writes for the instructor); her JupyterLab
opens on the panel. Its dates are ``paceline status``'s; the gated lesson shows
what unlocks it. She fetches and submits from the panel; ``paceline watch``,
running as the hub's service, collects, grades and releases feedback, and the
score, a notification and the unlocked lesson (with its own notification)
appear without her pressing anything. The attempt's feedback link opens its
page; her own feedback folder fills by itself; Review copies the lesson as
released, her submission and its feedback into her home; asking the
extension for a classmate's document is refused. Screenshots of each step are kept in
``tests/artifacts/my_course/`` (git-ignored).

Needs root, the kernel sandbox and hub tools (``make sandbox hub-tools``) and
the browser (``make browser``); skipped with the reason without them, except
under CI, where a missing install step must fail.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_hub_e2e import (  # noqa: F401 (host_ready: a fixture)
    ADD,
    host_ready,
    hub_course,
    run_as,
    student_passwords,
)

from graders import hub as hubmod
from graders.course.plan import CourseConfig
from graders.hub.accounts import student_account
from graders.hub.settings import watch_service

ARTIFACTS = Path(__file__).parent / "artifacts" / "my_course"
ZONE = ZoneInfo("Europe/Berlin")
WAIT_MS = 180_000  # a loaded two-core machine: a server start, a sandboxed grading, a feedback release

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def write_self_paced_course(root: Path, *, exchange: Path, today: dt.date) -> None:
    """Self-paced from a month ago; 02-words opens to a student once her best on 01-add reaches 60%."""
    (root / "course.toml").write_text(f"""\
[course]
id = "fixture"
title = "Fixture course"
timezone = "Europe/Berlin"
mode = "self-paced"
exchange = "{exchange}"

[pacing]
start = {today - dt.timedelta(days=30)}
days_per_lesson = 7
due_after_days = 7

[late_policy]
method = "per_day"
per_day = 0.25
cap = 0.5

[grading]
timeout = 10

[gating]
pass_fraction = 0.6

[[lessons]]
id = "01-add"
title = "Adding numbers"

[[lessons]]
id = "02-words"
title = "Counting words"
requires = ["01-add"]
days = 10
""")


@pytest.fixture(scope="module")
def course(host_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourseConfig]:
    """The course released, with two students (real unix accounts) who enrolled three days ago."""
    today = dt.datetime.now(ZONE).date()
    enrolled = (today - dt.timedelta(days=3)).isoformat()
    with hub_course(tmp_path_factory, label="my-course",
                    write_toml=lambda root, exchange: write_self_paced_course(root, exchange=exchange, today=today),
                    roster=lambda prefix: (f"{prefix}-ada,Ada Lovelace,ada@example.org,{enrolled}\n"
                                           f"{prefix}-brook,Brook Taylor,brook@example.org,{enrolled}\n")) as prepared:
        yield prepared.course


def status_dates(course: CourseConfig, student_id: str) -> dict[str, list[str]]:
    """Every ``YYYY-MM-DD HH:MM`` on each lesson's lines of ``paceline status STUDENT``."""
    done = subprocess.run([str(Path(sys.executable).parent / "paceline"), "--course", str(course.root), "status", student_id],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, list[str]] = {lesson.id: [] for lesson in course.lessons}
    for line in done.stdout.splitlines():
        for lesson_id in found:
            if lesson_id in line:
                found[lesson_id] += re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", line)
    return found


def answer(base: str, token: str, path: str, grade_id: str, source: str) -> None:
    """Write an answer into a notebook through the Jupyter contents API, as JupyterLab's editor saves it."""
    notebook = hubmod.http_json("GET", f"{base}/api/contents/{path}?type=notebook&content=1", token=token)["content"]
    [cell] = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]
    cell["source"] = source
    hubmod.http_json("PUT", f"{base}/api/contents/{path}", token=token,
                     body={"type": "notebook", "format": "json", "content": notebook})


WORDS = "def count_words(text):\n    return len(text.split())\n"


def test_a_student_follows_her_course_in_the_my_course_panel(course: CourseConfig, browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ada, brook = hubmod.student_accounts(course).items()
    (ada_id, ada_account), (brook_id, _) = ada, brook
    watch = watch_service(course, interval=1.0, workers=1)
    with hubmod.run_hub(course, services=[watch], echo=None) as hub:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            # She logs in on the hub's page with her own password; her JupyterLab opens with the panel.
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", ada_account)
            page.fill("#password_input", student_passwords(course)[ada_account])
            page.click("#login_submit")
            panel = page.locator("#paceline-my-course")
            lesson = {lid: panel.locator(f"section.pl-lesson[data-lesson='{lid}']") for lid in ("01-add", "02-words")}
            lesson["01-add"].wait_for(timeout=WAIT_MS)
            assert panel.is_visible()  # opened on start, not only registered
            page.screenshot(path=ARTIFACTS / "1-panel-on-start.png")
            # A launcher card brings the panel back after the student closes the sidebar.
            page.locator(".jp-SideBar .lm-TabBar-tab[data-id='paceline-my-course']").click()
            panel.wait_for(state="hidden")
            page.get_by_role("menuitem", name="File").click()
            page.get_by_text("New Launcher", exact=True).click()
            page.locator(".jp-LauncherCard:visible", has_text="My course").click()  # the launcher just opened
            assert panel.is_visible()

            # Her due dates are paceline status's, in the course's time zone, with how far off they are.
            expected = status_dates(course, ada_id)
            for lid, row in lesson.items():
                due = row.locator("[data-field='due'] .pl-value").inner_text()
                assert due.split(" · ")[0] in expected[lid], (lid, due, expected[lid])
                assert re.search(r" · in \d+ days", due), due

            # The gated lesson says what unlocks it, and offers no fetch.
            assert lesson["02-words"].get_attribute("data-state") == "locked"
            status = lesson["02-words"].locator("[data-field='status']").inner_text()
            assert "01-add" in status and "60%" in status, status
            assert lesson["02-words"].locator("button[data-action='fetch']").count() == 0

            # Fetch and submit from the panel; nothing else is pressed afterwards.
            lesson["01-add"].locator("button[data-action='fetch']").click()
            home = Path(student_account(ada_account).pw_dir)
            deadline = time.monotonic() + 60
            while not (home / "01-add" / "add.ipynb").exists():
                assert time.monotonic() < deadline, "the panel's Fetch did not fetch 01-add"
                time.sleep(0.2)
            # Fetched: the panel offers her folder, not a second fetch (nbgrader would refuse one).
            lesson["01-add"].locator("button[data-action='open']").wait_for(timeout=WAIT_MS)
            assert lesson["01-add"].get_attribute("data-state") == "fetched"
            assert lesson["01-add"].locator("button[data-action='fetch']").count() == 0
            assert "in your folder 01-add/" in lesson["01-add"].locator("[data-field='status']").inner_text()
            base = f"{hub.url}/user/{ada_account}"
            token = hub.api.user_token(ada_account, note="my-course e2e")
            answer(base, token, "01-add/add.ipynb", "add", ADD)
            lesson["01-add"].locator("button[data-action='submit']").click()
            page.screenshot(path=ARTIFACTS / "2-submitted.png")

            # The score and a notification arrive by themselves; so does the unlocked lesson, with its notice.
            graded = lesson["01-add"].locator("li[data-attempt='1'][data-state='graded']")
            graded.wait_for(timeout=WAIT_MS)
            assert graded.locator("[data-field='score']").inner_text() == "3 / 3"
            received = re.search(r"received (\S+ \S+)", graded.inner_text()).group(1)
            assert received in status_dates(course, ada_id)["01-add"]  # the receipt time paceline trusts
            page.locator(".Toastify__toast", has_text="Feedback for 01-add, attempt 1: 3 / 3").wait_for(timeout=30_000)
            page.screenshot(path=ARTIFACTS / "3-feedback-arrived.png")
            page.locator("section.pl-lesson[data-lesson='02-words']:not([data-state='locked'])").wait_for(timeout=WAIT_MS)
            page.locator(".Toastify__toast", has_text="02-words (Counting words) is open for you").wait_for(timeout=30_000)
            assert lesson["02-words"].locator("button[data-action='fetch']").count() == 1
            page.screenshot(path=ARTIFACTS / "4-lesson-unlocked.png")

            # Her feedback is fetched into her folder without her pressing Fetch Feedback.
            deadline = time.monotonic() + 60
            while not list((home / "01-add" / "feedback").rglob("add.html")):
                assert time.monotonic() < deadline, "feedback was not fetched into her folder"
                time.sleep(0.5)

            # The attempt's link opens that attempt's feedback page.
            with context.expect_page() as opened:
                graded.locator("a.pl-link").click()
            feedback = opened.value
            feedback.wait_for_load_state()
            assert "add(1, 2)" in feedback.content()
            feedback.screenshot(path=ARTIFACTS / "5-feedback-page.png")
            feedback.close()

            # She reopens the lesson to review it: read-only copies in her home of the lesson as released,
            # her last attempt as she submitted it and its feedback, shown in the file browser.
            lesson["01-add"].locator("button[data-action='review']").click()
            page.locator(".Toastify__toast", has_text="Review of 01-add in review/01-add/").wait_for(timeout=30_000)
            page.locator(".jp-DirListing-content", has_text="attempt 1 submitted").wait_for(timeout=30_000)
            page.screenshot(path=ARTIFACTS / "6-review.png")
            review = home / "review" / "01-add"
            released, submitted = (json.loads((review / folder / "add.ipynb").read_text())
                                   for folder in ("released", "attempt 1 submitted"))
            sources = [["".join(c["source"]) for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "add"]
                       for nb in (released, submitted)]
            assert sources[1] == [ADD] and sources[0] != [ADD]
            assert "add(1, 2)" in (review / "attempt 1 feedback" / "add.html").read_text()
            mine = review / "attempt 1 submitted" / "add.ipynb"
            assert (mine.stat().st_uid, mine.stat().st_mode & 0o777) == (student_account(ada_account).pw_uid, 0o444)

            # Before her last lesson, her finish is a projection; once she has passed it, it is the day she did.
            if not panel.is_visible():  # Review showed the file browser in the sidebar: back to the panel
                page.locator(".jp-SideBar .lm-TabBar-tab[data-id='paceline-my-course']").click()
                panel.wait_for(state="visible")
            finish = page.locator("#paceline-my-course .pl-summary [data-field='projected-finish'] .pl-value")
            assert "finished" not in finish.inner_text()
            lesson["02-words"].locator("button[data-action='fetch']").click()
            deadline = time.monotonic() + 60
            while not (home / "02-words" / "words.ipynb").exists():
                assert time.monotonic() < deadline, "the panel's Fetch did not fetch 02-words"
                time.sleep(0.2)
            answer(base, token, "02-words/words.ipynb", "count_words", WORDS)
            lesson["02-words"].locator("button[data-action='submit']").click()
            lesson["02-words"].locator("li[data-attempt='1'][data-state='graded']").wait_for(timeout=WAIT_MS)
            today = dt.datetime.now(course.timezone).date().isoformat()
            page.locator("#paceline-my-course .pl-summary [data-field='projected-finish']",
                         has_text=f"finished on {today}").wait_for(timeout=WAIT_MS)
            passed = page.locator("#paceline-my-course .pl-summary [data-field='passed'] .pl-value").inner_text()
            assert passed.startswith("2 of 2 lessons · ") and passed.endswith(" expected by today"), passed
            page.screenshot(path=ARTIFACTS / "7-finished.png")

            # Through the extension's API she can read her own document, never a classmate's.
            def progress(query: str) -> tuple[int, dict]:
                # As JupyterLab's own requests do: the session cookie plus the XSRF token jupyter_server asks of them.
                return tuple(page.evaluate("""async (url) => {
                    const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '';
                    const r = await fetch(url, {credentials: 'same-origin', headers: {'X-XSRFToken': decodeURIComponent(xsrf)}});
                    return [r.status, await r.json().catch(() => ({}))]; }""", f"{base}/paceline/progress{query}"))
            mine_status, mine = progress("")
            assert mine_status == 200 and mine["student"]["id"] == ada_id
            theirs_status, theirs = progress(f"?student={brook_id}")
            assert theirs_status == 403 and brook_id not in json.dumps(theirs)
            # Nor from her terminal: the classmate's document is there, and not hers to read.
            classmate = course.layout.exchange.progress_document(brook_id)
            assert classmate.is_file()
            assert run_as(ada_account, "cat", str(classmate)).returncode != 0
        finally:
            context.close()
