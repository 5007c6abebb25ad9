"""What an engine is: the place units of work run, and the one way they come back.

A *plan* (``mlcpu.plans``) decides which units exist and how their results are assembled into
one result per configuration; an *engine* decides where the units run. The seam between them::

    plan.units(workload) --> engine.run(units, plan.job_function, plan.take) --> plan.results()
                                  |                                   ^
                                  +-- every unit settles exactly once +   (a result, or an
                                      error record when keeping going; fail fast raises)

An engine starts once and runs many times (``start``, ``run``..., ``close``), so start-up is
paid once and measured apart from the work. Every engine reports failures through the same
``FailurePolicy`` (``failures``); after a run that raised, the engine restarts itself on the
next ``run``. A unit is a frozen dataclass with ``index``, ``config``, ``dataset``, ``label``,
``marker_dir`` and ``attempt`` (``mlcpu.training.units.Job`` and its kin), run by a picklable
module-level job function that returns an ``Outcome`` and never raises.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from mlcpu.engines.failures import FailurePolicy
from mlcpu.records.task import TaskResult

#: called in the calling thread as each unit settles; returns the record it was given
Settle = Callable[[TaskResult], TaskResult]
#: a picklable module-level function that runs one unit in a worker (``training.units.execute``
#: and kin): it calls ``mark_started`` first, for the supervisor, and returns an ``Outcome``
JobFunction = Callable[[Any], Any]


class Engine(abc.ABC):
    """Where units run. Subclasses implement ``_start``, ``_close`` and ``run``."""

    #: its workers are separate processes: units get the dataset shared, not copied
    uses_processes: ClassVar[bool] = False
    #: mlcpu's supervisor watches its workers (deaths, timeouts: ``supervisor``)
    supervised: ClassVar[bool] = False

    def __init__(self, workers: int, policy: FailurePolicy) -> None:
        self.workers = workers
        self.policy = policy
        self.started = False

    @property
    def strategy(self) -> str:
        return self.policy.strategy

    def start(self) -> None:
        """Create and warm the workers; idempotent."""
        if not self.started:
            self._start()
            self.started = True

    def close(self) -> None:
        """Stop every worker; safe to call twice and after a failure."""
        self.started = False
        self._close()

    @contextlib.contextmanager
    def prepared(self, workload: Any) -> Iterator[Any]:
        """The workload as this engine's workers receive it (shared memory, for processes)."""
        yield workload

    @abc.abstractmethod
    def run(self, units: Sequence[Any], fn: JobFunction, settle: Settle) -> None:
        """Run every unit (in the order given, as workers free up); ``settle`` each as it ends.

        Fail fast raises the first failure's ``TaskError``; its ``completed`` lists the units
        that had settled (the strategy replaces them with whole configurations).
        """

    def call(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on one worker, for measuring a round trip (in this thread by default)."""
        return fn()

    def describe(self) -> dict[str, Any]:
        """Options that belong in result JSON next to this engine's figures."""
        return {}

    def _start(self) -> None:  # noqa: B027 - optional hook
        """Create the workers; nothing to do for engines that run in the calling thread."""

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""
