"""The engines whose workers a supervisor watches: loky, a ``multiprocessing.Pool``, threads.

Each is a ``Backend`` (``pools``) driven by the ``Supervisor``, which turns deaths, timeouts
and failures into the ``FailurePolicy``'s answers. A run that raised leaves the pool stopped
(the supervisor stops every worker before raising); the next run starts a fresh one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from threadpoolctl import threadpool_limits

from mlcpu.data.shared import SharedDataset
from mlcpu.engines.backend import Backend
from mlcpu.engines.base import Engine, JobFunction, Settle
from mlcpu.engines.failures import FailurePolicy
from mlcpu.engines.pools import LokyBackend, PoolBackend, ThreadBackend
from mlcpu.engines.supervisor import Supervisor
from mlcpu.errors import InputError
from mlcpu.training.workload import Workload

START_METHODS = tuple(multiprocessing.get_all_start_methods())
DEFAULT_START_METHOD = "fork" if "fork" in START_METHODS else "spawn"


def check_start_method(method: str | None) -> str:
    method = method or DEFAULT_START_METHOD
    if method not in START_METHODS:
        raise InputError(
            f"start method {method!r} is not available here; choose one of "
            f"{', '.join(START_METHODS)}"
        )
    return method


@contextlib.contextmanager
def shared(workload: Workload) -> Iterator[Workload]:
    """The workload with its dataset memory-mapped, so units pickle a path, not the arrays."""
    if workload.dataset.shared_folder is not None:
        yield workload
        return
    with SharedDataset(workload.dataset) as dataset:
        yield Workload(dataset, workload.configs, workload.seed, workload.options)


class SupervisedEngine(Engine):
    """A pool of workers (``make_backend()``) under the supervisor."""

    uses_processes = True
    supervised = True

    def __init__(
        self, workers: int, policy: FailurePolicy, make_backend: Callable[[], Backend]
    ) -> None:
        super().__init__(workers, policy)
        self._make_backend = make_backend
        self.backend: Backend | None = None

    def _start(self) -> None:
        backend = self._make_backend()
        try:
            backend.start()
        except BaseException:
            backend.terminate()
            raise
        self.backend = backend

    def _close(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.terminate()

    @contextlib.contextmanager
    def prepared(self, workload: Workload) -> Iterator[Workload]:
        with shared(workload) if self.uses_processes else contextlib.nullcontext(workload) as ready:
            yield ready

    def run(self, units: Sequence[Any], fn: JobFunction, settle: Settle) -> None:
        if self.backend is None:  # a previous failure stopped the pool
            self.close()
            self.start()
        assert self.backend is not None
        supervisor = Supervisor(self.backend, self.policy, settle)
        try:
            if self.uses_processes:  # workers were capped by their initializer
                supervisor.run(units, fn)
                return
            with threadpool_limits(limits=1):  # threads share this process's pools
                supervisor.run(units, fn)
        except BaseException:
            self.backend = None  # the supervisor stopped it; start afresh next time
            raise

    def call(self, fn: Callable[[], Any]) -> Any:
        assert self.backend is not None
        return self.backend.call(fn)


class LokyEngine(SupervisedEngine):
    """joblib's loky executor: what ``Parallel(n_jobs=N)`` runs on."""

    def __init__(self, workers: int, policy: FailurePolicy) -> None:
        super().__init__(workers, policy, lambda: LokyBackend(workers, strategy=policy.strategy))


class ForkPoolEngine(SupervisedEngine):
    """A ``multiprocessing.Pool`` with a chosen start method (fork where available)."""

    def __init__(
        self, workers: int, policy: FailurePolicy, start_method: str | None = None
    ) -> None:
        self.start_method = method = check_start_method(start_method)
        super().__init__(
            workers, policy, lambda: PoolBackend(workers, method, strategy=policy.strategy)
        )

    def describe(self) -> dict[str, Any]:
        return {"start_method": self.start_method}


class ThreadEngine(SupervisedEngine):
    """A pool of threads in this process: no start-up or copies, parallel only outside the GIL."""

    uses_processes = False

    def __init__(self, workers: int, policy: FailurePolicy) -> None:
        super().__init__(workers, policy, lambda: ThreadBackend(workers, strategy=policy.strategy))
