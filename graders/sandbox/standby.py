"""A sandboxed kernel started ahead of need: one per process, waiting for the next notebook.

A sandboxed kernel takes about a second to boot, and it used to boot only once
its notebook was known, on the path of every score. A process that runs one
notebook after another (a grading worker of ``paceline watch`` or of a Dask
cluster) instead keeps one kernel started and waiting: :meth:`Standby.start`
launches it (it boots while the process grades something else), and
:meth:`Standby.take` hands the next notebook's folder to it
(:meth:`SandboxedKernelManager.hand_over`).

What does not change: a kernel runs one notebook and is shut down after it (the
taker shuts it down; it is never given back); while it waits it has an empty
working folder and its own pool user, whose lease it holds until it is shut
down, so it can read nothing of the attempt before or after it; a kernel that
died while waiting, or was started for other limits or another interpreter,
is shut down and the notebook gets a kernel started for it as before.

The waiting kernel belongs to the process: it is per process by nature (a
worker's tasks are pure data and share nothing else), so it is kept here, and
shut down when the process exits (the sandbox's own finalizer; and bwrap dies
with the thread that launched it if the process is killed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from .manager import KernelLost, SandboxedKernelManager

_log = logging.getLogger(__name__)


class Standby:
    """At most one sandboxed kernel started ahead, with the recipe (limits, interpreter, arguments) it was started by."""

    def __init__(self) -> None:
        self._waiting: tuple[str, SandboxedKernelManager] | None = None

    @property
    def waiting(self) -> SandboxedKernelManager | None:
        """The kernel started ahead and waiting, if any (for tests and diagnostics)."""
        return self._waiting[1] if self._waiting else None

    async def take(self, recipe: str, folder: str, *, timeout: float) -> SandboxedKernelManager | None:
        """The waiting kernel, given ``folder`` (the notebook's), if it was started by ``recipe`` and is
        alive; else None, and the caller starts a kernel for the notebook as usual. The taker shuts it
        down after its one notebook. Raises what :meth:`hand_over` raises for the folder itself
        (too big to copy)."""
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return None
        started_by, manager = waiting
        if started_by != recipe:
            await _shut_down(manager)
            return None
        try:
            await manager.hand_over(folder, timeout=timeout)
        except KernelLost as exc:
            _log.warning("%s; starting another for %s", exc, folder)
            await _shut_down(manager)
            return None
        except BaseException:
            await _shut_down(manager)
            raise
        return manager

    async def start(self, recipe: str, make: Callable[[], SandboxedKernelManager], *, extra_arguments: Sequence[str]) -> None:
        """Start a kernel ahead with ``make()``'s manager, replacing any kernel waiting.

        It waits for no pool user: when every one is busy, nothing is started
        (the next notebook's kernel then waits for one, as it always did).
        Nothing here fails the caller: a kernel that cannot start ahead is
        started for its notebook later, which reports why it cannot.
        """
        await self.discard()
        manager = make()
        manager.slot_wait = 0.0
        try:
            await manager.start_ahead(extra_arguments=list(extra_arguments))
        except Exception as exc:  # noqa: BLE001 - an optimisation only: the next notebook starts its own
            _log.info("no kernel started ahead: %s", exc)
            await _shut_down(manager)
            return
        self._waiting = (recipe, manager)

    async def discard(self) -> None:
        """Shut down the waiting kernel, if any."""
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            await _shut_down(waiting[1])


async def _shut_down(manager: SandboxedKernelManager) -> None:
    try:
        if manager.has_kernel:
            await manager.shutdown_kernel(now=True)
    finally:
        await manager.cleanup_resources()


_PROCESS_STANDBY = Standby()


def process_standby() -> Standby:
    """This process's standby kernel (see the module docstring for why it is per process)."""
    return _PROCESS_STANDBY
