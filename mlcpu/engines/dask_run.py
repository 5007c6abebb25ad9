"""One run of units on a Dask cluster: the submission window, outcomes, deaths, timeouts.

Imported only through ``mlcpu.engines.dask_cluster``, which checks that Dask is installed.
Failures go through the same ``FailurePolicy`` as every other engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import socket
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import distributed

from mlcpu.engines.base import JobFunction, Settle
from mlcpu.engines.failures import FailurePolicy
from mlcpu.errors import TaskError, TaskTimeoutError
from mlcpu.records.task import TaskResult
from mlcpu.training.units import Failure, Outcome

_POLL_S = 0.1


class Cluster(Protocol):
    """What a run needs of the engine that owns the cluster (``DaskEngine``).

    Written as a protocol so that this module does not import the engine that imports it.
    """

    policy: FailurePolicy
    _client: Any

    @property
    def embedded(self) -> bool: ...

    @property
    def client(self) -> Any: ...

    def capacity(self) -> dict[str, int]: ...

    def scattered(self, dataset: Any) -> Any: ...

    def restart_worker(self, address: str) -> bool: ...

    def _close(self) -> None: ...


@dataclass(frozen=True)
class Placed:
    """A unit's outcome and where it ran (the worker's address and host name)."""

    outcome: Outcome
    worker: str
    host: str


def run_on_worker(fn: JobFunction, unit: Any, dataset: Any) -> Placed:
    """Runs in a Dask worker: the unit gets back the scattered dataset the worker holds."""
    outcome = fn(dataclasses.replace(unit, dataset=dataset))
    return Placed(outcome, distributed.get_worker().address, socket.gethostname())


def _processing_on(key: str, dask_scheduler: Any = None) -> str | None:
    task = dask_scheduler.tasks.get(key)
    if task is None or task.processing_on is None:
        return None
    return str(task.processing_on.address)


@dataclass
class _Flight:
    unit: Any
    key: str
    worker: str  # the worker thread that was free for it
    started: float  # when it was submitted: that thread was waiting for it


class DaskRun:
    """One run: every free worker thread gets the next unit at once, in the plan's order.

    Each unit is sent to a worker with a free thread (a loose restriction: if that worker
    disappears the scheduler may place it elsewhere), so no unit queues behind a busy worker
    while another idles, and none is held by a worker whose death could take it along. When
    a unit ends, its thread is free and takes the next unit in the same pass of the loop.
    """

    def __init__(
        self, owner: Cluster, units: Sequence[Any], fn: JobFunction, settle: Settle
    ) -> None:
        self.owner = owner
        self.policy = owner.policy
        self.fn = fn
        self.settle_record = settle
        self.token = uuid.uuid4().hex[:8]
        self.local_host = socket.gethostname()
        self.pending = deque(units)
        self.slots: dict[str, int] | None = None  # threads per worker; None: ask again
        self.in_flight: dict[Any, _Flight] = {}
        self.done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.finished: dict[int, TaskResult] = {}

    def loop(self) -> None:
        try:
            while self.pending or self.in_flight:
                self.fill()
                ended = self.take_ended()
                if ended and all(future.status == "finished" for future, _ in ended):
                    # Their threads are free: give them their next units before fetching
                    # any result, so a worker never waits on a result's travel. (After a
                    # Dask error the cluster is asked again first: a worker may be gone.)
                    self.fill()
                for future, flight in ended:
                    self.settle(future, flight)
                self.check_timeouts()
        except BaseException as exc:
            self.abandon(exc)
            raise

    def take_ended(self) -> list[tuple[Any, _Flight]]:
        """Every unit that has ended (waiting up to a poll for the first), out of flight."""
        ended = []
        try:
            future = self.done.get(timeout=_POLL_S)
            while True:
                flight = self.in_flight.pop(future, None)
                if flight is not None:  # None: cancelled by this run (timeout), reported
                    ended.append((future, flight))
                future = self.done.get_nowait()
        except queue.Empty:
            pass
        return ended

    def fill(self) -> None:
        if not self.pending:
            return
        if self.slots is None:
            self.slots = self.owner.capacity()
        busy: dict[str, int] = {}
        for flight in self.in_flight.values():
            busy[flight.worker] = busy.get(flight.worker, 0) + 1
        for worker, threads in self.slots.items():
            for _ in range(threads - busy.get(worker, 0)):
                if not self.pending:
                    return
                self.submit(self.pending.popleft(), worker)

    def submit(self, unit: Any, worker: str) -> None:
        data = self.owner.scattered(unit.dataset)
        key = f"mlcpu-train-{unit.config.n_estimators}-{self.token}-{unit.index}"
        future = self.owner.client.submit(
            run_on_worker,
            self.fn,
            dataclasses.replace(unit, dataset=None),
            data,
            key=key,
            priority=-unit.index,
            pure=False,
            workers=[worker],
            allow_other_workers=True,
        )
        self.in_flight[future] = _Flight(unit, key, worker, time.perf_counter())
        future.add_done_callback(self.done.put)

    # -- outcomes -----------------------------------------------------------------------------
    def settle(self, future: Any, flight: _Flight) -> None:
        if future.status == "finished":
            placed: Placed = future.result()
            outcome = placed.outcome
            if outcome.failure is not None:
                record = self.policy.failed(flight.unit, outcome.failure, self.completed())
            else:
                assert outcome.result is not None
                record = outcome.result
            self.record(flight, record, placed.worker, placed.host)
            return
        self.slots = None  # a worker may have gone: ask the cluster again
        error = future.exception() if future.status == "error" else None
        if isinstance(error, distributed.KilledWorker):
            self.on_worker_died(flight, error)
        else:
            # Dask's own error for the unit (its result could not be unpickled, ...).
            reason = error if error is not None else RuntimeError(f"task {future.status}")
            failure = dataclasses.replace(Failure.from_exception(reason, flight.started), cpu=None)
            self.record(flight, self.policy.failed(flight.unit, failure, self.completed()))

    def record(
        self,
        flight: _Flight,
        result: TaskResult,
        worker: str | None = None,
        host: str | None = None,
    ) -> None:
        result.worker, result.host = worker, host
        if host is not None and host != self.local_host:
            # Another machine's perf_counter has another origin: place the unit by its
            # duration, ending now (off by the network latency, not by hours).
            result.ended = time.perf_counter()
            result.started = result.ended - result.seconds
        self.finished[flight.unit.index] = self.settle_record(result)

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
        record = self.policy.died(
            flight.unit,
            self.completed(),
            started=flight.started,
            pid=pid,
            who=f"the Dask worker {address} (pid {pid})",
            how=f"died; {retried}",
        )
        self.record(flight, record, address)

    def check_timeouts(self) -> None:
        timeout = self.policy.task_timeout
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
            self.slots = None
            stopped_at = time.perf_counter()
            future.cancel()
            owner = self.owner
            if owner.embedded and not self.policy.keep_going:
                how = f"its worker {address} was stopped with the cluster"  # see abandon()
            elif owner.restart_worker(address):
                how = f"its worker {address} was restarted"
            else:
                how = (
                    f"its worker {address} has no nanny to restart it, so the task "
                    "finishes in the background"
                )
            record = self.policy.timed_out(
                flight.unit,
                f"; {how}",
                self.completed(),
                started=flight.started,
                pid=None,
                ended=stopped_at,
            )
            self.record(flight, record, address)

    def completed(self) -> list[TaskResult]:
        return [self.finished[i] for i in sorted(self.finished)]

    def abandon(self, reason: BaseException) -> None:
        """Stop waiting for the units still in flight after a failure or an interruption.

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
