"""What every execution strategy is: a named object that owns its workers and runs a workload.

A strategy's pool lives as long as the context manager (``with strategy:``), so start-up is
paid once and measured apart from the work, and repeated runs measure a warm pool.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any, ClassVar, Self

from mlcpu.errors import InputError
from mlcpu.machine import usable_cpus
from mlcpu.training import TaskResult
from mlcpu.workload import Workload

ResultCallback = Callable[[TaskResult], None]


def check_workers(workers: int | None) -> int:
    """``None`` means every usable core (container quota and affinity included)."""
    if workers is None:
        return usable_cpus()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    return workers


def check_timeout(task_timeout: float | None) -> float | None:
    if task_timeout is None:
        return None
    if (
        isinstance(task_timeout, bool)
        or not isinstance(task_timeout, int | float)
        or not (task_timeout > 0)
    ):
        raise InputError(f"task timeout must be a positive number of seconds, got {task_timeout!r}")
    return float(task_timeout)


class Strategy(abc.ABC):
    """Base class: subclasses set ``name`` and ``summary`` and implement ``_run``.

    Subclasses that own a pool override ``_start`` and ``_close``. ``run`` may be called many
    times between ``start`` and ``close``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    #: whether the strategy has more than one worker doing tasks at once
    parallel: ClassVar[bool] = True
    #: whether its workers are processes (tasks then get the dataset shared, not copied)
    uses_processes: ClassVar[bool] = False
    #: whether mlcpu's supervisor watches its workers (deaths, timeouts: ``_supervisor``)
    supervised: ClassVar[bool] = False

    def __init__(
        self,
        workers: int | None = None,
        *,
        task_timeout: float | None = None,
        keep_going: bool = False,
    ) -> None:
        self.workers = check_workers(workers) if self.parallel else 1
        self.task_timeout = check_timeout(task_timeout)
        self.keep_going = keep_going
        self.startup_s = 0.0
        self._started = False
        self._origin = 0.0
        self._on_result: ResultCallback | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    @property
    def label(self) -> str:
        """Name plus the option that distinguishes it, e.g. ``multiprocessing (fork)``."""
        return self.name

    def describe(self) -> dict[str, Any]:
        """Options that belong in result JSON next to this strategy's figures."""
        return {}

    def result_extra(self) -> dict[str, Any]:
        """Extra per-strategy facts from the last run, merged into its JSON record."""
        return {}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Create and warm the worker pool; its cost is kept in ``startup_s``."""
        if self._started:
            return
        began = time.perf_counter()
        self._start()
        self.startup_s = time.perf_counter() - began
        self._started = True

    def close(self) -> None:
        """Stop every worker; safe to call twice and after a failure."""
        self._started = False
        self._close()

    def run(
        self,
        workload: Workload,
        *,
        on_result: ResultCallback | None = None,
        keep_estimators: bool = False,
    ) -> list[TaskResult]:
        """Train every configuration of ``workload``; results come back in workload order.

        ``on_result`` is called in the calling thread as each task finishes, with
        ``start_s``/``end_s`` already relative to the start of this run.
        """
        self.start()
        self._origin = time.perf_counter()
        self._on_result = on_result
        try:
            return self._run(workload, keep_estimators=keep_estimators)
        finally:
            self._on_result = None

    def _emit(self, result: TaskResult) -> TaskResult:
        result.start_s = max(0.0, result.started - self._origin)
        result.end_s = max(result.start_s, result.ended - self._origin)
        if self._on_result is not None:
            self._on_result(result)
        return result

    def _start(self) -> None:  # noqa: B027 - optional hook
        """Create the pool; nothing to do for strategies that run in the calling thread."""

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release the pool."""

    @abc.abstractmethod
    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        """Train the workload; call ``self._emit`` for each finished task."""
