"""Strategies that train in the calling thread: the baseline, and scikit-learn's own n_jobs."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import ClassVar

from threadpoolctl import threadpool_limits

from mlcpu._worker import Job, execute
from mlcpu.strategies._failures import (
    failure_result,
    task_failed_error,
    timeout_error,
    unreported,
)
from mlcpu.strategies.base import Strategy
from mlcpu.training import TaskResult
from mlcpu.workload import Workload


class _Deadline(BaseException):
    """Raised by SIGALRM inside a task that ran past its timeout (not an ``Exception``)."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the calling code after ``seconds``, between two Python bytecodes.

    A forest fit returns to Python between trees, so the task stops within one tree's time.
    Works in the main thread on POSIX; elsewhere the task simply runs to the end.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise _Deadline

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class InProcessStrategy(Strategy):
    """Configurations one after another in this thread; each forest gets ``_n_jobs()`` threads."""

    parallel: ClassVar[bool] = False

    def _n_jobs(self) -> int:
        return 1

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        # BLAS/OpenMP capped at one thread for the whole run: the baseline is one core.
        with threadpool_limits(limits=1):
            return self._run_capped(workload, keep_estimators=keep_estimators)

    def _run_capped(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        results: list[TaskResult] = []
        for index, config in enumerate(workload.configs):
            job = Job(
                index,
                config,
                workload.dataset,
                workload.seed,
                n_jobs=self._n_jobs(),
                keep_estimator=keep_estimators,
            )
            started = time.perf_counter()
            try:
                with _deadline(self.task_timeout):
                    outcome = execute(job)
            except _Deadline:
                timeout = self.task_timeout or 0.0
                error = timeout_error(self.name, job, timeout, " and was stopped", results)
                if not self.keep_going:
                    raise error from None
                results.append(self._emit(unreported(job, started, 0, str(error))))
                continue
            if outcome.failure is not None:
                if not self.keep_going:
                    raise task_failed_error(self.name, job, outcome.failure, results)
                results.append(self._emit(failure_result(job, outcome.failure)))
            else:
                assert outcome.result is not None
                results.append(self._emit(outcome.result))
        return results


class SequentialStrategy(InProcessStrategy):
    name = "sequential"
    summary = "one configuration after another on one core: the baseline every speedup is against"


class SklearnStrategy(InProcessStrategy):
    name = "sklearn"
    summary = (
        "configurations one after another, each forest building its trees on every worker "
        "with scikit-learn's own n_jobs (threads)"
    )
    parallel = True

    def _n_jobs(self) -> int:
        return self.workers
