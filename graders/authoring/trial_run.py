"""Trial runs: execute a lesson notebook in a fresh kernel and read it as nbgrader would.

Authoring checks run each notebook twice (source and student version); the
helpers here start the kernel, keep every error in its cell so that one run
finds them all, and score test cells with nbgrader's own ``determine_grade``.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal
from nbformat import NotebookNode
from nbgrader.utils import determine_grade

from ..engine.isolation import TrialKernels

FALLBACK_KERNEL = "python3"
RAISES_EXCEPTION = "raises-exception"  # nbclient's cell tag: the cell is meant to raise (a demo of an error)
_log = logging.getLogger(__name__)

# What a cell that reaches for the network raises in a sandbox without one (urllib, socket, requests, httpx).
NETWORK_ERRORS = frozenset({"URLError", "gaierror", "ConnectionError", "ConnectionRefusedError", "ConnectError",
                            "NewConnectionError", "MaxRetryError", "TimeoutError", "socket.gaierror"})
NETWORK_TEXT = ("Temporary failure in name resolution", "Name or service not known", "Network is unreachable",
                "No address associated with hostname", "Failed to establish a new connection")
MISSING_MODULE = re.compile(r"No module named '([^']+)'")


@dataclass(frozen=True)
class ErrorHints:
    """What check knows about where lessons run, to say why a cell failed."""

    network_off: bool = False  # kernels ran in the grading sandbox, which has no network
    # A description of the course environment, for a missing module; None where a missing module says
    # something else (a student version missing a file the source had: the module is a file not published).
    environment: str | None = None


@dataclass(frozen=True)
class TrialRun:
    nb: NotebookNode
    stopped_at: int | None  # the cell the kernel died in (or None for the whole notebook), if it did
    failure: str | None


def run_in_kernel(nb: NotebookNode, *, cwd: Path, timeout: int, kernels: TrialKernels) -> TrialRun:
    """Execute a copy of ``nb`` in a fresh kernel; errors stay in the cells so one run finds them all.

    The kernel is started by ``kernels`` (the grading sandbox and the course
    environment) with ``NBGRADER_EXECUTION=autograde``, as nbgrader's
    autograder sets it: check predicts grading.
    """
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
        kernel_manager_class=kernels.manager_class,
        config=kernels.config,
    )
    try:
        # The kernel's own stderr is start-up chatter; everything a cell does arrives as outputs.
        # The kernel's environment is given, not set in os.environ (as nbgrader's setenv does): check runs
        # lessons in threads, and one thread's restoring os.environ would start another's kernel without it.
        client.execute(stderr=subprocess.DEVNULL, env={**os.environ, "NBGRADER_EXECUTION": "autograde"})
    except NoSuchKernel:
        return TrialRun(executed, None, f"no Jupyter kernel named {kernel!r} is installed (install it, or change the notebook's kernel)")
    except (RuntimeError, CellControlSignal) as exc:  # nbclient's DeadKernelError and kernel start-up failures
        if not current:
            return TrialRun(executed, None, f"the {kernel!r} kernel could not start: {exc}")
        return TrialRun(executed, current[-1], f"the kernel died while this cell ran ({exc}); later cells did not run")
    return TrialRun(executed, None, None)


def full_credit(cell: NotebookNode, *, timeout: int, hints: ErrorHints = ErrorHints()) -> tuple[bool, str]:
    """Whether nbgrader's autograder would give the executed test cell full points, and if not, why."""
    try:
        earned, max_points = determine_grade(cell, _log)
    except ValueError as exc:
        return False, f"its partial-credit output is unusable: {exc}"
    if earned is not None and earned >= max_points:
        return True, ""
    if (error := error_output(cell, timeout=timeout, hints=hints)) is not None:
        return False, error
    if any(output.output_type == "stream" and output.get("name") == "stderr" for output in cell.outputs):
        return False, "it writes to stderr, and nbgrader gives no credit to a test cell that does (a warning counts)"
    return False, f"it earns {earned or 0:g} of {max_points:g} points"


def expects_error(cell: NotebookNode) -> bool:
    """Whether the cell is tagged to raise on purpose (nbclient runs on past it, and so does nbgrader)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return isinstance(tags, list) and RAISES_EXCEPTION in tags


def error_output(cell: NotebookNode, *, timeout: int, hints: ErrorHints = ErrorHints()) -> str | None:
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
        why = error_hint(name, value, hints=hints)
        value = value if len(value) <= 200 else value[:200] + "..."
        shown = f"{name}: {value}" if value else name
        return f"{shown}; {why}" if why else shown
    return None


def error_hint(name: str, value: str, *, hints: ErrorHints) -> str | None:
    """Why a cell failed, when the reason is where lessons run: a missing package, or no network."""
    missing = MISSING_MODULE.search(value) if name == "ModuleNotFoundError" and hints.environment else None
    if missing:
        return (f"module {missing.group(1)!r} is not in {hints.environment}: add it to the course's requirements "
                "([environment] requirements in course.toml), then run `paceline environment build`")
    if hints.network_off and (name in NETWORK_ERRORS or any(text in value for text in NETWORK_TEXT)):
        return ("the network is off while grading: ship the file with the lesson (put it in the lesson folder "
                "and read it from there)")
    return None
