"""The hub's configuration: ``jupyterhub_config.py`` and every student's Jupyter/nbgrader config.

- loopback only: the proxy, the hub's API and every student's server bind 127.0.0.1;
- ``LocalProcessSpawner``: each student's server runs as their own unix account;
- JupyterLab with nbgrader's Assignments panel; nbgrader's instructor parts
  (formgrader, course list, create-assignment) switched off for students;
- each student's nbgrader settings (course id, exchange root, student id) in a
  root-owned, world-readable Jupyter config folder, passed through
  ``JUPYTER_CONFIG_PATH`` by the spawner;
- each student logs in with their own password (:mod:`.passwords`, checked
  by :class:`graders.hub.authenticator.PacelineAuthenticator`);
- paceline's server extension (:mod:`.student_server`: the student's own
  progress document and feedback pages) on in every student's server, told
  whose server it is in the same folder;
- a ``paceline`` service holding an admin API token (through ``load_roles``),
  and hub-managed services such as ``paceline watch`` (:func:`watch_service`).
"""

from __future__ import annotations

import json
import os
import pprint
import secrets
import shutil
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets.config import Config

from ..course.plan import CourseConfig
from ..errors import HubError
from .accounts import student_account, student_accounts
from .passwords import PasswordChanges, ensure_student_passwords
from .permissions import blocked_for_others, prepare_exchange, write_public, write_secret
from .tools import HubTools, default_tools_dir, ensure_student_paceline

SERVICE_NAME = "paceline"
WATCH_SERVICE_NAME = "paceline-watch"

# nbgrader's instructor parts, off for students (nbgrader's own advice for student servers).
STUDENT_SERVER_EXTENSIONS_OFF = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
STUDENT_SERVER_EXTENSION = f"{__package__}.student_server"  # the student's progress document and feedback pages
STUDENT_LAB_PLUGINS_OFF = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
)


