"""nbgrader's side: the Execute preprocessor that only uses sandboxed kernels, and its config.

``c.Execute.kernel_manager_class`` cannot do this: nbgrader's ``Execute.__init__``
passes ``kernel_manager_class=AsyncKernelManager`` as a keyword, and traitlets
lets keywords win over config, so that setting is silently ignored. Instead
the autograde pass gets :class:`SandboxedExecute` in place of ``Execute``, and
paceline's strict scoring (:mod:`graders.engine.scoring`) in place of ``SaveAutoGrades``.

A notebook takes the kernel its process started ahead when one is waiting
(:mod:`graders.sandbox.standby`); with ``start_next_kernel`` (grading workers
that run one notebook after another) each notebook then starts the next one's.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

from jupyter_core.utils import run_sync
from traitlets import Bool, TraitError, validate
from traitlets.config import Config

from ..sandbox.host import require_sandbox
from ..sandbox.limits import SandboxLimits
from ..sandbox.manager import KERNEL_NAME, SandboxedKernelManager
from ..sandbox.standby import process_standby
from . import stages
from .scoring import ReplyRecordingExecute, autograde_preprocessors

SANDBOXED_EXECUTE = "graders.engine.sandboxed.SandboxedExecute"
IOPUB_TIMEOUT = 30  # seconds a finished cell's remaining output may take; see sandbox_config
IOPUB_TIMEOUT_AFTER_INTERRUPT = 4  # nbclient's default: a cell that ran out of time is not waited for long


class SandboxedExecute(ReplyRecordingExecute):
    """nbgrader's Execute, with every kernel started by :class:`SandboxedKernelManager`
    (and each cell's execute reply recorded for scoring)."""

    start_next_kernel = Bool(
        False, config=True,
        help="after each notebook, start the next one's kernel in this process, sandboxed and waiting with an empty "
             "folder (for processes that run notebook after notebook: it boots while this one is scored)",
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(*args, **kwargs)
        self._output_wait = self.iopub_timeout
        self._taken: SandboxedKernelManager | None = None

    @validate("kernel_manager_class")
    def _sandboxed_only(self, proposal):
        if not (isinstance(proposal.value, type) and issubclass(proposal.value, SandboxedKernelManager)):
            raise TraitError(f"SandboxedExecute runs student code only with SandboxedKernelManager, not {proposal.value!r}")
        return proposal.value

    def preprocess(self, nb, resources=None, km=None):
        if km is not None and not isinstance(km, SandboxedKernelManager):
            raise TraitError("SandboxedExecute refuses a kernel manager that is not sandboxed")
        km_config = self.config.get("SandboxedKernelManager", {})
        require_sandbox(**{k: v for k, v in (("prefix", km_config.get("pool_prefix")),
                                               ("size", km_config.get("pool_size")),
                                               ("base_dir", km_config.get("base_dir"))) if v is not None})
        folder = ((resources or {}).get("metadata") or {}).get("path")
        if km is None and folder:
            started = time.perf_counter()
            km = self._taken = run_sync(process_standby().take)(self._kernel_recipe(), str(folder),
                                                                timeout=float(self.startup_timeout))
            stages.add("kernel start", time.perf_counter() - started)
        try:
            result = super().preprocess(nb, resources, km=km)
        except Exception:
            self._start_next()
            raise
        finally:
            self._taken = None
        self._start_next()
        return result

    @contextmanager
    def setup_kernel(self, **kwargs):
        if self._taken is not None and self.km is self._taken:
            # Taken from the standby for this notebook alone: shut down after it, like a kernel nbclient started.
            kwargs.setdefault("cleanup_kc", True)
        with super().setup_kernel(**kwargs):
            yield

    def _start_next(self) -> None:
        if self.start_next_kernel:
            run_sync(process_standby().start)(self._kernel_recipe(), self._new_manager, extra_arguments=self._kernel_arguments())

    def _new_manager(self) -> SandboxedKernelManager:
        return SandboxedKernelManager(kernel_name=KERNEL_NAME, config=self.config)

    def _kernel_arguments(self) -> list[str]:
        """The kernel's arguments as nbclient would start it (its history file added as nbclient adds it)."""
        arguments = list(self.extra_arguments)
        if self.ipython_hist_file and not any(a.startswith("--HistoryManager.hist_file") for a in arguments):
            arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")
        return arguments

    def _kernel_recipe(self) -> str:
        """What a waiting kernel must have been started with to take this notebook: limits, interpreter, arguments."""
        settings = self.config.get("SandboxedKernelManager", {})
        return json.dumps({"manager": {key: settings[key] for key in sorted(settings)}, "arguments": self._kernel_arguments()},
                          default=repr)

    def preprocess_cell(self, cell, resources, index):
        self.iopub_timeout = self._output_wait
        return super().preprocess_cell(cell, resources, index)

    async def _async_handle_timeout(self, timeout, cell=None):
        # nbclient interrupts a cell that ran out of time, then waits iopub_timeout for its last output. A kernel
        # that ignores the interrupt sends none: the long wait for a big output would let it run on to the
        # kernel's wall-clock limit instead of failing at the cell's timeout.
        self.iopub_timeout = IOPUB_TIMEOUT_AFTER_INTERRUPT
        return await super()._async_handle_timeout(timeout, cell)

    def process_message(self, msg, cell, cell_index):
        # A display shown by a cell that has finished cannot be rewritten by a later cell. nbclient
        # would update every output with the display id, wherever it is; once hidden tests have
        # run, a later cell could then write them into an earlier cell's output, which feedback
        # shows (graders.feedback.hidden_tests keeps outputs from before the first hidden test).
        content = msg.get("content") or {}
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id and display_id in self._display_id_map:
            appearances = self._display_id_map[display_id]
            for index in [i for i in appearances if i != cell_index]:
                del appearances[index]
        return super().process_message(msg, cell, cell_index)


def sandbox_config(limits: SandboxLimits, *, timeout: int) -> Config:
    """nbgrader settings that make autograde run every notebook in the sandbox, ``timeout`` seconds per cell.

    The sandbox knows nothing of courses: :mod:`graders.engine.isolation` turns
    a course's ``[grading]`` settings into ``limits`` and merges this in.
    """
    c = Config()
    c.Autograde.autograde_preprocessors = autograde_preprocessors(execute=SANDBOXED_EXECUTE)
    c.Execute.timeout = timeout
    c.Execute.interrupt_on_timeout = True
    # After a cell's reply, nbclient waits this long for the rest of its output, and fails the whole
    # notebook when it runs out (nbgrader raises on it). nbclient's 4 s is too short for a cell that printed
    # up to the output limit on a busy grader: the student would get "failed" instead of a capped output
    # and a score. The wait ends at the kernel's idle message, and the kernel's wall clock bounds it anyway.
    c.Execute.iopub_timeout = max(IOPUB_TIMEOUT, timeout)
    c.Execute.kernel_name = KERNEL_NAME  # the manager ignores the notebook's kernelspec anyway
    c.Execute.startup_timeout = 60
    c.Execute.shutdown_kernel = "immediate"  # a student kernel has nothing to save
    c.SandboxedKernelManager.memory_mb = limits.memory_mb
    c.SandboxedKernelManager.address_space_mb = limits.address_space_mb or 0
    c.SandboxedKernelManager.cpu_seconds = limits.cpu_seconds
    c.SandboxedKernelManager.processes = limits.processes
    c.SandboxedKernelManager.file_size_mb = limits.file_size_mb
    c.SandboxedKernelManager.open_files = limits.open_files
    c.SandboxedKernelManager.scratch_mb = limits.scratch_mb
    c.SandboxedKernelManager.output_mb = limits.output_mb
    c.SandboxedKernelManager.total_output_mb = limits.total_output_mb
    c.SandboxedKernelManager.cpus = limits.cpus
    c.SandboxedKernelManager.wall_seconds = limits.wall_clock_seconds
    return c
