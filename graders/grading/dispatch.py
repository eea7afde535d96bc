"""Running grading tasks: on Dask (a local cluster, or an existing one), or, for a small batch, on forked processes.

Tasks are pure (see :mod:`graders.grading.task`), so a worker needs paceline
and the sandbox installed and nothing shared with the coordinator: no course
folder, no gradebook, no network filesystem. The grading stage sees only an
:class:`Executor`: Dask (:class:`DaskExecutor`) for batches and remote
clusters, :class:`ForkExecutor` when a batch is no bigger than the number of
workers (a local Dask cluster takes longer to start than such a batch takes to
grade), and another engine (a batch queue, a pool of containers) is another
class with ``run``.

Worker processes ignore SIGINT: Ctrl-C in the terminal reaches the whole
process group, and only the coordinator decides what an interruption means
(it stops recording and closes the executor, which ends the workers).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Protocol, TypeVar

from ..course.lock import close_in_forked_child

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


@contextmanager
def dask_client(*, scheduler: str | None, workers: int | None) -> Iterator[object]:
    """A Dask client: to ``scheduler`` (``tcp://host:port``) if given, else to a
    local cluster of ``workers`` single-threaded processes (:func:`default_workers` by default)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    # Single-threaded processes: each task drives one kernel process.
    n = default_workers(workers)
    # Worker processes inherit an ignored SIGINT (Python leaves it ignored), so Ctrl-C reaches the
    # coordinator alone instead of printing a traceback from every worker.
    with _sigint_ignored():
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
            # A task's failure reaches the coordinator as its exception; the workers' own log (heartbeats
            # missed on a busy host, a worker killed at shutdown) would only interleave with paceline's output.
            dashboard_address=None, silence_logs=logging.CRITICAL,
        )
    with cluster, Client(cluster) as client:
        yield client


def default_workers(workers: int | None) -> int:
    """Worker processes when none are asked for: one per core, plus one.

    Each task drives one kernel and waits while it runs, so one worker per
    core leaves a core idle during those waits. On 60 attempts on 2 cores
    (benchmarks/grading.py), 3 workers graded in 62.7 s, 2 in 70.7 s, 4 in 66.3 s.
    """
    return workers or (os.cpu_count() or 1) + 1


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to hand down
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_tasks(
    client,
    function: Callable[..., R],
    tasks: Sequence[T],
    *,
    shared: Mapping[str, object],
    shared_key: Callable[[T], str],
) -> Iterator[tuple[T, R | BaseException]]:
    """Run ``function(task, shared[shared_key(task)])`` for every task; yield results as they finish.

    ``shared`` values (large, the same for many tasks) are sent to the workers
    once. A task that raises yields its exception, and the others go on.
    """
    from distributed import as_completed

    scattered = {key: client.scatter(value, broadcast=True) for key, value in shared.items()}
    futures = {client.submit(function, task, scattered[shared_key(task)], pure=False): task for task in tasks}
    for future in as_completed(futures):
        task = futures.pop(future)
        try:
            yield task, future.result()
        except Exception as exc:  # noqa: BLE001 - one task's failure is reported, the batch goes on
            yield task, exc


class Executor(Protocol):
    """What the grading stage needs of whatever runs its tasks."""

    # Whether a worker process outlives its task and runs more: then it keeps a sandboxed kernel started
    # for its next notebook (graders.sandbox.standby), which boots while the current one is scored.
    keeps_processes: bool

    def run(
        self, function: Callable[[T, S], R], tasks: Sequence[T], *, shared: Mapping[str, S], shared_key: Callable[[T], str],
    ) -> Iterator[tuple[T, R | BaseException]]:
        """Run ``function(task, shared[shared_key(task)])`` for every task; yield each task with its result (or
        the exception it raised) as they finish, in any order; ``shared`` values are sent once."""
        ...


class DaskExecutor:
    """Tasks on a Dask cluster, through a client of it; :func:`dask_executor` opens one."""

    keeps_processes = True  # Dask's workers run task after task

    def __init__(self, client) -> None:
        self.client = client

    @property
    def address(self) -> str:
        """The scheduler's address, for a later grading run to use the same (warm) cluster."""
        return self.client.scheduler.address

    def run(
        self, function: Callable[[T, S], R], tasks: Sequence[T], *, shared: Mapping[str, S], shared_key: Callable[[T], str],
    ) -> Iterator[tuple[T, R | BaseException]]:
        return run_tasks(self.client, function, tasks, shared=shared, shared_key=shared_key)


