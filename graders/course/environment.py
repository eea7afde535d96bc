"""The course environment: the one Python environment lessons run in, for check, grading and students.

``[environment]`` in course.toml names a pip requirements file (and optionally
the interpreter to build from and extra kernel names); ``paceline environment
build`` (:func:`build_environment`) makes a venv of it outside any private
home, readable and runnable by sandbox users and students, with ipykernel in
it. Without ``[environment]`` kernels run in paceline's own interpreter, as
they always did.

Every stage asks :func:`kernel_environment` which interpreter runs a lesson's
kernel, and :func:`kernel_problem` whether a notebook's kernelspec is one that
environment provides: ``paceline check`` and ``paceline grade`` refuse a
notebook with the same sentence, so a lesson that passes check grades the same.
Light: no nbgrader, no Jupyter imports (reading course.toml stays fast).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PacelineError
from .layout import EnvironmentLayout, default_environment_dir
from .plan import CourseConfig, EnvironmentPlan

# The names a Python kernel goes by when a notebook was saved with the default kernel.
PYTHON_KERNELS = ("python3", "python")
STAMP_VERSION = 1


class CourseEnvironmentError(PacelineError):
    """The course environment is not built, stale, or cannot be built."""


@dataclass(frozen=True)
class KernelEnvironment:
    """Where a course's lesson kernels run: an interpreter, and the kernel names it serves."""

    python: str  # absolute path as called (a venv's bin/python, not resolved)
    kernels: tuple[str, ...]
    description: str  # for messages
    plan: EnvironmentPlan | None = None  # None: paceline's own interpreter
    location: Path | None = None

    def provides(self, kernel_name: str) -> bool:
        return kernel_name in self.kernels


@dataclass(frozen=True)
class EnvironmentBuild:
    """What :func:`build_environment` did."""

    location: Path
    python: Path
    built: bool  # False: already up to date, nothing was done
    kernels: tuple[str, ...]


def paceline_python() -> str:
    """Paceline's own interpreter: what kernels run in without ``[environment]``."""
    python = os.path.join(sys.prefix, "bin", "python3")
    return python if os.path.exists(python) else sys.executable


def environment_location(course: CourseConfig) -> Path:
    plan = course.environment
    if plan is None:
        raise CourseEnvironmentError(f"{course.layout.config_path} has no [environment]: nothing to build")
    return plan.location or default_environment_dir(course.root, course.id)


def own_environment() -> KernelEnvironment:
    """Paceline's own interpreter: where kernels run without ``[environment]`` (and for ``check --source``)."""
    return KernelEnvironment(python=paceline_python(), kernels=PYTHON_KERNELS,
                             description=f"paceline's own Python ({sys.prefix}; no [environment] in course.toml)")


def kernel_environment(course: CourseConfig) -> KernelEnvironment:
    """Which interpreter runs the course's kernels and which kernel names it serves (nothing is checked on disk)."""
    plan = course.environment
    if plan is None:
        return own_environment()
    location = environment_location(course)
    return KernelEnvironment(
        python=str(EnvironmentLayout(location).python), kernels=(*PYTHON_KERNELS, *plan.kernels),
        description=f"the course environment {location}", plan=plan, location=location,
    )


def require_built(environment: KernelEnvironment) -> None:
    """Raise unless the course environment is built from its current requirements."""
    if environment.plan is None or environment.location is None:
        return
    layout = EnvironmentLayout(environment.location)
    if not layout.python.exists() or not layout.stamp.is_file():
        raise CourseEnvironmentError(
            f"the course environment is not built yet ({environment.location}): run `paceline environment build`")
    if _read_stamp(layout) != _wanted_stamp(environment.plan):
        raise CourseEnvironmentError(
            f"the course environment {environment.location} was built from other settings than [environment] "
            f"and {environment.plan.requirements} now give: run `paceline environment build`")


def notebook_kernel(metadata: Any) -> str:
    """The kernel a notebook asks for (nbgrader's autograder falls back to python3 too)."""
    spec = metadata.get("kernelspec") if hasattr(metadata, "get") else None
    name = spec.get("name") if hasattr(spec, "get") else None
    return name if isinstance(name, str) and name else PYTHON_KERNELS[0]


def kernel_problem(*, kernel_name: str, environment: KernelEnvironment) -> str | None:
    """The one sentence check and grade give for a notebook whose kernel the environment lacks, else None.

    Both print it after the lesson and notebook (``01-intro / intro.ipynb: asks for the kernel ...``).
    """
    if environment.provides(kernel_name):
        return None
    extra = ("add it to [environment] kernels in course.toml if it is a Python kernel"
             if environment.plan is not None else
             "or declare the course's [environment] in course.toml, with the name in its kernels")
    return (f"asks for the kernel {kernel_name!r}, which {environment.description} does not provide "
            f"(it provides {', '.join(environment.kernels)}): change the notebook's kernel (Kernel > Change Kernel), "
            f"{extra}")


