"""Students' unix accounts: one per active roster student, so the OS says who submitted.

Account names come from :func:`graders.course.roster.account_name` (collect and
unlock use the same mapping to check who owns a submission and who may read
an unlocked lesson).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..course.plan import CourseConfig
from ..course.roster import Student, account_name, load_roster
from ..errors import HubError
from .permissions import blocked_for_others, user_name
from .tools import run_checked

ACCOUNT_MARK = "paceline student"  # GECOS prefix of accounts paceline made (and may reuse)
FIRST_STUDENT_UID = 1000  # below this are system accounts: never a student's server


def active_students(course: CourseConfig) -> tuple[Student, ...]:
    """Roster students who may log in: withdrawn students get no server."""
    return tuple(s for s in load_roster(course.roster_path, timezone=course.timezone) if s.withdrawn_at is None)


def student_accounts(course: CourseConfig) -> dict[str, str]:
    """Roster id -> unix account name for the active students; refuses two ids on one name."""
    accounts: dict[str, str] = {}
    owners: dict[str, str] = {}
    for student in active_students(course):
        name = account_name(student.id)
        if name in owners:
            raise HubError(f"student ids {owners[name]!r} and {student.id!r} both map to the unix account {name!r}")
        owners[name] = student.id
        accounts[student.id] = name
    if not accounts:
        raise HubError(f"{course.roster_path}: no active students, so nobody could log in to the hub")
    return accounts


def ensure_student_accounts(
    course: CourseConfig, *, home_base: Path = Path("/home"), adopt_existing: bool = False,
) -> list[str]:
    """Create a unix account per active roster student; idempotent. Returns the account names.

    Accounts get a home folder (0700, their own), a login shell for
    JupyterLab's terminal and no password (they log in through the hub only).
    An existing account is reused only if paceline made it (its comment starts
    with "paceline student"), or with ``adopt_existing`` for sites whose
    students already have accounts; a system account (uid < 1000) never is.
    Needs root.
    """
    if os.geteuid() != 0:
        raise HubError("creating students' unix accounts needs root")
    home_base.mkdir(parents=True, exist_ok=True)
    blocked = blocked_for_others(home_base, want="x")
    if blocked:
        raise HubError(f"students could not reach their homes under {home_base}: {blocked}")
    names = []
    for student_id, name in student_accounts(course).items():
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            run_checked(["useradd", "--create-home", "--home-dir", str(home_base / name), "--shell", "/bin/bash",
                  "--user-group", "--comment", f"{ACCOUNT_MARK} {student_id} ({course.id})", name],
                 f"useradd {name}")
            entry = pwd.getpwnam(name)
        else:
            if not adopt_existing and not entry.pw_gecos.startswith(ACCOUNT_MARK):
                raise HubError(
                    f"a unix account {name!r} already exists and paceline did not create it: "
                    f"it will not hand student {student_id!r} someone else's account (pass adopt_existing to reuse it)"
                )
        _check_student_uid(name, entry)
        home = Path(entry.pw_dir)
        if not home.is_dir():
            home.mkdir(parents=True)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        if home.stat().st_uid != entry.pw_uid:
            raise HubError(f"{home}, the home of {name}, belongs to {user_name(home.stat().st_uid)}")
        # Other students must not read each other's work (useradd's default mode may be 0755).
        os.chmod(home, 0o700)
        names.append(name)
    return names


def remove_student_accounts(names: Sequence[str]) -> None:
    """Delete accounts paceline made, with their homes (for tests and tear-downs)."""
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if not entry.pw_gecos.startswith(ACCOUNT_MARK):
            raise HubError(f"refusing to delete {name!r}: paceline did not create it")
        subprocess.run(["userdel", "--remove", name], capture_output=True)
        with contextlib.suppress(KeyError):
            grp.getgrnam(name)
            subprocess.run(["groupdel", name], capture_output=True)


def student_account(name: str) -> pwd.struct_passwd:
    """A student's existing unix account, checked to be an unprivileged one."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise HubError(f"no unix account {name!r}: create the students' accounts first (ensure_student_accounts)") from None
    _check_student_uid(name, entry)
    return entry


def _check_student_uid(name: str, entry: pwd.struct_passwd) -> None:
    if entry.pw_uid < FIRST_STUDENT_UID or entry.pw_gid == 0:
        raise HubError(f"the unix account {name!r} is a system account (uid {entry.pw_uid}): never a student's")
