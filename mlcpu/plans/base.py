"""What a plan is: which units of work one run sends, and how their results are assembled.

A plan is made for one run of one workload. ``units()`` lists the work in submission order
(largest first, so no long unit is left alone at the end); the engine runs each with
``job_function`` and hands every settled unit back to ``take``; the plan emits one result per
configuration as soon as it is complete (``emit``: the strategy's, which stamps run-relative
times and calls the user's ``on_result``). ``results()`` then gives them in workload order.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from mlcpu.records.task import TaskResult
from mlcpu.training.workload import Workload

Emit = Callable[[TaskResult], TaskResult]


class Plan(abc.ABC):
    """One run's units and their assembly; subclasses set ``job_function``, ``units``, ``take``."""

    #: the picklable worker entry point that runs one unit (``training.units.execute`` and kin)
    job_function: Callable[[Any], Any]

    def __init__(self, workload: Workload, emit: Emit, *, keep_estimators: bool = False) -> None:
        self.workload = workload
        self.emit = emit
        self.keep_estimators = keep_estimators
        self.done: dict[int, TaskResult] = {}

    @abc.abstractmethod
    def units(self) -> list[Any]:
        """Every unit of the run, in submission order."""

    @abc.abstractmethod
    def take(self, record: TaskResult) -> TaskResult:
        """A unit settled (a result, or an error record when keeping going)."""

    def finish(self, config_index: int, result: TaskResult) -> None:
        """Configuration ``config_index`` is complete: emit its result."""
        result.index = config_index
        self.done[config_index] = self.emit(result)

    def completed(self) -> list[TaskResult]:
        """The configurations finished so far (what a failure carries)."""
        return [self.done[i] for i in sorted(self.done)]

    def results(self) -> list[TaskResult]:
        """One result per configuration, in workload order (after a run that did not raise)."""
        return [self.done[i] for i in range(len(self.workload.configs))]

    def describe(self) -> dict[str, Any]:
        """Facts about this run's plan, merged into the strategy's JSON record."""
        return {}
