"""Running the hub: start it as root, wait for its API, and stop it with everything it started.

Every process of a run carries ``PACELINE_HUB_RUN=<run id>`` in its
environment, and, where the host lets root make one (cgroup v1), sits in the
run's own pids cgroup, which no process can leave. Stopping ends the hub
(which stops the students' servers and the proxy), then kills whatever is
still in the cgroup or carries the marker, then removes the cgroup.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..course.plan import CourseConfig
from ..errors import HubError
from ..sandbox.cgroups import PREFIX, cgroup_parent, remove_cgroup
from .accounts import ensure_student_accounts, student_account
from .api import HubAPI, http_json
from .permissions import exposed_instructor_paths
from .settings import HubSettings, hub_config

CGROUP_NAME = f"{PREFIX}hub-"  # + run id
STALE_CGROUP_SECONDS = 60.0  # an empty hub cgroup this old belongs to a run that was killed


class HubProcess:
    """A running hub; use as a context manager, or call :meth:`stop`.

    Stopping ends the hub (which stops every student's server and the proxy),
    then kills anything of this run still alive: whatever is in the run's
    pids cgroup (where the host allows one; a process cannot leave it), and
    every process whose environment carries the run's marker.
    """

    def __init__(self, settings: HubSettings, proc: subprocess.Popen, cgroup: Path | None) -> None:
        self.settings = settings
        self.proc = proc
        self.cgroup = cgroup
        self.api = HubAPI(settings.url, settings.service_token)

    @property
    def url(self) -> str:
        return self.settings.url

    def login_help(self) -> str:
        accounts = sorted(self.settings.accounts.values())
        names = ", ".join(accounts[:5]) + (f", ... ({len(accounts)} students)" if len(accounts) > 5 else "")
        changes = self.settings.passwords
        lines = [
            f"JupyterHub for {self.settings.course_id} at {self.url}/ (this machine only)",
            f"  log in as a student: user name = their unix account ({names}; all in {self.settings.hub_dir / 'accounts.csv'})",
            "  password: each student's own (`paceline hub passwords --reset STUDENT` makes a new one)",
        ]
        if changes is not None and changes.created:
            lines.append(f"  new passwords for {len(changes.created)} student(s), to hand out: {changes.csv_path}")
        if changes is not None and changes.removed:
            lines.append(f"  passwords removed (no longer active on the roster): {', '.join(changes.removed)}")
        lines += [f"  service token for the REST API: {self.settings.hub_dir / 'service-token'}",
                  f"  log: {self.settings.log_path}"]
        return "\n".join(lines)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.settings.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_until_up(self, *, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HubError(f"jupyterhub exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                http_json("GET", f"{self.url}/hub/api/", timeout=5)
                return
            except HubError:
                if time.monotonic() > deadline:
                    raise HubError(f"the hub did not answer at {self.url}/hub/api/ within {timeout:.0f} s:\n{self.log_tail()}") from None
            time.sleep(0.2)

    def stop(self, *, timeout: float = 60.0) -> list[int]:
        """Stop the hub and everything it started; returns the pids that had to be killed."""
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            return self._stop(timeout=timeout)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def _stop(self, *, timeout: float) -> list[int]:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        killed = kill_run(self.settings.run_id)
        if self.cgroup is not None:
            killed += _cgroup_pids(self.cgroup)
            remove_cgroup(self.cgroup)
            self.cgroup = None
        return sorted(set(killed))

    def __enter__(self) -> HubProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_hub(settings: HubSettings, *, timeout: float = 90.0) -> HubProcess:
    """Start ``jupyterhub -f <config>`` as root from paceline's environment; wait until its API answers."""
    if os.geteuid() != 0:
        raise HubError("the hub must run as root: it starts each student's server as their own unix account")
    for account in settings.accounts.values():
        student_account(account)
    jupyterhub = Path(sys.executable).parent / "jupyterhub"
    if not os.access(jupyterhub, os.X_OK):
        raise HubError(f"{jupyterhub} is missing: install jupyterhub into paceline's environment (make env)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    env["PACELINE_HUB_RUN"] = settings.run_id  # the proxy inherits it; the spawner sets it for servers
    cgroup = _make_cgroup(settings.run_id)
    log = open(settings.log_path, "ab")
    try:
        proc = subprocess.Popen(
            [str(jupyterhub), "-f", str(settings.config_path)],
            cwd=settings.hub_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: _join_cgroup(cgroup)) if cgroup else None,
        )
    finally:
        log.close()
    hub = HubProcess(settings, proc, cgroup)
    try:
        hub.wait_until_up(timeout=timeout)
    except BaseException:
        hub.stop()
        raise
    return hub


@contextlib.contextmanager
def run_hub(
    course: CourseConfig,
    *,
    port: int = 0,
    tools_dir: Path | None = None,
    services: Sequence[Mapping[str, Any]] = (),
    roles: Sequence[Mapping[str, Any]] = (),
    echo: Callable[[str], object] | None = print,
) -> Iterator[HubProcess]:
    """Configure and start the course's hub; stop it, and everything it started, on exit.

    The students' unix accounts must exist (:func:`ensure_student_accounts`).
    ``echo`` gets the URL and how to log in, and warnings about instructor
    files that students could read.
    """
    settings = hub_config(course, port=port, tools_dir=tools_dir, services=services, roles=roles)
    exposed = exposed_instructor_paths(course)
    hub = start_hub(settings)
    try:
        if echo is not None:
            echo(hub.login_help())
            for path in exposed:
                echo(f"warning: students can read {path} (keep the course folder private: chmod 700 {course.root})")
            for student_id, account in settings.accounts.items():
                if account != student_id:  # see docs/jupyterhub.md, "Student accounts"
                    echo(f"student {student_id!r} logs in as {account!r}")
        yield hub
    finally:
        hub.stop()


def serve_hub(
    course: CourseConfig,
    *,
    port: int = 0,
    services: Sequence[Mapping[str, Any]] = (),
    home_base: Path = Path("/home"),
    echo: Callable[[str], object] = print,
) -> None:
    """``paceline hub``: accounts, exchange, hub; runs until Ctrl-C (or SIGTERM), then stops everything.

    ``services`` are hub-managed services started and stopped with the hub,
    such as ``paceline watch`` (:func:`graders.hub.settings.watch_service`).
    """
    ensure_student_accounts(course, home_base=home_base)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        with run_hub(course, port=port, services=services, echo=echo) as hub:
            echo("Press Ctrl-C to stop the hub and every student's server.")
            while not stop.is_set() and hub.proc.poll() is None:
                stop.wait(0.5)
            if hub.proc.poll() is not None:
                raise HubError(f"jupyterhub exited with {hub.proc.returncode}:\n{hub.log_tail()}")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def kill_run(run_id: str, *, grace: float = 3.0) -> list[int]:
    """SIGTERM, then SIGKILL, every process whose environment marks it as part of run ``run_id``."""
    found = run_processes(run_id)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and run_processes(run_id):
        time.sleep(0.1)
    for pid in run_processes(run_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return found


def run_processes(run_id: str) -> list[int]:
    """Live processes whose environment holds ``PACELINE_HUB_RUN=<run_id>`` (root reads every environ)."""
    marker = f"PACELINE_HUB_RUN={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                stat_fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if stat_fields[0] != "Z":  # a zombie is already dead; its parent reaps it
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _make_cgroup(run_id: str) -> Path | None:
    """A pids cgroup for this run, where the host lets root make one (cgroup v1); else None."""
    parent = cgroup_parent("pids")
    if parent is None:
        return None
    remove_stale_cgroups(parent)
    path = parent / f"{CGROUP_NAME}{run_id}"
    try:
        path.mkdir(mode=0o755)
    except OSError:
        return None
    return path


def _join_cgroup(path: Path) -> None:
    # Runs in the child between fork and exec: everything it starts stays in the cgroup.
    with open(path / "cgroup.procs", "w") as fh:
        fh.write(str(os.getpid()))


def _cgroup_pids(path: Path) -> list[int]:
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def remove_stale_cgroups(parent: Path, *, now: float | None = None) -> list[Path]:
    """Remove empty hub cgroups left by killed runs; returns them.

    Only empty ones, and only after a minute: a hub that is starting this
    very moment has made its cgroup but not yet moved into it.
    """
    now = time.time() if now is None else now
    removed = []
    for path in parent.glob(f"{CGROUP_NAME}*"):
        try:
            empty = not (path / "cgroup.procs").read_text().split()
            old = now - path.stat().st_mtime > STALE_CGROUP_SECONDS
            if empty and old:
                path.rmdir()
                removed.append(path)
        except OSError:
            continue
    return removed
