"""A password per student: hashing, the hub's authenticator, new and withdrawn students, resets.

The real hub logging students in through its login form is tests/test_hub_e2e.py.
"""

from __future__ import annotations

import asyncio
import csv
import io
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from graders.cli import main
from graders.course.plan import CourseConfig, load_course
from graders.errors import HubError
from graders.hub.authenticator import PacelineAuthenticator
from graders.hub.passwords import check_login, course_passwords, hash_password, read_hashes, verify_password

ROSTER = "id,name,email,enrolled_at,withdrawn_at\n"


def _passwords(course: CourseConfig) -> dict[str, str]:
    """account -> password, from the instructor's CSV."""
    rows = csv.DictReader(io.StringIO(course.layout.hub_passwords_csv.read_text()))
    return {row["account"]: row["password"] for row in rows}


def _login(course: CourseConfig, username: str, password: str, *, password_list: Path | None = None) -> str | None:
    authenticator = PacelineAuthenticator(password_file=str(course.layout.hub_password_hashes),
                                          password_list=str(password_list or ""))
    return asyncio.run(authenticator.authenticate(None, {"username": username, "password": password}))


def test_a_hash_is_salted_and_checks_only_its_own_password() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and "correct horse" not in first
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct hors", first) and not verify_password("", first)
    assert not verify_password("correct horse", first.replace("scrypt", "plain", 1))
    assert not verify_password("correct horse", "scrypt$16384$8$1$not base64!$xx")
    assert not check_login({"ada": first}, "brook", "correct horse")  # no hash: nobody logs in
    assert check_login({"ada": first}, "ada", "correct horse")


