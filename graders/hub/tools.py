"""The hub's tools: configurable-http-proxy from npm and the students' Python environment.

``make hub-tools`` (``python -m graders.hub install-tools``) installs both into
``.hub-tools/`` at the top of the checkout (or ``$PACELINE_HUB_TOOLS``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import HubError
from .permissions import blocked_for_others, write_public

TOOLS_ENV = "PACELINE_HUB_TOOLS"
OUTSIDE_TOOLS_ROOT = Path("/opt/paceline-hub-tools")
# Pinned: the proxy's REST API is JupyterHub's contract. 5.x needs Node 20; Debian 12's own
# nodejs is 18, where the last 4.x (which JupyterHub 6 also drives) is used.
CHP_PACKAGE = "configurable-http-proxy@5.3.0"
CHP_PACKAGE_OLD_NODE = "configurable-http-proxy@4.6.3"
# The students' "My course" JupyterLab extension: TypeScript source here, built by `make labextension`
# into prebuilt/, which pyproject.toml ships as share/jupyter/labextensions/paceline-my-course/.
LABEXTENSION_SOURCE = Path(__file__).resolve().parent / "labextension"
LABEXTENSION_NAME = "paceline-my-course"
# The students' environment gets these at the instructor environment's exact versions: the
# single-user server must match the hub, nbgrader's lab extension its server extension, and the
# libraries must be the ones lessons are graded with.
STUDENT_PACKAGES = ("jupyterhub", "jupyterlab", "notebook", "nbgrader", "ipykernel", "numpy", "pandas", "matplotlib")


@dataclass(frozen=True)
class HubTools:
    """What ``make hub-tools`` installs: configurable-http-proxy and the students' venv.

    The students' venv is separate from paceline's because its interpreter
    must be executable by unprivileged students (paceline's may live under
    root's private home), and because students get JupyterLab and paceline's
    exchange classes, not the instructor's grading stack.
    """

    root: Path

    @property
    def proxy(self) -> Path:
        return self.root / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def singleuser(self) -> Path:
        return self.venv / "bin" / "jupyterhub-singleuser"

    @property
    def stamp(self) -> Path:
        return self.root / ".installed"

    @property
    def paceline_marker(self) -> Path:
        """The digest of the paceline source last installed into the students' venv."""
        return self.venv / "paceline-source.txt"

    def problems(self) -> list[str]:
        """What is missing or unusable, as sentences; empty when ready."""
        found: list[str] = []
        if not os.access(self.proxy, os.X_OK):
            found.append(f"configurable-http-proxy is not installed at {self.proxy}")
        if not os.access(self.singleuser, os.X_OK):
            found.append(f"the students' environment is not installed at {self.venv}")
        else:
            python = Path(os.path.realpath(self.venv / "bin" / "python"))
            for path in (self.singleuser, python):
                blocked = blocked_for_others(path, want="x")
                if blocked:
                    found.append(f"students cannot run {path}: {blocked}")
        return found


def default_tools_dir() -> Path:
    """``$PACELINE_HUB_TOOLS``, else ``.hub-tools/`` at the top of the paceline checkout.

    A checkout that students cannot enter (a clone under root's 0700 home)
    gets its tools under ``/opt/paceline-hub-tools/<8 hex of its path>`` instead.
    """
    if os.environ.get(TOOLS_ENV):
        return Path(os.environ[TOOLS_ENV]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if blocked_for_others(checkout, want="x") is None:
        return checkout / ".hub-tools"
    return OUTSIDE_TOOLS_ROOT / hashlib.sha256(str(checkout).encode()).hexdigest()[:8]


def student_requirements() -> list[str]:
    """The students' environment, pinned to the versions paceline itself runs."""
    pins = []
    for name in STUDENT_PACKAGES:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            raise HubError(f"{name} is not installed in paceline's environment ({sys.prefix}): run `make env`") from None
    return pins


def paceline_source() -> Path:
    """The paceline checkout this module runs from (students' servers import its exchange classes)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise HubError(f"{root} is not a paceline checkout: the students' environment is installed from one")
    return root


def labextension_build(source: Path = LABEXTENSION_SOURCE) -> Path:
    """The prebuilt "My course" extension (``make labextension``); a HubError if it is not built."""
    built = source / "prebuilt"
    if not (built / "package.json").is_file() or not any((built / "static").glob("remoteEntry.*.js")):
        raise HubError(f"the students' JupyterLab extension is not built in {built}: run `make labextension` "
                       "(needs Node.js 20.19 or newer and npm)")
    return built


def _source_digest(root: Path) -> str:
    digest = hashlib.sha256()
    built = root / "graders" / "hub" / "labextension" / "prebuilt"
    for path in sorted([root / "pyproject.toml", *(root / "graders").rglob("*.py"),
                        *(p for p in built.rglob("*") if p.is_file())]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_student_paceline(tools: HubTools) -> bool:
    """Copy this checkout's paceline into the students' venv if it changed since; True if it did.

    Students' servers import paceline's exchange classes (mastery-gated
    lessons). A copy, not an editable install: that would make them read the
    checkout, which may hold a course; and without paceline's instructor-side
    dependencies. Built from a scratch copy, since an in-tree build would
    rewrite the egg-info the instructor's editable install reads.
    """
    source = paceline_source()
    labextension_build(source / "graders" / "hub" / "labextension")
    if tools.paceline_marker.is_file() and tools.paceline_marker.read_text().strip() == _source_digest(source):
        return False
    with tempfile.TemporaryDirectory(prefix="paceline-build-") as scratch_dir:
        scratch = Path(scratch_dir)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(source / name, scratch / name)
        for package in ("graders", "analytics"):
            shutil.copytree(source / package, scratch / package, ignore=_not_shipped)
        digest = _source_digest(scratch)  # what is installed, even if the checkout changes meanwhile
        run_checked([str(tools.venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install", "--quiet",
              "--no-deps", "--force-reinstall", str(scratch)], "pip install paceline (students' environment)")
    run_checked(["chmod", "-R", "go+rX,go-w", str(tools.venv)], "chmod")
    write_public(tools.paceline_marker, digest + "\n")
    return True


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    """What a build of paceline leaves behind: caches, and the extension's Node tooling and TypeScript
    output (only its prebuilt/ is shipped)."""
    skip = {"__pycache__"}
    if Path(folder).name == LABEXTENSION_SOURCE.name:
        skip |= {"node_modules", "lib", "tsconfig.tsbuildinfo"}
    return skip & set(names)


def proxy_package(*, node: str = "node") -> str:
    """The configurable-http-proxy release for the installed Node.js."""
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise HubError(f"{node} is not installed (apt-get install nodejs npm)") from None
    match = re.match(r"v(\d+)\.", version.strip())
    if match is None:
        raise HubError(f"cannot read the Node.js version from {version.strip()!r}")
    return CHP_PACKAGE if int(match.group(1)) >= 20 else CHP_PACKAGE_OLD_NODE


def install_hub_tools(*, tools_dir: Path | None = None, python: str = "/usr/bin/python3", npm: str = "npm") -> HubTools:
    """Install the proxy and the students' venv into ``tools_dir``; idempotent.

    ``python`` must be an interpreter students can execute (a system one: the
    venv links back to it), with ``venv`` and ``ensurepip`` (Debian's
    ``python3-venv``).
    """
    tools = HubTools(tools_dir or default_tools_dir())
    proxy = proxy_package()
    wanted = "\n".join([proxy, *student_requirements()]) + "\n"
    if tools.stamp.is_file() and tools.stamp.read_text() == wanted and not tools.problems():
        ensure_student_paceline(tools)
        return tools
    tools.root.mkdir(parents=True, exist_ok=True)
    os.chmod(tools.root, 0o755)
    if shutil.which(npm) is None:
        raise HubError(f"{npm} is not installed (apt-get install nodejs npm)")
    run_checked([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(tools.root), proxy], "npm install")
    blocked = blocked_for_others(Path(os.path.realpath(python)), want="x")
    if blocked:
        raise HubError(f"students could not run {python} ({blocked}): give a system interpreter, e.g. /usr/bin/python3")
    if not (tools.venv / "bin" / "python").exists():
        run_checked([python, "-m", "venv", str(tools.venv)], f"{python} -m venv (apt-get install python3-venv)")
    pip = [str(tools.venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    run_checked([*pip, *student_requirements()], "pip install (students' environment)")
    ensure_student_paceline(tools)
    # Students read and run everything here; nothing here is secret.
    run_checked(["chmod", "-R", "go+rX,go-w", str(tools.root)], "chmod")
    tools.stamp.write_text(wanted)
    left = tools.problems()
    if left:
        tools.stamp.unlink()
        raise HubError("hub tools installed but not usable:\n  - " + "\n  - ".join(left))
    return tools


def run_checked(argv: Sequence[str], what: str) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise HubError(f"{what} failed (exit {done.returncode}):\n{tail}")
