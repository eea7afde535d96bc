"""How grading starts kernels for student code: in the sandbox, unless told otherwise.

Safe by default: :func:`kernel_config` refuses, naming what is missing, when the
sandbox cannot be set up. Plain kernels (student code running as the grader's
own user, able to read solutions and other students' work) are only used when
the caller explicitly passes ``sandboxed=False``, which the CLI exposes as
``--unsafe-no-sandbox``. Either way test cells are scored by
:mod:`graders.engine.scoring`, so a score never depends on whether the sandbox ran.
The one place course.toml's ``[grading]`` settings become the sandbox's
configuration, for paceline's grading workers and for nbgrader's own autograde
alike (:func:`sandbox_kernels`).
"""

from __future__ import annotations

from traitlets.config import Config

from ..course.plan import GradingSettings
from .scoring import REPLY_RECORDING_EXECUTE, autograde_preprocessors


def kernel_config(settings: GradingSettings, *, sandboxed: bool) -> Config:
    """nbgrader settings for the kernels that run one lesson's submissions."""
    if not sandboxed:
        c = Config()
        c.Autograde.autograde_preprocessors = autograde_preprocessors(execute=REPLY_RECORDING_EXECUTE)
        return c
    from ..sandbox import require_sandbox

    require_sandbox()
    return sandbox_kernels(settings)


def sandbox_kernels(settings: GradingSettings) -> Config:
    """nbgrader settings that start every kernel in the sandbox (which checks the host when one starts)."""
    from .sandboxed import sandbox_config

    return sandbox_config(sandbox_limits(settings), timeout=settings.timeout)


def sandbox_limits(settings: GradingSettings):
    """The sandbox's limits from course.toml's ``[grading]`` (or a lesson's override)."""
    from ..sandbox import SandboxLimits

    return SandboxLimits(
        memory_mb=settings.memory_mb, cpu_seconds=settings.cpu_seconds, processes=settings.processes,
        file_size_mb=settings.file_size_mb, open_files=settings.open_files,
        total_output_mb=settings.output_mb, cpus=settings.cpus,
    )
