"""One run of a workload on a Dask cluster: the submission window, outcomes, deaths, timeouts.

Imported only through ``mlcpu.strategies.dask_cluster``, which checks that Dask is installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import distributed

from mlcpu._worker import Failure, Job, Outcome, execute
from mlcpu.data import Dataset
from mlcpu.errors import TaskError, TaskTimeoutError, WorkerDiedError
from mlcpu.strategies._supervisor import failure_result, task_failed_error
from mlcpu.training import TaskResult
from mlcpu.workload import Workload

_POLL_S = 0.1


class Cluster(Protocol):
    """What a run needs of the strategy that owns the cluster (``DaskStrategy``).

    Written as a protocol so that this module does not import the strategy that imports it.
    """

    name: str
    keep_going: bool
    task_timeout: float | None
    _client: Any

    @property
    def embedded(self) -> bool: ...

    @property
    def client(self) -> Any: ...

    def capacity(self) -> int: ...

    def scattered(self, dataset: Dataset) -> Any: ...

    def restart_worker(self, address: str) -> bool: ...

    def _emit(self, result: TaskResult) -> TaskResult: ...

    def _close(self) -> None: ...


@dataclass(frozen=True)
class Placed:
    """A task's outcome and where it ran (the worker's address and host name)."""

    outcome: Outcome
    worker: str
    host: str


def train_on_worker(
    index: int, config: Any, seed: int, keep_estimator: bool, dataset: Dataset
) -> Placed:
    """Runs in a Dask worker; ``dataset`` is the scattered copy already held by the worker."""
    outcome = execute(Job(index, config, dataset, seed, keep_estimator=keep_estimator))
    return Placed(outcome, distributed.get_worker().address, socket.gethostname())


def _processing_on(key: str, dask_scheduler: Any = None) -> str | None:
    task = dask_scheduler.tasks.get(key)
    if task is None or task.processing_on is None:
        return None
    return str(task.processing_on.address)


@dataclass
class _Flight:
    job: Job
    key: str
    started: float  # when it was submitted: a free worker thread was waiting for it


class DaskRun:
    """One run of a workload: submission window, completions, failures and timeouts."""

    def __init__(self, owner: Cluster, workload: Workload, keep_estimators: bool) -> None:
        self.owner = owner
        self.workload = workload
        self.keep_estimators = keep_estimators
        self.token = uuid.uuid4().hex[:8]
        self.local_host = socket.gethostname()
        jobs = [
            Job(i, config, workload.dataset, workload.seed, keep_estimator=keep_estimators)
            for i, config in enumerate(workload.configs)
        ]
        # Largest forests first, so no long task is left alone at the end.
        self.pending = deque(sorted(jobs, key=lambda j: (-j.config.n_estimators, j.index)))
        self.window: int | None = None  # worker threads; None: ask the cluster again
        self.in_flight: dict[Any, _Flight] = {}
        self.done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.finished: dict[int, TaskResult] = {}

    def loop(self) -> list[TaskResult]:
        try:
            while self.pending or self.in_flight:
                self.fill()
                try:
                    future = self.done.get(timeout=_POLL_S)
                except queue.Empty:
                    pass
                else:
                    self.settle(future)
                self.check_timeouts()
            return [self.finished[i] for i in range(len(self.workload.configs))]
        except BaseException as exc:
            self.abandon(exc)
            raise

    def fill(self) -> None:
        if not self.pending:
            return
        if self.window is None or len(self.in_flight) < self.window:
            self.window = self.owner.capacity()
        while self.pending and len(self.in_flight) < self.window:
            self.submit(self.pending.popleft())

    def submit(self, job: Job) -> None:
        data = self.owner.scattered(self.workload.dataset)
        key = f"mlcpu-train-{job.config.n_estimators}-{self.token}-{job.index}"
        future = self.owner.client.submit(
            train_on_worker,
            job.index,
            job.config,
            job.seed,
            self.keep_estimators,
            data,
            key=key,
            priority=job.config.n_estimators,
            pure=False,
        )
        self.in_flight[future] = _Flight(job, key, time.perf_counter())
        future.add_done_callback(self.done.put)

    # -- outcomes -----------------------------------------------------------------------------
    def settle(self, future: Any) -> None:
        flight = self.in_flight.pop(future, None)
        if flight is None:
            return  # cancelled by this run (timeout) and already reported
        self.window = None
        if future.status == "finished":
            placed: Placed = future.result()
            self.on_outcome(flight, placed)
            return
        error = future.exception() if future.status == "error" else None
        if isinstance(error, distributed.KilledWorker):
            self.on_worker_died(flight, error)
        else:
            # Dask's own error for the task (its result could not be unpickled, ...).
            reason = error if error is not None else RuntimeError(f"task {future.status}")
            failure = dataclasses.replace(Failure.from_exception(reason, flight.started), cpu=None)
            self.on_failure(flight, failure, worker=None, host=None)

    def on_outcome(self, flight: _Flight, placed: Placed) -> None:
        outcome = placed.outcome
        if outcome.failure is not None:
            self.on_failure(flight, outcome.failure, worker=placed.worker, host=placed.host)
            return
        assert outcome.result is not None
        self.record(flight, outcome.result, placed.worker, placed.host)

    def record(
        self, flight: _Flight, result: TaskResult, worker: str | None, host: str | None
    ) -> None:
        result.worker, result.host = worker, host
        if host is not None and host != self.local_host:
            # Another machine's perf_counter has another origin: place the task by its
            # duration, ending now (off by the network latency, not by hours).
            result.ended = time.perf_counter()
            result.started = result.ended - result.seconds
        self.finished[flight.job.index] = self.owner._emit(result)

    def on_failure(
        self, flight: _Flight, failure: Failure, *, worker: str | None, host: str | None
    ) -> None:
        if not self.owner.keep_going:
            raise task_failed_error(self.owner.name, flight.job, failure, self.completed())
        self.record(flight, failure_result(flight.job, failure), worker, host)

    def on_worker_died(self, flight: _Flight, error: Any) -> None:
        last = error.last_worker
        address = getattr(last, "address", None)
        pid = getattr(last, "pid", None)
        tries = (error.allowed_failures or 0) + 1
        retried = (
            "Dask's allowed-failures is 0, so it was not retried"
            if tries == 1
            else f"after {tries} attempts on different workers (allowed-failures="
            f"{error.allowed_failures})"
        )
        message = (
            f"{self.owner.name}: the Dask worker {address} (pid {pid}) running "
            f"{flight.job.label} died; {retried}"
        )
        self.on_lost(flight, message, address, pid, died=True, ended=time.perf_counter())

    def on_lost(
        self,
        flight: _Flight,
        message: str,
        address: str | None,
        pid: int | None,
        *,
        died: bool,
        ended: float,
    ) -> None:
        owner = self.owner
        if not owner.keep_going:
            if died:
                raise WorkerDiedError(
                    message,
                    strategy=owner.name,
                    config=flight.job.config,
                    pid=pid,
                    completed=self.completed(),
                )
            raise TaskTimeoutError(
                message,
                strategy=owner.name,
                config=flight.job.config,
                timeout=owner.task_timeout or 0.0,
                completed=self.completed(),
            )
        record = TaskResult.unreported(
            flight.job.index,
            flight.job.config,
            started=flight.started,
            pid=pid,
            error=message,
            ended=ended,
        )
        self.record(flight, record, address, None)

    def check_timeouts(self) -> None:
        timeout = self.owner.task_timeout
        if timeout is None:
            return
        now = time.perf_counter()
        for future, flight in list(self.in_flight.items()):
            if now - flight.started <= timeout:
                continue
            address = self.owner.client.run_on_scheduler(_processing_on, flight.key)
            if address is None:
                continue  # not running yet (or finishing right now): nothing to stop
            del self.in_flight[future]
            self.window = None
            stopped_at = time.perf_counter()
            future.cancel()
            owner = self.owner
            if owner.embedded and not owner.keep_going:
                how = f"its worker {address} was stopped with the cluster"  # see abandon()
            elif owner.restart_worker(address):
                how = f"its worker {address} was restarted"
            else:
                how = (
                    f"its worker {address} has no nanny to restart it, so the task "
                    "finishes in the background"
                )
            message = (
                f"{self.owner.name}: {flight.job.label} ran longer than the task timeout of "
                f"{timeout:g} s; {how}"
            )
            self.on_lost(flight, message, address, None, died=False, ended=stopped_at)

    def completed(self) -> list[TaskResult]:
        return [self.finished[i] for i in sorted(self.finished)]

    def abandon(self, reason: BaseException) -> None:
        """Stop waiting for the tasks still in flight after a failure or an interruption.

        Dask cannot interrupt a running task; cancelling only drops its result. An embedded
        cluster is closed after a failure (the next run starts a fresh one), so no abandoned
        task keeps a core busy; Ctrl-C and SIGTERM close it anyway. On an existing cluster
        abandoned tasks finish in the background and their results are dropped.
        """
        futures = list(self.in_flight)
        self.in_flight.clear()
        owner = self.owner
        if futures and owner._client is not None:
            with contextlib.suppress(Exception):
                owner.client.cancel(futures)
        busy = bool(futures) or isinstance(reason, TaskTimeoutError)
        if owner.embedded and busy and isinstance(reason, TaskError):
            owner._close()  # still "started": the next run starts a fresh cluster
