"""Running grading tasks on Dask: a local cluster by default, or an existing one.

Tasks are pure (see :mod:`graders.grading.task`), so a worker needs paceline
and the sandbox installed and nothing shared with the coordinator: no course
folder, no gradebook, no network filesystem. The grading stage sees only an
:class:`Executor`: Dask (:class:`DaskExecutor`) is the one engine so far, and
another (a batch queue, a pool of containers) is another class with ``run``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


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

    def run(
        self, function: Callable[[T, S], R], tasks: Sequence[T], *, shared: Mapping[str, S], shared_key: Callable[[T], str],
    ) -> Iterator[tuple[T, R | BaseException]]:
        """Run ``function(task, shared[shared_key(task)])`` for every task; yield each task with its result (or
        the exception it raised) as they finish, in any order; ``shared`` values are sent once."""
        ...


class DaskExecutor:
    """Tasks on a Dask cluster, through a client of it; :func:`dask_executor` opens one."""

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


@contextmanager
def dask_executor(*, scheduler: str | None, workers: int | None) -> Iterator[DaskExecutor]:
    """An executor on the Dask cluster at ``scheduler``, else on a local cluster of ``workers`` processes
    (:func:`dask_client`), for as long as the ``with`` lasts."""
    with dask_client(scheduler=scheduler, workers=workers) as client:
        yield DaskExecutor(client)