@dataclass(frozen=True)
class HubSettings:
    """One run of the course's hub: where things are, ports, and this run's secrets."""

    course_id: str
    hub_dir: Path
    student_config_dir: Path
    tools: HubTools
    port: int
    hub_port: int
    proxy_api_port: int
    service_token: str = field(repr=False)
    accounts: Mapping[str, str]  # roster id -> unix account name
    run_id: str  # in the environment of every process of this run, to find them all on stop
    password_hashes: Path  # account -> scrypt hash, read by the authenticator at every login
    password_list: Path  # new passwords to hand out: a row goes at its student's first login
    passwords: PasswordChanges | None = None  # what this start did to the students' passwords
    services: tuple[dict[str, Any], ...] = ()
    roles: tuple[dict[str, Any], ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.hub_dir / "jupyterhub_config.py"

    @property
    def log_path(self) -> Path:
        return self.hub_dir / "jupyterhub.log"

    def user_config_dir(self, account: str) -> Path:
        return self.student_config_dir / "users" / account


def hub_config(
    course: CourseConfig,
    *,
    port: int = 0,
    tools_dir: Path | None = None,
    services: Sequence[Mapping[str, Any]] = (),
    roles: Sequence[Mapping[str, Any]] = (),
) -> HubSettings:
    """Write the hub's ``jupyterhub_config.py`` (and the students' Jupyter config) for ``course``.

    ``port`` 0 picks a free one. ``services`` are extra JupyterHub services
    (e.g. a hub-managed ``paceline watch``: ``{"name": ..., "command": [...]}``),
    ``roles`` the roles that give them scopes (``{"name": ..., "scopes": [...],
    "services": [...]}``). A new service token is made for each run; students
    new on the roster get a password (:func:`ensure_student_passwords`),
    withdrawn ones lose theirs. Needs the exchange reachable by students
    (:func:`prepare_exchange`).
    """
    tools = HubTools(tools_dir or default_tools_dir())
    problems = tools.problems()
    if problems:
        raise HubError("the hub's tools are not ready (run `make hub-tools`):\n  - " + "\n  - ".join(problems))
    ensure_student_paceline(tools)  # students' servers run this checkout's exchange classes
    for extra in services:
        if extra.get("name") == SERVICE_NAME:
            raise HubError(f"the service name {SERVICE_NAME!r} is paceline's own")
    prepare_exchange(course)
    hub_dir = course.layout.hub_dir
    hub_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(hub_dir, 0o700)  # secrets, the hub's database and its log
    public, hub_port, proxy_api = _free_ports(3, first=port)
    accounts = student_accounts(course)
    passwords = ensure_student_passwords(accounts, hashes_path=course.layout.hub_password_hashes,
                                         csv_path=course.layout.hub_passwords_csv)
    settings = HubSettings(
        course_id=course.id,
        hub_dir=hub_dir,
        student_config_dir=course.layout.exchange.student_config_dir,
        tools=tools,
        port=public,
        hub_port=hub_port,
        proxy_api_port=proxy_api,
        service_token=secrets.token_hex(32),
        accounts=accounts,
        run_id=secrets.token_hex(8),
        password_hashes=course.layout.hub_password_hashes,
        password_list=course.layout.hub_passwords_csv,
        passwords=passwords,
        services=tuple(dict(s) for s in services),
        roles=tuple(dict(r) for r in roles),
    )
    write_student_config(course, settings)
    # Which account is whose (roster ids are personal data: private, like the rest of hub_dir).
    write_secret(hub_dir / "accounts.csv", "student_id,account\n" + "".join(
        f"{student_id},{account}\n" for student_id, account in settings.accounts.items()))
    (hub_dir / "password").unlink(missing_ok=True)  # the shared password of paceline before 2026-11
    write_secret(hub_dir / "service-token", settings.service_token)
    write_secret(settings.config_path, render_hub_config(settings))
    return settings


def write_student_config(course: CourseConfig, settings: HubSettings) -> Path:
    """The students' Jupyter config: one shared folder plus one per student, root-owned, world-readable.

    ``common/`` turns nbgrader's instructor parts off; ``users/<account>/``
    holds that student's ``nbgrader_config.py``. A student can still override
    any of it with their own ``~/.jupyter`` (Jupyter reads that first): this
    is the course's default, not a security boundary. Identity is: the
    exchange records the unix owner of every submission.
    """
    base = settings.student_config_dir
    if base.exists():
        shutil.rmtree(base)  # students who left the roster lose their config
    common = base / "common"
    (common / "labconfig").mkdir(parents=True)
    extensions = {**{name: False for name in STUDENT_SERVER_EXTENSIONS_OFF}, STUDENT_SERVER_EXTENSION: True}
    write_public(common / "jupyter_server_config.json", json.dumps({"ServerApp": {"jpserver_extensions": extensions}}, indent=2))
    write_public(common / "labconfig" / "page_config.json", json.dumps(
        {"disabledExtensions": {name: True for name in STUDENT_LAB_PLUGINS_OFF}}, indent=2))
    from ..exchange.student import student_config  # nbgrader: imported only when a hub is configured

    write_student_kernels(course, base / "data")
    for student_id, account in settings.accounts.items():
        folder = settings.user_config_dir(account)
        folder.mkdir(parents=True)
        home = Path(student_account(account).pw_dir)
        config = student_config(course_id=course.id, exchange_root=course.exchange_root, home=home, student_id=student_id)
        write_public(folder / "nbgrader_config.py", render_nbgrader_config(
            config, header=STUDENT_CONFIG_HEADER.format(course_id=course.id, student_id=student_id, account=account)))
        write_public(folder / "jupyter_server_config.json", json.dumps(student_server_config(course, student_id), indent=2))
    for folder in [base, *base.rglob("*")]:
        if folder.is_dir():
            os.chmod(folder, 0o755)
    os.chmod(base / "users", 0o711)  # each student opens their own folder by name; no list of classmates
    blocked = blocked_for_others(common / "jupyter_server_config.json", want="r")
    if blocked:
        raise HubError(f"students cannot read their Jupyter config: {blocked}")
    return base


def student_server_config(course: CourseConfig, student_id: str) -> dict[str, Any]:
    """Whose server it is, for paceline's server extension (JSON config: Jupyter merges it with ``common/``'s)."""
    return {"StudentProgress": {"student_id": student_id,
                                "personal_folder": str(course.layout.exchange.personal(student_id)),
                                "released_folder": str(course.layout.exchange.outbound)}}


def write_student_kernels(course: CourseConfig, data_dir: Path) -> Path:
    """Kernelspecs that run the course environment, under ``data_dir/kernels`` (the students' ``JUPYTER_PATH``).

    ``python3`` and each ``[environment] kernels`` name start the course
    environment's ipykernel, so a student's notebook runs with the packages
    check and grading use. Found before the server's own ``python3`` (Jupyter
    searches ``JUPYTER_PATH`` first). Without ``[environment]`` the folder stays
    empty and students get the server's own Python, as grading uses paceline's.
    """
    from ..course.environment import kernel_environment, require_built

    kernels = data_dir / "kernels"
    kernels.mkdir(parents=True)
    environment = kernel_environment(course)
    if environment.plan is None:
        return data_dir
    require_built(environment)
    for name in environment.kernels:
        (kernels / name).mkdir()
        write_public(kernels / name / "kernel.json", json.dumps({
            "argv": [environment.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python ({course.id})", "language": "python",
        }, indent=1))
    return data_dir


STUDENT_CONFIG_HEADER = """\
# Generated by paceline for the hub of course {course_id!r}: student {student_id!r}, unix
# account {account!r}. Rewritten each time `paceline hub` starts; the settings come from
# graders.exchange.student.student_config. The exchange names submissions by student_id; paceline
# checks it against the unix account that owns each submission.
"""


def render_nbgrader_config(config: Config, *, header: str) -> str:
    """A traitlets ``Config`` as the text of a ``*_config.py`` file."""
    lines = [header.rstrip("\n"), "c = get_config()  # noqa: F821"]
    for section in sorted(config):
        for key, value in sorted(config[section].items()):
            lines.append(f"c.{section}.{key} = {value!r}")
    return "\n".join(lines) + "\n"


def watch_service(course: CourseConfig, *, interval: float = 5.0, workers: int | None = None) -> dict[str, Any]:
    """``paceline watch`` as a hub-managed service (pass it in ``services``).

    The hub starts it with the hub and stops it with the hub; it runs as the
    hub's user (root), like every instructor-side paceline command, and needs
    no hub API scopes (it works on the course folder and the exchange).
    Refuses now, not in the hub's log, when the grading sandbox is not set up.
    """
    from ..course.environment import kernel_environment
    from ..engine.isolation import kernel_config

    kernel_config(course.grading, sandboxed=True, environment=kernel_environment(course))
    command = [str(Path(sys.executable).parent / "paceline"), "--course", str(course.root), "watch", "--interval", str(interval)]
    if workers is not None:
        command += ["--workers", str(workers)]
    return {"name": WATCH_SERVICE_NAME, "command": command, "cwd": str(course.root)}


def render_hub_config(settings: HubSettings) -> str:
    """The text of ``jupyterhub_config.py``; secrets are read from files next to it."""
    students = sorted(settings.accounts.values())
    services = []
    for service in settings.services:
        service = dict(service)
        if "command" in service:  # a managed service: mark it, so stopping the run finds it too
            service["environment"] = {**service.get("environment", {}), "PACELINE_HUB_RUN": settings.run_id}
        services.append(service)
    environment_path = os.pathsep.join([str(settings.tools.venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    return HUB_CONFIG_TEMPLATE.format(
        course_id=settings.course_id,
        port=settings.port,
        hub_port=settings.hub_port,
        proxy_api_port=settings.proxy_api_port,
        proxy=str(settings.tools.proxy),
        singleuser=str(settings.tools.singleuser),
        students=pprint.pformat(students, width=100),
        user_config=str(settings.student_config_dir / "users"),
        common_config=str(settings.student_config_dir / "common"),
        data_path=str(settings.student_config_dir / "data"),
        path=environment_path,
        run_id=settings.run_id,
        password_hashes=str(settings.password_hashes),
        password_list=str(settings.password_list),
        service_name=SERVICE_NAME,
        group=f"{settings.course_id}-students",
        services=pprint.pformat(services, width=100),
        roles=pprint.pformat(list(settings.roles), width=100),
    )


HUB_CONFIG_TEMPLATE = '''\
# Generated by paceline (graders/hub/settings.py) for the course {course_id!r}; rewritten by every
# `paceline hub`, so change graders/hub/settings.py, not this file. docs/jupyterhub.md explains each part.
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUDENTS = {students}
c = get_config()  # noqa: F821

# Loopback only: the proxy, the hub's own API and every student's server.
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = str(HERE / "proxy.pid")
c.Spawner.ip = "127.0.0.1"
c.JupyterHub.db_url = "sqlite:///" + str(HERE / "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = str(HERE / "jupyterhub_cookie_secret")
# Stopping the hub stops every student's server and the proxy.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# Each student logs in as their unix account with their own password, checked against its hash
# (graders/hub/passwords.py); active roster students only. No admins: the paceline service has a token.
c.JupyterHub.authenticator_class = "graders.hub.authenticator.PacelineAuthenticator"
c.PacelineAuthenticator.password_file = {password_hashes!r}
c.PacelineAuthenticator.password_list = {password_list!r}
c.Authenticator.allow_all = False
c.Authenticator.allowed_users = set(STUDENTS)
c.Authenticator.admin_users = set()
c.JupyterHub.load_groups = {{{group!r}: {{"users": STUDENTS}}}}

# Each student's server runs as their own unix account: the OS says who submitted.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.default_url = "/lab"
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = {{
    # This student's nbgrader settings, then the course-wide ones (formgrader off).
    "JUPYTER_CONFIG_PATH": lambda spawner: os.pathsep.join(
        [os.path.join({user_config!r}, spawner.user.name), {common_config!r}]
    ),
    # The course environment's kernels (graders.hub.settings.write_student_kernels).
    "JUPYTER_PATH": {data_path!r},
    "PATH": {path!r},
    # Marks every process of this run (servers, kernels, terminals) so that stopping finds them all.
    "PACELINE_HUB_RUN": {run_id!r},
}}
# Generous: a loaded two-core machine starts a server in seconds, not milliseconds.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.LocalProcessSpawner.interrupt_timeout = 5
c.LocalProcessSpawner.term_timeout = 5

# Paceline's own service: an admin token for its REST calls (read from a 0600 file).
c.JupyterHub.services = [
    {{"name": {service_name!r}, "api_token": (HERE / "service-token").read_text().strip()}},
] + {services}
c.JupyterHub.load_roles = [
    {{"name": "admin", "services": [{service_name!r}]}},
] + {roles}
'''


def _free_ports(count: int, *, first: int = 0) -> list[int]:
    """``first`` (if not 0) and free loopback ports for the rest, all distinct."""
    ports = [first] if first else []
    holders = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            holders.append(sock)
            if sock.getsockname()[1] not in ports:
                ports.append(sock.getsockname()[1])
    finally:
        for sock in holders:
            sock.close()
    return ports
