"""Trial runs: execute a lesson notebook in a fresh kernel and read it as nbgrader would.

Authoring checks run each notebook twice (source and student version); the
helpers here start the kernel, keep every error in its cell so that one run
finds them all, and score test cells with nbgrader's own ``determine_grade``.
"""

from __future__ import annotations

import copy
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal
from nbformat import NotebookNode
from nbgrader.utils import determine_grade

FALLBACK_KERNEL = "python3"
RAISES_EXCEPTION = "raises-exception"  # nbclient's cell tag: the cell is meant to raise (a demo of an error)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialRun:
    nb: NotebookNode
    stopped_at: int | None  # the cell the kernel died in (or None for the whole notebook), if it did
    failure: str | None


def run_in_kernel(nb: NotebookNode, *, cwd: Path, timeout: int) -> TrialRun:
    """Execute a copy of ``nb`` in a fresh kernel; errors stay in the cells so one run finds them all."""
    executed = copy.deepcopy(nb)
    for cell in executed.cells:
        if cell.cell_type == "code":
            # Saved outputs of cells that never run (empty, or after a crash) must not be graded.
            cell.outputs = []
            cell.execution_count = None
    kernel = executed.metadata.get("kernelspec", {}).get("name") or FALLBACK_KERNEL
    current: list[int] = []
    client = NotebookClient(
        executed,
        kernel_name=kernel,  # the kernel nbgrader's autograder would use for this notebook
        timeout=timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(cwd)}},
        on_cell_execute=lambda cell, cell_index: current.append(cell_index),
    )
    try:
        # The kernel's own stderr is start-up chatter; everything a cell does arrives as outputs.
        client.execute(stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        return TrialRun(executed, None, f"no Jupyter kernel named {kernel!r} is installed (install it, or change the notebook's kernel)")
    except (RuntimeError, CellControlSignal) as exc:  # nbclient's DeadKernelError and kernel start-up failures
        if not current:
            return TrialRun(executed, None, f"the {kernel!r} kernel could not start: {exc}")
        return TrialRun(executed, current[-1], f"the kernel died while this cell ran ({exc}); later cells did not run")
    return TrialRun(executed, None, None)


def full_credit(cell: NotebookNode, *, timeout: int) -> tuple[bool, str]:
    """Whether nbgrader's autograder would give the executed test cell full points, and if not, why."""
    try:
        earned, max_points = determine_grade(cell, _log)
    except ValueError as exc:
        return False, f"its partial-credit output is unusable: {exc}"
    if earned is not None and earned >= max_points:
        return True, ""
    if (error := error_output(cell, timeout=timeout)) is not None:
        return False, error
    if any(output.output_type == "stream" and output.get("name") == "stderr" for output in cell.outputs):
        return False, "it writes to stderr, and nbgrader gives no credit to a test cell that does (a warning counts)"
    return False, f"it earns {earned or 0:g} of {max_points:g} points"


def expects_error(cell: NotebookNode) -> bool:
    """Whether the cell is tagged to raise on purpose (nbclient runs on past it, and so does nbgrader)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return isinstance(tags, list) and RAISES_EXCEPTION in tags


def error_output(cell: NotebookNode, *, timeout: int) -> str | None:
    for output in cell.get("outputs", []):
        if output.output_type != "error":
            continue
        name = output.get("ename") or "an error"
        if name == "KeyboardInterrupt":
            # nbclient interrupts a cell that runs past the timeout; nobody presses Ctrl-C here.
            return (f"KeyboardInterrupt: the cell did not finish within {timeout} s and was interrupted; "
                    "if it waits for a widget, the network or an endless loop, it will hang for every student too")
        if name == "StdinNotImplementedError":
            # ipykernel's answer to input() or getpass() when no frontend can type (nbclient, nbgrader).
            return ("StdinNotImplementedError: the cell waits for keyboard input (input() or getpass()), and nothing "
                    "can type while grading, so it fails for every student; set the value in the code instead")
        value = output.get("evalue", "")
        value = value if len(value) <= 200 else value[:200] + "..."
        return f"{name}: {value}" if value else name
    return None
