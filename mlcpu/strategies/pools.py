"""Strategies that hand whole configurations to a pool of workers: the tutorial's parallel cases."""

from __future__ import annotations

import abc
import contextlib
import multiprocessing
from collections.abc import Iterator
from typing import Any

from threadpoolctl import threadpool_limits

from mlcpu._shared_data import SharedDataset
from mlcpu._worker import Job
from mlcpu.errors import InputError
from mlcpu.strategies._backends import LokyBackend, PoolBackend, ThreadBackend
from mlcpu.strategies._engine import Backend
from mlcpu.strategies._supervisor import Supervisor
from mlcpu.strategies.base import Strategy
from mlcpu.training import TaskResult
from mlcpu.workload import Workload

START_METHODS = tuple(multiprocessing.get_all_start_methods())
DEFAULT_START_METHOD = "fork" if "fork" in START_METHODS else "spawn"


@contextlib.contextmanager
def shared(workload: Workload) -> Iterator[Workload]:
    """The workload with its dataset memory-mapped, so tasks pickle a path, not the arrays."""
    if workload.dataset.shared_folder is not None:
        yield workload
        return
    with SharedDataset(workload.dataset) as dataset:
        yield Workload(dataset, workload.configs, workload.seed, workload.options)


class PoolStrategy(Strategy):
    """A strategy whose workers live in a ``Backend`` driven by the supervisor."""

    uses_processes = True
    supervised = True

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        super().__init__(workers, **options)
        self._backend: Backend | None = None

    @abc.abstractmethod
    def _make_backend(self) -> Backend:
        """The pool this strategy drives."""

    def _start(self) -> None:
        backend = self._make_backend()
        try:
            backend.start()
        except BaseException:
            backend.terminate()
            raise
        self._backend = backend

    def _close(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.terminate()

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        if self._backend is None:  # a previous failure stopped the pool
            self._start()
        assert self._backend is not None
        supervisor = Supervisor(
            self.name,
            self._backend,
            keep_going=self.keep_going,
            task_timeout=self.task_timeout,
            emit=self._emit,
        )
        with shared(workload) if self.uses_processes else contextlib.nullcontext(workload) as ready:
            jobs = [
                Job(i, config, ready.dataset, ready.seed, keep_estimator=keep_estimators)
                for i, config in enumerate(ready.configs)
            ]
            try:
                if self.uses_processes:  # workers were capped by their initializer
                    return supervisor.run(jobs)
                with threadpool_limits(limits=1):  # threads share this process's pools
                    return supervisor.run(jobs)
            except BaseException:
                self._backend = None  # the supervisor stopped it; start afresh next time
                raise


class JoblibStrategy(PoolStrategy):
    name = "joblib"
    summary = (
        "joblib's loky worker processes (what Parallel(n_jobs=N) runs on), kept warm; "
        "robust, but each worker pays a fresh interpreter and imports once"
    )

    def _make_backend(self) -> Backend:
        return LokyBackend(self.workers, strategy=self.name)


class MultiprocessingStrategy(PoolStrategy):
    name = "multiprocessing"
    summary = (
        "a multiprocessing.Pool of worker processes; with fork (Linux default) it starts in "
        "milliseconds and inherits everything already imported"
    )

    def __init__(
        self, workers: int | None = None, *, start_method: str | None = None, **options: Any
    ) -> None:
        method = start_method or DEFAULT_START_METHOD
        if method not in START_METHODS:
            raise InputError(
                f"start method {method!r} is not available here; choose one of "
                f"{', '.join(START_METHODS)}"
            )
        super().__init__(workers, **options)
        self.start_method = method

    @property
    def label(self) -> str:
        return f"{self.name} ({self.start_method})"

    def describe(self) -> dict[str, Any]:
        return {"start_method": self.start_method}

    def _make_backend(self) -> Backend:
        return PoolBackend(self.workers, self.start_method, strategy=self.name)


class ThreadsStrategy(PoolStrategy):
    name = "threads"
    summary = (
        "a pool of threads in this process: no start-up cost or data copies, but only the "
        "parts of training that release the GIL run in parallel"
    )
    uses_processes = False

    def _make_backend(self) -> Backend:
        return ThreadBackend(self.workers, strategy=self.name)
