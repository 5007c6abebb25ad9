"""What a pool of workers must offer the supervisor: the contract every supervised pool implements.

Modelled on joblib's ``ParallelBackendBase``: ``start``, ``submit``, ``terminate`` (and
``restart``, which recovery uses), plus ``processes`` for pools whose workers can die on their
own. The class attributes tell the supervisor how the pool breaks (one task, or the whole
pool) and whether its tasks can be stopped. ``pools`` holds the implementations.
"""

from __future__ import annotations

import abc
import contextlib
import multiprocessing.connection
from collections.abc import Callable, Iterable
from multiprocessing.process import BaseProcess
from typing import Any

from mlcpu.engines.base import JobFunction
from mlcpu.training.units import Outcome

__all__ = ["Backend", "DoneCallback", "JobFunction"]

DoneCallback = Callable[[Outcome | None, BaseException | None], None]


class Backend(abc.ABC):
    """A pool of workers as the supervisor sees it.

    Every worker process the pool has shown is remembered until the pool is started again, so
    a death is seen even when it happened between runs, or the pool already replaced the
    worker (a ``multiprocessing.Pool`` worker killed while it waited for work may leave the
    task queue's lock taken: no other worker gets a task again).
    """

    #: a worker death breaks the whole pool (loky, concurrent.futures) rather than one task
    breaks_on_worker_death: bool = False
    #: tasks run in processes that can be killed (not threads)
    can_stop_tasks: bool = True
    #: exceptions meaning "the pool broke under this task", not "the task failed"
    broken_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, strategy: str = "pool") -> None:
        #: the strategy's name, for messages
        self.strategy = strategy
        self._seen: dict[int, BaseProcess] = {}

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        """Run ``fn(job)`` on a worker; call ``done(outcome, None)`` or ``done(None, error)``."""

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on one worker, waited for (for timing a round trip)."""
        raise NotImplementedError(f"{type(self).__name__} cannot run a single call")

    def processes(self) -> Iterable[BaseProcess]:
        """The worker processes right now (empty for thread pools)."""
        return ()

    @abc.abstractmethod
    def terminate(self) -> None:
        """Stop every worker now, whatever it is doing."""

    def restart(self) -> None:
        self.terminate()
        self.start()

    def watched(self) -> list[BaseProcess]:
        """``processes()``, each remembered (see the class doc)."""
        seen = self._seen  # a restart replaces the dict: never add old workers to the new one
        current = [p for p in self.processes() if p.pid is not None]
        for process in current:
            seen.setdefault(process.pid, process)  # type: ignore[arg-type]
        return current

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` was a worker of the pool as it runs now (not of one stopped)."""
        return pid in self._seen

    def forget(self, pid: int) -> None:
        """A death that has been dealt with."""
        self._seen.pop(pid, None)

    def forget_workers(self) -> None:
        """Called when a new pool starts: the old one's workers are no longer ours to watch."""
        self._seen = {}

    def dead_workers(self) -> list[BaseProcess]:
        """Remembered workers that have died and were not dealt with yet."""
        self.watched()
        remembered = {}
        for process in list(self._seen.values()):
            with contextlib.suppress(ValueError):  # closed: stopped by us, not died
                remembered[process.sentinel] = process
        ready = multiprocessing.connection.wait(list(remembered), timeout=0)
        return [remembered[sentinel] for sentinel in ready]  # type: ignore[index]
