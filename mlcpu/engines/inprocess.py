"""The engine that runs units one after another in the calling thread: the baseline's."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

from threadpoolctl import threadpool_limits

from mlcpu.engines.base import Engine, JobFunction, Settle
from mlcpu.records.task import TaskResult


class _Deadline(BaseException):
    """Raised by SIGALRM inside a unit that ran past its timeout (not an ``Exception``)."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the calling code after ``seconds``, between two Python bytecodes.

    A forest fit returns to Python between trees, so the unit stops within one tree's time.
    Works in the main thread on POSIX; elsewhere the unit simply runs to the end.
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


class InProcessEngine(Engine):
    """Units in order in this thread, BLAS/OpenMP capped at one thread: one core's baseline.

    A unit's own ``n_jobs`` (scikit-learn's threads, the ``sklearn`` strategy) still runs;
    the cap only stops numerical libraries from adding threads of their own.
    """

    def run(self, units: Sequence[Any], fn: JobFunction, settle: Settle) -> None:
        settled: list[TaskResult] = []
        with threadpool_limits(limits=1):
            for unit in units:
                settled.append(settle(self._run_one(unit, fn, settled)))

    def _run_one(self, unit: Any, fn: JobFunction, settled: list[TaskResult]) -> TaskResult:
        policy = self.policy
        started = time.perf_counter()
        try:
            with _deadline(policy.task_timeout):
                outcome = fn(unit)
        except _Deadline:
            outcome = None
        if outcome is None:  # out of the handler: the timeout's error chains to nothing
            return policy.timed_out(unit, " and was stopped", settled, started=started, pid=0)
        if outcome.failure is not None:
            return policy.failed(unit, outcome.failure, settled)
        assert outcome.result is not None
        return outcome.result
