"""The hub's pure parts: account names, the generated configs, exchange modes, exposure checks.

The real hub, with real accounts and servers, is tests/test_hub_e2e.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from graders.course.plan import load_course
from graders.course.roster import PORTABLE_NAME
from graders.errors import HubError
from graders.exchange.student import student_config
from graders.hub import accounts, permissions, settings as hubsettings
from graders.hub.tools import HubTools


def test_portable_ids_are_their_own_account_names() -> None:
    for student_id in ("ada", "ada.lovelace", "brook_t", "cyd-2", "_x"):
        assert accounts.account_name(student_id) == student_id


def test_other_ids_map_to_stable_distinct_account_names() -> None:
    mapped = {sid: accounts.account_name(sid) for sid in ("Ada", "ada@uni", "Ada@uni", "20231234", "x" * 40)}
    assert mapped["Ada"] == "ada-" + hashlib.sha256(b"Ada").hexdigest()[:8]
    assert mapped["ada@uni"].startswith("ada-uni-") and mapped["Ada@uni"].startswith("ada-uni-")
    assert mapped["ada@uni"] != mapped["Ada@uni"]  # JupyterHub lower-cases; the hash keeps them apart
    assert mapped["20231234"].startswith("s20231234-")  # an account name must not start with a digit
    assert len(mapped["x" * 40]) == 32
    assert all(PORTABLE_NAME.match(name) for name in mapped.values())
    assert mapped == {sid: accounts.account_name(sid) for sid in mapped}


def test_two_ids_on_one_account_are_refused(fixture_course: Path) -> None:
    clash = accounts.account_name("Ada@uni")
    (fixture_course / "students.csv").write_text(
        f"id,name,email,enrolled_at\nAda@uni,A,a@x,2026-09-01\n{clash},B,b@x,2026-09-01\n")
    with pytest.raises(HubError, match="both map to the unix account"):
        accounts.student_accounts(load_course(fixture_course))


def test_withdrawn_students_get_no_account(fixture_course: Path) -> None:
    (fixture_course / "students.csv").write_text(
        "id,name,email,enrolled_at,withdrawn_at\nada,A,a@x,2026-09-01,\nbrook,B,b@x,2026-09-01,2026-09-05\n")
    assert accounts.student_accounts(load_course(fixture_course)) == {"ada": "ada"}


def _settings(tmp_path: Path, **overrides) -> hubsettings.HubSettings:
    values = dict(
        course_id="fixture", hub_dir=tmp_path / "hub", student_config_dir=tmp_path / "students",
        tools=HubTools(tmp_path / "tools"), port=18000, hub_port=18001, proxy_api_port=18002,
        service_token="tok", accounts={"ada": "ada", "Cyd@uni": accounts.account_name("Cyd@uni")},
        run_id="run1", password_hashes=tmp_path / "hub" / "password-hashes.json",
        password_list=tmp_path / "hub" / "student-passwords.csv",
    )
    values.update(overrides)
    return hubsettings.HubSettings(**values)


def _load(settings: hubsettings.HubSettings, text: str) -> Config:
    settings.hub_dir.mkdir(parents=True, exist_ok=True)
    (settings.hub_dir / "service-token").write_text("tok\n")
    settings.config_path.write_text(text)
    config = Config()
    exec(compile(text, str(settings.config_path), "exec"), {"get_config": lambda: config, "__file__": str(settings.config_path)})
    return config


def test_hub_config_is_loopback_only_and_spawns_real_users(tmp_path: Path) -> None:
    settings = _settings(tmp_path, services=({"name": "paceline-watch", "command": ["paceline", "watch"]},),
                         roles=({"name": "watcher", "scopes": ["read:users"], "services": ["paceline-watch"]},))
    c = _load(settings, hubsettings.render_hub_config(settings))
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18000"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:18001"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18002"
    assert c.Spawner.ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.command == [str(settings.tools.proxy)]
    assert c.JupyterHub.spawner_class == "localprocess" and c.Spawner.cmd == [str(settings.tools.singleuser)]
    assert c.Spawner.default_url == "/lab"
    assert c.Authenticator.allowed_users == set(settings.accounts.values()) and c.Authenticator.allow_all is False
    assert c.JupyterHub.authenticator_class == "graders.hub.authenticator.PacelineAuthenticator"
    assert c.PacelineAuthenticator.password_file == str(settings.password_hashes)
    assert c.PacelineAuthenticator.password_list == str(settings.password_list)
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"))
    assert c.Spawner.environment["JUPYTER_CONFIG_PATH"](spawner) == os.pathsep.join(
        [str(settings.student_config_dir / "users" / "ada"), str(settings.student_config_dir / "common")])
    assert c.Spawner.environment["PATH"].startswith(str(settings.tools.venv / "bin") + os.pathsep)
    assert c.Spawner.environment["JUPYTER_PATH"] == str(settings.student_config_dir / "data")  # the course environment's kernels
    [own, watch] = c.JupyterHub.services
    assert own == {"name": "paceline", "api_token": "tok"}
    assert watch["environment"] == {"PACELINE_HUB_RUN": "run1"}  # stopping the run finds it
    assert c.JupyterHub.load_roles[0] == {"name": "admin", "services": ["paceline"]}
    assert c.JupyterHub.load_roles[1]["name"] == "watcher"
    assert "tok" not in repr(settings)


def test_students_nbgrader_config_is_engine_student_config(tmp_path: Path) -> None:
    expected = student_config(course_id="fixture", exchange_root=Path("/srv/ex"), home=Path("/home/ada"), student_id="Ada@uni")
    text = hubsettings.render_nbgrader_config(expected, header="# test")
    loaded = Config()
    exec(compile(text, "nbgrader_config.py", "exec"), {"get_config": lambda: loaded})
    assert loaded == expected
    assert loaded.CourseDirectory.student_id == "Ada@uni" and loaded.Exchange.root == "/srv/ex"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every user can enter (pytest's own temp folder is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="paceline-hub-test-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def _course_with_exchange(fixture_course: Path, exchange: Path):
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace('timezone = "Europe/Berlin"\n', f'timezone = "Europe/Berlin"\nexchange = "{exchange}"\n', 1))
    return load_course(fixture_course)


def test_exchange_gets_nbgraders_modes_and_a_sticky_root(fixture_course: Path, shared_dir: Path) -> None:
    course = _course_with_exchange(fixture_course, shared_dir / "exchange")
    root = permissions.prepare_exchange(course)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (root, root / "fixture", root / "fixture" / "outbound",
                                                              root / "fixture" / "inbound", root / "fixture" / "feedback")}
    assert modes == {"exchange": 0o1777, "fixture": 0o755, "outbound": 0o755, "inbound": 0o2733, "feedback": 0o711}
    assert permissions.prepare_exchange(course) == root  # idempotent


def test_unreachable_exchange_is_refused_naming_the_blocking_folder(fixture_course: Path, tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    course = _course_with_exchange(fixture_course, private / "exchange")
    with pytest.raises(HubError, match=f"students cannot reach the exchange .*{private}"):
        permissions.prepare_exchange(course)


def test_a_planted_exchange_folder_is_refused(fixture_course: Path, shared_dir: Path) -> None:
    course = _course_with_exchange(fixture_course, shared_dir / "exchange")
    (shared_dir / "exchange").mkdir()
    os.symlink("/etc", shared_dir / "exchange" / "fixture")
    with pytest.raises(HubError, match="not a folder"):
        permissions.prepare_exchange(course)


def test_world_readable_course_files_are_reported(fixture_course: Path, shared_dir: Path) -> None:
    open_course = shared_dir / "course"
    shutil.copytree(fixture_course, open_course)
    os.chmod(open_course, 0o755)
    os.chmod(open_course / "course_source", 0o755)
    assert open_course / "course_source" in permissions.exposed_instructor_paths(load_course(open_course))
    os.chmod(open_course, 0o700)
    assert permissions.exposed_instructor_paths(load_course(open_course)) == []


def test_blocked_for_others_names_the_first_closed_folder(shared_dir: Path) -> None:
    closed = shared_dir / "closed"
    closed.mkdir(mode=0o700)
    (closed / "file").write_text("x")
    os.chmod(closed / "file", 0o644)
    assert permissions.blocked_for_others(closed / "file", want="r") == f"{closed} is mode drwx------ (others cannot enter it)"
    os.chmod(closed, 0o711)  # enter, not list
    assert permissions.blocked_for_others(closed / "file", want="r") is None
    assert permissions.blocked_for_others(closed, want="r") == f"{closed} is mode drwx--x--x (others need r)"
    assert permissions.blocked_for_others(Path("/usr/bin/env"), want="x") is None


def test_the_students_panel_must_be_built_before_paceline_is_installed_for_students(tmp_path: Path) -> None:
    from graders.hub.tools import _not_shipped, labextension_build

    with pytest.raises(HubError, match=r"not built in .*prebuilt: run `make labextension`"):
        labextension_build(tmp_path)
    (tmp_path / "prebuilt" / "static").mkdir(parents=True)
    (tmp_path / "prebuilt" / "package.json").write_text("{}")
    with pytest.raises(HubError, match="not built"):
        labextension_build(tmp_path)  # no federated entry point: a failed build
    (tmp_path / "prebuilt" / "static" / "remoteEntry.0123abcd.js").write_text("")
    assert labextension_build(tmp_path) == tmp_path / "prebuilt"
    # Only the prebuilt panel is shipped: not its Node tooling or TypeScript output, and nothing else named lib.
    names = ["node_modules", "lib", "prebuilt", "src", "tsconfig.tsbuildinfo", "__pycache__"]
    assert _not_shipped("/x/graders/hub/labextension", names) == {"node_modules", "lib", "tsconfig.tsbuildinfo", "__pycache__"}
    assert _not_shipped("/x/graders/course", names) == {"__pycache__"}
