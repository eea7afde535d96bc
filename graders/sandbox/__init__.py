"""Paceline's kernel sandbox: student notebooks run only in bwrap, as a pool user, with limits.

Public API::

    SandboxLimits                 frozen dataclass of per-kernel limits
    SandboxedKernelManager        jupyter_client kernel manager (sandboxed python, ipc, message interrupts)
    SandboxedExecute              nbgrader Execute preprocessor that only uses that manager
    sandbox_config(limits, timeout=)  traitlets Config wiring it into nbgrader's autograde
    check_sandbox() -> list[str]  what is missing on this host (empty when ready)
    require_sandbox()             raise SandboxUnavailable naming what is missing and how to fix it
    SandboxUnavailable            PacelineError
    build_argv(plan)              the pure launch-command builder (SandboxPlan -> argv)

Install on a host with ``sh graders/sandbox/install.sh`` (root; idempotent),
check with ``python -m graders.sandbox check``.
"""

from .command import SandboxPlan, build_argv
from .host import SandboxUnavailable, check_sandbox, require_sandbox
from .limits import SandboxLimits
from .manager import SandboxedKernelClient, SandboxedKernelManager
from .resources import ScratchCopyError
from .wiring import SandboxedExecute, sandbox_config

__all__ = [
    "SandboxLimits",
    "SandboxPlan",
    "SandboxUnavailable",
    "SandboxedExecute",
    "SandboxedKernelClient",
    "SandboxedKernelManager",
    "ScratchCopyError",
    "build_argv",
    "check_sandbox",
    "require_sandbox",
    "sandbox_config",
]