def test_every_active_student_gets_a_password_stored_hashed_and_handed_out_once(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    changes = course_passwords(course)
    assert sorted(entry.student_id for entry in changes.created) == ["ada", "brook", "cyd"]
    hub_dir = course.layout.hub_dir
    assert stat.S_IMODE(hub_dir.stat().st_mode) == 0o700
    for path in (course.layout.hub_password_hashes, course.layout.hub_passwords_csv):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    passwords = _passwords(course)
    assert len(set(passwords.values())) == 3 and all(len(p) >= 16 for p in passwords.values())
    stored = course.layout.hub_password_hashes.read_text()
    assert not [p for p in passwords.values() if p in stored]
    assert {account: verify_password(passwords[account], h) for account, h in read_hashes(course.layout.hub_password_hashes).items()} == \
        {"ada": True, "brook": True, "cyd": True}
    # Nothing changes on the next start: nobody's password is replaced.
    before = course.layout.hub_password_hashes.read_text()
    assert course_passwords(course).created == ()
    assert course.layout.hub_password_hashes.read_text() == before and _passwords(course) == passwords


def test_authenticator_lets_each_student_in_with_their_own_password_only(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    passwords = _passwords(course)
    assert _login(course, "ada", passwords["ada"]) == "ada"
    assert _login(course, "ADA", passwords["ada"]) == "ada"  # JupyterHub's normalisation: lower case
    assert _login(course, "ada", passwords["brook"]) is None  # another student's password
    assert _login(course, "brook", passwords["ada"]) is None
    assert _login(course, "ada", passwords["ada"] + "x") is None
    assert _login(course, "ada", "") is None
    assert _login(course, "nobody", passwords["ada"]) is None
    assert asyncio.run(PacelineAuthenticator(password_file=str(course.layout.hub_password_hashes))
                       .authenticate(None, {"username": "ada"})) is None


def test_new_students_get_passwords_and_withdrawn_students_cannot_log_in(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    old = _passwords(course)
    (fixture_course / "students.csv").write_text(
        ROSTER + "ada,A,a@x,2026-09-01,\nbrook,B,b@x,2026-09-01,2026-09-20\ncyd,C,c@x,2026-09-10,\nDee@uni,D,d@x,2026-09-12,\n")
    course = load_course(fixture_course)
    changes = course_passwords(course)
    dee = changes.created[0].account
    assert [entry.student_id for entry in changes.created] == ["Dee@uni"] and changes.removed == ("brook",)
    now = _passwords(course)
    assert now == {"ada": old["ada"], "cyd": old["cyd"], dee: changes.created[0].password}
    assert _login(course, "brook", old["brook"]) is None  # withdrawn
    assert _login(course, "ada", old["ada"]) == "ada"
    assert _login(course, dee, now[dee]) == dee


def test_a_reset_replaces_one_students_password_and_no_other(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    old = _passwords(course)
    changes = course_passwords(course, reset=["brook"])
    [entry] = changes.created
    assert entry.account == "brook" and entry.password != old["brook"]
    assert _passwords(course) == {**old, "brook": entry.password}
    assert _login(course, "brook", old["brook"]) is None and _login(course, "brook", entry.password) == "brook"
    with pytest.raises(HubError, match="no active roster student 'nobody'"):
        course_passwords(course, reset=["nobody"])


def test_a_deleted_password_list_gets_only_the_new_passwords(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    course.layout.hub_passwords_csv.unlink()  # handed out, then deleted, as the README advises
    course_passwords(course, reset=["cyd"])
    assert list(_passwords(course)) == ["cyd"]


def test_a_first_login_takes_the_password_off_the_plain_text_list(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    listed, handed_out = course.layout.hub_passwords_csv, _passwords(course)
    assert _login(course, "ada", handed_out["brook"], password_list=listed) is None  # a failed login: nothing goes
    assert set(_passwords(course)) == {"ada", "brook", "cyd"}
    assert _login(course, "ada", handed_out["ada"], password_list=listed) == "ada"
    assert _passwords(course) == {"brook": handed_out["brook"], "cyd": handed_out["cyd"]}
    assert stat.S_IMODE(listed.stat().st_mode) == 0o600
    assert _login(course, "ada", handed_out["ada"], password_list=listed) == "ada"  # her password still works
    course_passwords(course, reset=["ada"])  # a new one joins the rows still waiting
    assert set(_passwords(course)) == {"ada", "brook", "cyd"}
    for account in ("ada", "brook", "cyd"):
        assert _login(course, account, _passwords(course)[account], password_list=listed) == account
    assert not listed.exists()  # the last row gone, the file goes: no plain-text password is left behind


def test_a_password_list_that_cannot_be_rewritten_stands_in_no_ones_way(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    password = _passwords(course)["ada"]
    not_a_folder = course.layout.hub_dir / "not-a-folder"
    not_a_folder.write_text("")  # the list's lock cannot be opened there, even by root
    assert _login(course, "ada", password, password_list=not_a_folder / "student-passwords.csv") == "ada"


def test_a_damaged_hash_file_lets_nobody_in(fixture_course: Path) -> None:
    course = load_course(fixture_course)
    course_passwords(course)
    password = _passwords(course)["ada"]
    course.layout.hub_password_hashes.write_text("{not json")
    assert _login(course, "ada", password) is None
    with pytest.raises(HubError, match="cannot read the students' password hashes"):
        course_passwords(course)


def test_cli_hub_passwords(fixture_course: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["--course", str(fixture_course), "hub", "passwords"])
    assert first.exit_code == 0, first.output
    assert "new password for ada (log in as ada)" in first.output and "student-passwords.csv" in first.output
    again = runner.invoke(main, ["--course", str(fixture_course), "hub", "passwords"])
    assert again.exit_code == 0 and "Every active student has a password already." in again.output
    reset = runner.invoke(main, ["--course", str(fixture_course), "hub", "passwords", "--reset", "cyd"])
    assert reset.exit_code == 0 and "new password for cyd" in reset.output and "ada" not in reset.output
    refused = runner.invoke(main, ["--course", str(fixture_course), "hub", "passwords", "--reset", "zed"])
    assert refused.exit_code == 1 and "no active roster student 'zed'" in refused.output
