"""Paceline's kernel sandbox: student notebooks run only in bwrap, as a pool user, with limits.

Public API::

    SandboxLimits                 frozen dataclass of per-kernel limits
    SandboxedKernelManager        jupyter_client kernel manager (sandboxed python, ipc, message interrupts)
    check_sandbox() -> list[str]  what is missing on this host (empty when ready)
    require_sandbox()             raise SandboxUnavailable naming what is missing and how to fix it
    SandboxUnavailable            PacelineError
    build_argv(plan)              the pure launch-command builder (SandboxPlan -> argv)

Install on a host with ``sh graders/sandbox/install.sh`` (root; idempotent),
check with ``python -m graders.sandbox check``. The sandbox knows nothing of nbgrader or
courses: :mod:`graders.engine.sandboxed` wires its kernels into nbgrader's autograde.
"""

from .client import SandboxedKernelClient
from .command import SandboxPlan, build_argv
from .host import SandboxUnavailable, check_sandbox, require_sandbox
from .limits import SandboxLimits
from .manager import SandboxedKernelManager
from .resources import ScratchCopyError

__all__ = [
    "SandboxLimits",
    "SandboxPlan",
    "SandboxUnavailable",
    "SandboxedKernelClient",
    "SandboxedKernelManager",
    "ScratchCopyError",
    "build_argv",
    "check_sandbox",
    "require_sandbox",
]
