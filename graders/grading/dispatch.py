"""Dispatching grading tasks to an executor: Dask today (a local cluster by default, or an existing one).

The grading stage hands an :class:`Executor` pure tasks (see :mod:`graders.grading.task`)
and gets results back as they finish; it does not know what runs them. :class:`DaskExecutor`
is the one engine so far: a worker needs paceline and the sandbox installed and nothing
shared with the coordinator (no course folder, no gradebook, no network filesystem).
Another engine (a batch queue, a pool of containers) is another class with ``run``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


class Executor(Protocol):
    def run(
        self, function: Callable[[T, S], R], tasks: Sequence[T], *, shared: Mapping[str, S], shared_key: Callable[[T], str],
    ) -> Iterator[tuple[T, R | BaseException]]:
        """Run ``function(task, shared[shared_key(task)])`` for every task; yield each task and its
        result (or the exception it raised) as they finish, in any order. ``shared`` values (large, the
        same for many tasks) are sent once."""
        ...


class DaskExecutor:
    """Tasks on a Dask cluster: the one at ``scheduler`` (``tcp://host:port``) if given, else a local
    cluster of ``workers`` single-threaded processes (one per core by default). Use as a context manager."""

    def __init__(self, *, scheduler: str | None, workers: int | None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self._stack = ExitStack()
        self._client = None

    def __enter__(self) -> DaskExecutor:
        self._client = self._stack.enter_context(dask_client(scheduler=self.scheduler, workers=self.workers))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client = None
        self._stack.close()

    @property
    def address(self) -> str:
        """The scheduler's address: other executors (a later grading run) can connect to the same cluster."""
        return self._client.scheduler.address

    def run(
        self, function: Callable[[T, S], R], tasks: Sequence[T], *, shared: Mapping[str, S], shared_key: Callable[[T], str],
    ) -> Iterator[tuple[T, R | BaseException]]:
        from distributed import as_completed

        client = self._client
        scattered = {key: client.scatter(value, broadcast=True) for key, value in shared.items()}
        futures = {client.submit(function, task, scattered[shared_key(task)], pure=False): task for task in tasks}
        for future in as_completed(futures):
            task = futures.pop(future)
            try:
                yield task, future.result()
            except Exception as exc:  # noqa: BLE001 - one task's failure is reported, the batch goes on
                yield task, exc


@contextmanager
def dask_client(*, scheduler: str | None, workers: int | None) -> Iterator[object]:
    """A Dask client: to ``scheduler`` (``tcp://host:port``) if given, else to a
    local cluster of ``workers`` single-threaded processes (one per core by default)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    # One single-threaded process per core: each task drives one kernel process.
    n = workers or os.cpu_count() or 1
    with LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,  # logging.ERROR
    ) as cluster, Client(cluster) as client:
        yield client