class ForkExecutor:
    """Tasks on processes forked from the coordinator, which has imported nbgrader already: no cluster,
    no imports to repeat, nothing to start but the processes. :func:`fork_executor` opens one."""

    keeps_processes = False  # a process per task of a small batch: a kernel started for a next one would be wasted

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool

    def run(
        self, function: Callable[[T, S], R], tasks: Sequence[T], *, shared: Mapping[str, S], shared_key: Callable[[T], str],
    ) -> Iterator[tuple[T, R | BaseException]]:
        # Submitted now, not when the results are first asked for: the processes are forked at the first
        # submission, and by then a progress bar's thread may be running (a fork copies no thread, but
        # would copy a lock that thread held).
        futures: dict[Future, T] = {self.pool.submit(_reported, function, task, shared[shared_key(task)]): task
                                    for task in tasks}
        return _completed(futures)


def _completed(futures: dict[Future, T]) -> Iterator[tuple[T, object]]:
    for future in as_completed(futures):
        task = futures.pop(future)
        try:
            yield task, future.result()
        except Exception as exc:  # noqa: BLE001 - a worker that died fails its task, the batch goes on
            yield task, exc


@contextmanager
def fork_executor(*, workers: int) -> Iterator[ForkExecutor]:
    """An executor of ``workers`` processes forked from this one, for as long as the ``with`` lasts.

    Leaving the ``with`` early (an exception, Ctrl-C) ends the processes at once, with the kernels they
    drive (the sandbox's kernels die with their parent), instead of waiting for running tasks."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_worker)
    finished = False
    try:
        yield ForkExecutor(pool)
        finished = True
    finally:
        if not finished:
            # ProcessPoolExecutor has no public way to stop a running task; its processes are ours to end.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker() -> None:
    # The coordinator holds the course lock: a worker's copy of it would keep it held if the coordinator died.
    close_in_forked_child()
    # A process group of its own: nbclient installs its own SIGINT handler while it runs a notebook in a
    # main thread, so ignoring the signal is not enough to keep the terminal's Ctrl-C from this process.
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # An event loop the coordinator already had (it ran a kernel before: a watch cycle, a test) came along
    # with the fork, sharing its epoll descriptor with the coordinator's: waiting on it, the worker's kernel
    # start never saw its replies. Each worker starts kernels on a loop of its own.
    asyncio.set_event_loop(asyncio.new_event_loop())


def _reported(function: Callable[[T, S], R], task: T, shared: S) -> R | BaseException:
    """``function(task, shared)``, or the exception it raised, made sure to reach the coordinator."""
    try:
        return function(task, shared)
    except Exception as exc:  # noqa: BLE001 - one task's failure is reported, the batch goes on
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled is reported by its repr
            return RuntimeError(repr(exc))
        return exc


@contextmanager
def executor_for(*, task_count: int, scheduler: str | None, workers: int | None) -> Iterator[Executor]:
    """Where ``task_count`` tasks run: on the Dask cluster at ``scheduler`` if given; else, for a batch no
    bigger than the local workers in a process with no other thread, on forked processes (a local Dask
    cluster takes longer to start than such a batch takes to grade); else on a local Dask cluster."""
    n = default_workers(workers)
    # Forking copies only the calling thread: a lock another thread held at that moment (logging's, an event
    # loop's) stays held in the child forever. `paceline grade` forks before it starts any thread; a caller
    # that already runs threads (a test runner, an application embedding paceline) gets spawned workers.
    if scheduler is None and task_count <= n and threading.active_count() == 1:
        with fork_executor(workers=max(1, task_count)) as executor:
            yield executor
        return
    with dask_executor(scheduler=scheduler, workers=workers) as executor:
        yield executor


@contextmanager
def dask_executor(*, scheduler: str | None, workers: int | None) -> Iterator[DaskExecutor]:
    """An executor on the Dask cluster at ``scheduler``, else on a local cluster of ``workers`` processes
    (:func:`dask_client`), for as long as the ``with`` lasts."""
    with dask_client(scheduler=scheduler, workers=workers) as client:
        yield DaskExecutor(client)
