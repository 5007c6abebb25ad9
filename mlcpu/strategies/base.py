"""What every execution strategy is: a plan (what to send) on an engine (where it runs).

A strategy is the name users know (``sequential``, ``balanced``, ``dask``...). It makes one
engine (``mlcpu.engines``) for its lifetime and one plan (``mlcpu.plans``) per run; ``_run``
is the whole seam::

    with engine.prepared(workload) as ready:        # data shared with the workers once
        plan = self._make_plan(ready, ...)          # which units, and how to assemble them
        engine.run(plan.units(), plan.job_function, plan.take)
        return plan.results()                       # one result per configuration

The engine lives as long as the context manager (``with strategy:``), so start-up is paid
once and measured apart from the work, and repeated runs measure a warm pool. Failures follow
the strategy's one ``FailurePolicy`` (fail fast, or keep going; the task timeout).
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any, ClassVar, Self

from mlcpu.engines.base import Engine
from mlcpu.engines.failures import FailurePolicy
from mlcpu.errors import InputError, TaskError
from mlcpu.host.machine import usable_cpus
from mlcpu.plans.base import Plan
from mlcpu.plans.whole import WholePlan
from mlcpu.records.task import TaskResult
from mlcpu.training.workload import Workload

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
    """Base class: subclasses set ``name`` and ``summary`` and implement ``_make_engine``.

    A strategy whose plan is not whole configurations overrides ``_make_plan``; one that
    chooses among plans or engines per run (``auto``) overrides ``_run``. ``run`` may be called
    many times between ``start`` and ``close``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    #: whether the strategy has more than one worker doing tasks at once
    parallel: ClassVar[bool] = True
    #: whether its workers are processes (tasks then get the dataset shared, not copied)
    uses_processes: ClassVar[bool] = False
    #: whether mlcpu's supervisor watches its workers (deaths, timeouts: ``engines.supervisor``)
    supervised: ClassVar[bool] = False

    def __init__(
        self,
        workers: int | None = None,
        *,
        task_timeout: float | None = None,
        keep_going: bool = False,
    ) -> None:
        self.policy = FailurePolicy(self.name, keep_going, check_timeout(task_timeout))
        self.startup_s = 0.0
        #: how many runs the caller will make (the runner's repeats): a strategy that decides
        #: whether a pool pays (``auto``) shares the pool's start-up among them
        self.expected_runs = 1
        self._started = False
        self._origin = 0.0
        self._on_result: ResultCallback | None = None
        self._plan_facts: dict[str, Any] = {}
        self.engine = self._make_engine(check_workers(workers) if self.parallel else 1)

    @property
    def workers(self) -> int:
        """Workers of the engine (a cluster's, once connected)."""
        return self.engine.workers

    @property
    def task_timeout(self) -> float | None:
        return self.policy.task_timeout

    @task_timeout.setter
    def task_timeout(self, seconds: float | None) -> None:
        self.policy.task_timeout = check_timeout(seconds)

    @property
    def keep_going(self) -> bool:
        return self.policy.keep_going

    @keep_going.setter
    def keep_going(self, keep_going: bool) -> None:
        self.policy.keep_going = keep_going

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    @property
    def label(self) -> str:
        """Name plus the option that distinguishes it, e.g. ``multiprocessing (fork)``."""
        return self.name

    def describe(self) -> dict[str, Any]:
        """Options that belong in result JSON next to this strategy's figures."""
        return self.engine.describe()

    def result_extra(self) -> dict[str, Any]:
        """Extra per-strategy facts from the last run, merged into its JSON record."""
        return dict(self._plan_facts)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Create and warm the workers; its cost is kept in ``startup_s``."""
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

    def emit(self, result: TaskResult) -> TaskResult:
        """A configuration's result is ready: times relative to this run, then ``on_result``."""
        result.start_s = max(0.0, result.started - self._origin)
        result.end_s = max(result.start_s, result.ended - self._origin)
        if self._on_result is not None:
            self._on_result(result)
        return result

    @abc.abstractmethod
    def _make_engine(self, workers: int) -> Engine:
        """The engine this strategy runs on, made once (started in ``start``)."""

    def _make_plan(self, workload: Workload, *, keep_estimators: bool) -> Plan:
        """This run's plan; whole configurations unless the strategy says otherwise."""
        return WholePlan(workload, self.emit, keep_estimators=keep_estimators)

    def _start(self) -> None:
        self.engine.start()

    def _close(self) -> None:
        self.engine.close()

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        with self.engine.prepared(workload) as ready:
            plan = self._make_plan(ready, keep_estimators=keep_estimators)
            return self.execute(plan, self.engine)

    def execute(self, plan: Plan, engine: Engine) -> list[TaskResult]:
        """Run ``plan`` on ``engine``; a failure carries the configurations that finished."""
        self._plan_facts = {}
        try:
            engine.run(plan.units(), plan.job_function, plan.take)
        except TaskError as exc:
            exc.completed = plan.completed()  # configurations, not units
            raise
        finally:
            self._plan_facts = plan.describe()
        return plan.results()
