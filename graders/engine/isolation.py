"""How grading and check start kernels for lesson code: in the sandbox, unless told otherwise.

Safe by default: :func:`kernel_config` refuses, naming what is missing, when the
sandbox cannot be set up. Plain kernels (student code running as the grader's
own user, able to read solutions and other students' work) are only used when
the caller explicitly passes ``sandboxed=False``, which the CLI exposes as
``--unsafe-no-sandbox``. Either way test cells are scored by
:mod:`graders.engine.scoring`, so a score never depends on whether the sandbox ran,
and kernels run the course environment's interpreter
(:func:`graders.course.environment.kernel_environment`), so check, grading and
the students' servers run lessons with the same packages.
The one place course.toml's ``[grading]`` settings become the sandbox's
configuration, for paceline's grading workers, ``paceline check`` and nbgrader's
own autograde alike (:func:`sandbox_kernels`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from traitlets.config import Config

from ..course.environment import KernelEnvironment
from ..course.plan import GradingSettings

# What nbgrader sets in its kernels' environment while it autogrades or validates; lessons branch on them.
NBGRADER_KERNEL_VARIABLES = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")


@dataclass(frozen=True)
class TrialKernels:
    """How ``paceline check`` starts a kernel: nbclient's ``kernel_manager_class`` and its config."""

    manager_class: type
    config: Config
    sandboxed: bool


def kernel_config(settings: GradingSettings, *, sandboxed: bool, environment: KernelEnvironment) -> Config:
    """nbgrader settings for the kernels that run one lesson's submissions."""
    if not sandboxed:
        from .plain import PLAIN_EXECUTE
        from .scoring import autograde_preprocessors

        c = Config()
        c.Autograde.autograde_preprocessors = autograde_preprocessors(execute=PLAIN_EXECUTE)
        c.CourseKernelManager.python = environment.python
        return c
    from ..sandbox import require_sandbox

    require_sandbox(python=environment.python)
    return sandbox_kernels(settings, environment=environment)


def sandbox_kernels(settings: GradingSettings, *, environment: KernelEnvironment) -> Config:
    """nbgrader settings that start every kernel in the sandbox (which checks the host when one starts)."""
    from .sandboxed import sandbox_config

    c = sandbox_config(sandbox_limits(settings), timeout=settings.timeout)
    c.SandboxedKernelManager.python = environment.python
    c.SandboxedKernelManager.pass_env = list(NBGRADER_KERNEL_VARIABLES)
    return c


def kernels_started_ahead(kernel: Config) -> Config:
    """``kernel`` for a worker process that runs notebook after notebook: each sandboxed notebook starts the
    next one's kernel when it is done (:mod:`graders.sandbox.standby`), so that kernel boots while this
    attempt is scored and the next attempt finds it waiting. No effect on plain kernels."""
    c = copy.deepcopy(kernel)
    c.SandboxedExecute.start_next_kernel = True
    return c


def trial_kernels(settings: GradingSettings, *, environment: KernelEnvironment) -> TrialKernels:
    """Kernels for ``paceline check``: the grading sandbox with the same limits and environment when this
    host has it, else plain kernels of the same environment (with the network, as the instructor's own)."""
    from ..sandbox import check_sandbox

    if not check_sandbox(python=environment.python):
        from ..sandbox import SandboxedKernelManager

        return TrialKernels(SandboxedKernelManager, sandbox_kernels(settings, environment=environment), sandboxed=True)
    from .plain import CourseKernelManager

    c = Config()
    c.CourseKernelManager.python = environment.python
    return TrialKernels(CourseKernelManager, c, sandboxed=False)


def sandbox_limits(settings: GradingSettings):
    """The sandbox's limits from course.toml's ``[grading]`` (or a lesson's override)."""
    from ..sandbox import SandboxLimits

    return SandboxLimits(
        memory_mb=settings.memory_mb, cpu_seconds=settings.cpu_seconds, processes=settings.processes,
        file_size_mb=settings.file_size_mb, open_files=settings.open_files,
        total_output_mb=settings.output_mb, cpus=settings.cpus,
    )
