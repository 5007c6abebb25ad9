"""One failure policy for every engine: what a failed, overdue or orphaned unit becomes.

``FailurePolicy`` is the only place that decides between *fail fast* (raise, carrying what
finished) and *keep going* (an error record takes the unit's place and the run goes on). Every
engine (in-process, the supervised pools, Dask) reports its failures through it, and every
message is written once, below, so a failure reads the same wherever it happened.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any

from mlcpu.errors import RemoteTraceback, TaskFailedError, TaskTimeoutError, WorkerDiedError
from mlcpu.records.task import TaskResult
from mlcpu.training.units import Failure


def signal_name(exitcode: int | None) -> str | None:
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def describe_exit(exitcode: int | None) -> str:
    name = signal_name(exitcode)
    if name is not None:
        return f"was killed by {name}"
    if exitcode is None:
        return "ended for an unknown reason"
    return f"exited with code {exitcode}"


def failure_result(job: Any, failure: Failure) -> TaskResult:
    return TaskResult(
        index=job.index,
        config=job.config,
        accuracy=None,
        seconds=failure.ended - failure.started,
        cpu=failure.cpu,
        pid=failure.pid,
        started=failure.started,
        ended=failure.ended,
        error=f"{failure.exc_type}: {failure.message}",
    )


#: when a worker died that ran no task (see ``lost_worker_error``)
WHILE_STARTING = "while the pool was starting"
BETWEEN_TASKS = "between tasks"


def lost_worker_error(
    strategy: str,
    pid: int | None,
    exitcode: int | None,
    when: str,
    completed: list[TaskResult] | None = None,
) -> WorkerDiedError:
    """The error for a worker that died running no task: the pool cannot be trusted, so the
    run stops (a ``multiprocessing.Pool`` may never hand out work again; loky breaks)."""
    who = "a worker process" if pid is None else f"a worker process (pid {pid})"
    how = "died" if pid is None else describe_exit(exitcode)
    return WorkerDiedError(
        f"{strategy}: {who} {how} {when}; the pool was stopped",
        strategy=strategy,
        pid=pid,
        signal_name=signal_name(exitcode),
        exitcode=exitcode,
        completed=completed,
    )


def pool_stopped_error(
    strategy: str, unfinished: list[str], completed: list[TaskResult]
) -> WorkerDiedError:
    """A pool broke by a death that names no task (fail fast): what did not finish."""
    return WorkerDiedError(
        f"{strategy}: a worker process died and the pool stopped; "
        f"unfinished: {', '.join(unfinished)}",
        strategy=strategy,
        completed=completed,
    )


def gave_up_message(strategy: str, breaks: int) -> str:
    return (
        f"{strategy}: the pool broke {breaks} times without a worker death that names the task; "
        "giving up"
    )


def failure_from_parent(error: BaseException, started: float | None) -> Failure:
    """A pool-level error for one task (for example its arguments failed to pickle)."""
    now = time.perf_counter()
    return Failure(
        exc_type=type(error).__qualname__,
        message=str(error),
        traceback="".join(traceback.format_exception(error)),
        exception=error,
        pid=os.getpid(),
        cpu=None,
        started=started or now,
        ended=now,
    )


@dataclass
class FailurePolicy:
    """Fail fast or keep going, and the task timeout: what every engine asks when a unit fails.

    One object per strategy, shared by its engines, so a change of setting reaches them all.

    Each method either raises the unit's error (fail fast: ``completed`` are the units that
    finished) or returns the error record that settles the unit in its place (keep going).
    """

    strategy: str
    keep_going: bool = False
    task_timeout: float | None = None

    def failed(self, job: Any, failure: Failure, completed: list[TaskResult]) -> TaskResult:
        """The unit raised; fail fast chains its error to the original exception and traceback."""
        if self.keep_going:
            return failure_result(job, failure)
        error = TaskFailedError(
            f"{self.strategy}: {job.label} failed: {failure.exc_type}: {failure.message}",
            strategy=self.strategy,
            config=job.config,
            exc_type=failure.exc_type,
            exc_message=failure.message,
            remote_traceback=failure.traceback,
            completed=completed,
        )
        remote = RemoteTraceback(failure.traceback)
        if failure.exception is not None:
            failure.exception.__cause__ = remote
            error.__cause__ = failure.exception
        else:
            error.__cause__ = remote
        raise error

    def timed_out(
        self,
        job: Any,
        stopped: str,
        completed: list[TaskResult],
        *,
        started: float | None,
        pid: int | None,
        ended: float | None = None,
    ) -> TaskResult:
        """The unit ran past ``task_timeout``; ``stopped`` says what became of it."""
        timeout = self.task_timeout or 0.0
        error = TaskTimeoutError(
            f"{self.strategy}: {job.label} ran longer than the task timeout of {timeout:g} s"
            f"{stopped}",
            strategy=self.strategy,
            config=job.config,
            timeout=timeout,
            completed=completed,
        )
        return self._lost(error, job, started, pid, ended)

    def died(
        self,
        job: Any,
        completed: list[TaskResult],
        *,
        started: float | None,
        pid: int | None,
        exitcode: int | None = None,
        together: int = 1,
        breaks_pool: bool = False,
        who: str | None = None,
        how: str | None = None,
    ) -> TaskResult:
        """The worker running the unit died before it reported back (``together``: deaths seen
        at once). ``who`` and ``how`` replace "the worker process (pid N)" and its exit
        description where an engine knows its workers differently (a Dask worker's address,
        what Dask's retries did)."""
        who = who or f"the worker process (pid {pid})"
        message = f"{self.strategy}: {who} running {job.label} {how or describe_exit(exitcode)}"
        if together > 1:
            message += f" ({together} workers were found dead at the same moment"
            message += (
                "; the pool stops the others when one dies, so some may be bystanders)"
                if breaks_pool
                else ")"
            )
        error = WorkerDiedError(
            message,
            strategy=self.strategy,
            config=job.config,
            pid=pid,
            signal_name=signal_name(exitcode),
            exitcode=exitcode,
            completed=completed,
        )
        return self._lost(error, job, started, pid, None)

    def _lost(
        self,
        error: BaseException,
        job: Any,
        started: float | None,
        pid: int | None,
        ended: float | None,
    ) -> TaskResult:
        if not self.keep_going:
            raise error
        return TaskResult.unreported(
            job.index, job.config, started=started, pid=pid, error=str(error), ended=ended
        )