def lesson_kernel_problems(
    lesson_dir: Path, *, notebooks: tuple[str, ...], environment: KernelEnvironment,
) -> list[tuple[str, str]]:
    """(notebook, :func:`kernel_problem`) for each source notebook whose kernel the environment lacks.

    nbgrader's autograde gives a submission its source notebook's kernelspec,
    so the source decides which kernel grades it. Unreadable notebooks are
    skipped: check reports them, and grading them fails on its own.
    """
    found = []
    for name in notebooks:
        try:
            metadata = json.loads((lesson_dir / name).read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError, AttributeError):
            continue
        problem = kernel_problem(kernel_name=notebook_kernel(metadata), environment=environment)
        if problem is not None:
            found.append((name, problem))
    return found


def build_environment(course: CourseConfig) -> EnvironmentBuild:
    """Build the course's ``[environment]`` as a venv; skip when nothing it is built from has changed.

    The venv is made by ``[environment] python`` (which sandbox users and
    students must be able to run), gets the requirements and ipykernel, a
    kernelspec for each extra kernel name, and modes that let every user read
    and run it.
    """
    plan = course.environment
    location = environment_location(course)  # raises without [environment]
    assert plan is not None
    layout = EnvironmentLayout(location)
    wanted = _wanted_stamp(plan)
    if layout.python.exists() and layout.stamp.is_file() and _read_stamp(layout) == wanted:
        return EnvironmentBuild(location=location, python=layout.python, built=False, kernels=(*PYTHON_KERNELS, *plan.kernels))
    from ..hub.permissions import blocked_for_others

    if not os.access(plan.python, os.X_OK):
        raise CourseEnvironmentError(f"{course.layout.config_path}: environment.python: {plan.python} is not an interpreter here")
    blocked = blocked_for_others(Path(os.path.realpath(plan.python)), want="x")
    if blocked:
        raise CourseEnvironmentError(
            f"{course.layout.config_path}: environment.python: sandbox users and students could not run {plan.python} "
            f"({blocked}): give a system interpreter such as /usr/bin/python3 (apt-get install python3-venv)")
    location.parent.mkdir(parents=True, exist_ok=True)
    blocked = blocked_for_others(location.parent, want="x")
    if blocked:
        raise CourseEnvironmentError(
            f"the course environment would be built in {location}, which sandbox users and students cannot reach "
            f"({blocked}): set [environment] location to a folder outside any private home, e.g. /opt/paceline-envs/{course.id}")
    venv = [plan.python, "-m", "venv", "--clear"] + (["--system-site-packages"] if plan.system_site_packages else [])
    _run([*venv, str(location)], f"{plan.python} -m venv (on Debian: apt-get install python3-venv)")
    pip = [str(layout.python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    # The requirements file's own folder: relative paths in it (local wheels, --find-links) mean what they say.
    _run([*pip, "-r", str(plan.requirements), "ipykernel"], f"pip install -r {plan.requirements}",
         cwd=plan.requirements.parent)
    for name in plan.kernels:
        _run([str(layout.python), "-m", "ipykernel", "install", "--prefix", str(location), "--name", name,
              "--display-name", f"Python ({course.id})"], f"ipykernel install --name {name}")
    _run(["chmod", "-R", "go+rX,go-w", str(location)], "chmod")
    os.chmod(location, 0o755)
    layout.stamp.write_text(json.dumps(wanted, indent=1, sort_keys=True) + "\n")
    os.chmod(layout.stamp, 0o644)
    return EnvironmentBuild(location=location, python=layout.python, built=True, kernels=(*PYTHON_KERNELS, *plan.kernels))


def _wanted_stamp(plan: EnvironmentPlan) -> dict[str, Any]:
    try:
        digest = hashlib.sha256(plan.requirements.read_bytes()).hexdigest()
    except OSError as exc:
        raise CourseEnvironmentError(f"cannot read {plan.requirements}: {exc.strerror}") from None
    return {"version": STAMP_VERSION, "requirements_sha256": digest, "python": plan.python,
            "kernels": list(plan.kernels), "system_site_packages": plan.system_site_packages}


def _read_stamp(layout: EnvironmentLayout) -> dict[str, Any] | None:
    try:
        return json.loads(layout.stamp.read_text())
    except (OSError, ValueError):
        return None


def _run(argv: list[str], what: str, *, cwd: Path | None = None) -> None:
    if shutil.which(argv[0]) is None and not os.access(argv[0], os.X_OK):
        raise CourseEnvironmentError(f"{what}: {argv[0]} is missing")
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise CourseEnvironmentError(f"{what} failed (exit {done.returncode}):\n{tail}")
