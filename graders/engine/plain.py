"""Kernels outside the sandbox that still run in the course environment.

For ``paceline check`` on a host without the sandbox and for grading with
``--unsafe-no-sandbox``: nbgrader's ``Execute`` would start whatever kernelspec
the notebook names from paceline's own Jupyter path; these start the course
environment's ipykernel instead (check and grade refuse kernel names the
environment does not provide before any kernel starts).
"""

from __future__ import annotations

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Unicode

from .scoring import ReplyRecordingExecute

PLAIN_EXECUTE = "graders.engine.plain.PlainExecute"


class CourseKernelManager(AsyncKernelManager):
    """AsyncKernelManager that starts ``python``'s ipykernel whatever kernel name it is given."""

    python = Unicode("", config=True, help="interpreter whose ipykernel runs; empty: the named kernelspec")

    @property
    def kernel_spec(self) -> KernelSpec | None:
        if not self.python:
            return super().kernel_spec
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=[self.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python (course environment)", language="python", env={}, metadata={}, resource_dir="",
            )
        return self._kernel_spec


class PlainExecute(ReplyRecordingExecute):
    """nbgrader's Execute (recording replies) with kernels from :class:`CourseKernelManager`."""

    def __init__(self, *args, **kwargs) -> None:
        # nbgrader's Execute passes kernel_manager_class as a keyword, which wins over config.
        kwargs["kernel_manager_class"] = CourseKernelManager
        super().__init__(*args, **kwargs)
