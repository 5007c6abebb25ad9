"""The ``dask`` strategy: the same workload on Dask distributed, embedded or on a real cluster.

By default an embedded ``distributed.LocalCluster`` (one single-threaded worker process per
usable core) is started in ``_start``, so its cost is measured as start-up. With a scheduler
address (``--scheduler`` or ``$MLCPU_DASK_SCHEDULER``) mlcpu connects to an existing cluster
instead and leaves it running afterwards.

- The dataset is scattered to every worker once (``broadcast=True``) as a copy that pickles its
  arrays: a memory-mapped dataset pickles as a local folder path, meaningless on another host.
  Each task then carries a configuration and a reference to the scattered data, nothing more.
- mlcpu keeps no more tasks in flight than the cluster has worker threads, largest forests
  first. A free thread therefore always takes the largest remaining forest (greedy
  longest-first, as a pool would), no worker holds a queued task that its death could take
  along, and a task starts as soon as it is submitted.
- Each forest trains with ``n_jobs=1`` inside its task (``mlcpu._worker.execute``) and no Dask
  joblib backend is ever activated, so scikit-learn's own joblib work never fans out into
  extra Dask tasks.
- Retry policy: the embedded scheduler runs with ``distributed.scheduler.allowed-failures``
  set to ``ALLOWED_FAILURES`` (0): a task whose worker dies is not retried but fails at once,
  named, like under every other strategy (a retried task would report a time that hides a
  lost attempt, and a task that kills its worker would take several workers down before Dask
  gives up). An existing scheduler keeps its own setting, which is recorded in the results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from mlcpu.errors import MissingExtraError

try:
    import dask
    import distributed
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise MissingExtraError("the dask strategy", "dask", exc.name or "distributed") from exc

from mlcpu._worker import Failure, Job, Outcome, execute, warm_up
from mlcpu.data import Dataset
from mlcpu.errors import InputError, TaskError, TaskTimeoutError, WorkerDiedError
from mlcpu.strategies._supervisor import failure_result, task_failed_error
from mlcpu.strategies.base import Strategy
from mlcpu.strategies.dask_address import configured_scheduler
from mlcpu.training import TaskResult
from mlcpu.workload import Workload

ALLOWED_FAILURES = 0
CONNECT_TIMEOUT_S = 10.0
# How long a run waits for a cluster that has no worker at all before it gives up.
NO_WORKERS_TIMEOUT_S = 30.0
RESTART_TIMEOUT_S = 60.0
_POLL_S = 0.1


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


def warm_worker() -> int:
    """Import and exercise the training stack once per worker, so start-up pays for it."""
    with tempfile.TemporaryDirectory(prefix="mlcpu-warm-") as folder:
        return warm_up(folder, 1)


def _allowed_failures(dask_scheduler: Any = None) -> int:
    return int(dask_scheduler.allowed_failures)


def _processing_on(key: str, dask_scheduler: Any = None) -> str | None:
    task = dask_scheduler.tasks.get(key)
    if task is None or task.processing_on is None:
        return None
    return str(task.processing_on.address)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a cluster is being built, then deliver them.

    Interrupted half-way, ``LocalCluster()`` leaves worker processes that nothing can close
    (its own exit hook then fails on them); once built, the cluster is closed as usual.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])


@dataclass
class _Flight:
    job: Job
    key: str
    started: float  # when it was submitted: a free worker thread was waiting for it


class DaskStrategy(Strategy):
    name = "dask"
    summary = (
        "Dask distributed: an embedded LocalCluster of single-threaded worker processes, or "
        "an existing cluster with --scheduler; the dataset is scattered to the workers once"
    )
    uses_processes = True

    def __init__(
        self,
        workers: int | None = None,
        *,
        scheduler: str | None = None,
        task_timeout: float | None = None,
        keep_going: bool = False,
    ) -> None:
        super().__init__(workers, task_timeout=task_timeout, keep_going=keep_going)
        self.scheduler = configured_scheduler(scheduler)
        self.allowed_failures: int | None = ALLOWED_FAILURES if self.embedded else None
        self.threads = self.workers
        self._cluster: Any = None
        self._client: Any = None
        self._data: tuple[Dataset, Any] | None = None
        self._scatter_s = 0.0

    @property
    def embedded(self) -> bool:
        return self.scheduler is None

    @property
    def label(self) -> str:
        return self.name if self.embedded else f"{self.name} ({self.scheduler})"

    def describe(self) -> dict[str, Any]:
        return {
            "cluster": "embedded" if self.embedded else "external",
            "scheduler": self.scheduler,
            "threads": self.threads,
            "allowed_failures": self.allowed_failures,
        }

    def result_extra(self) -> dict[str, Any]:
        return {"scatter_s": self._scatter_s}

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("the dask strategy is not started")
        return self._client

    # -- the cluster's lifetime ---------------------------------------------------------------
    def _start(self) -> None:
        try:
            if self.embedded:
                self._start_embedded()
            else:
                self._connect()
            self._warm()
        except BaseException:
            self._close()
            raise

    def _start_embedded(self) -> None:
        with (
            _signals_deferred(),
            dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}),
        ):
            self._cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # mlcpu reports a dead worker or a stopped task itself, in one line.
                silence_logs=logging.CRITICAL,
            )
            self._client = distributed.Client(self._cluster, set_as_default=False)

    def _connect(self) -> None:
        try:
            self._client = distributed.Client(
                self.scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT_S
            )
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {self.scheduler!r} ({exc}); start one "
                "with `dask scheduler` or fix --scheduler / MLCPU_DASK_SCHEDULER"
            ) from None
        try:
            self._client.wait_for_workers(1, timeout=NO_WORKERS_TIMEOUT_S)
        except TimeoutError:
            raise InputError(
                f"the Dask scheduler at {self.scheduler!r} has no workers after "
                f"{NO_WORKERS_TIMEOUT_S:g} s; start some with `dask worker {self.scheduler}`"
            ) from None
        self.allowed_failures = self._client.run_on_scheduler(_allowed_failures)

    def _warm(self) -> None:
        self.client.run(warm_worker)
        nthreads = self.client.nthreads()
        self.workers = len(nthreads)
        self.threads = sum(nthreads.values())

    def _close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = self._data = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            cluster.close()

    # -- running ------------------------------------------------------------------------------
    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        if self._client is None:  # a previous failure closed the embedded cluster
            self._start()
        self._scatter_s = 0.0
        return _Run(self, workload, keep_estimators).loop()

    def scattered(self, dataset: Dataset) -> Any:
        """The dataset on the cluster, scattered once and reused while its data is there."""
        if self._data is not None:
            held, future = self._data
            if held is dataset and future.status == "finished":
                return future
            self._data = None
            with contextlib.suppress(Exception):
                future.release()
        began = time.perf_counter()
        # A copy that pickles its arrays, not the local folder of a memory-mapped dataset.
        portable = dataclasses.replace(dataset, shared_folder=None)
        future = self.client.scatter(portable, broadcast=True, hash=False)
        self._scatter_s += time.perf_counter() - began
        self._data = (dataset, future)
        return future

    def capacity(self) -> int:
        """Worker threads in the cluster right now; waits (bounded) while there are none."""
        deadline = time.monotonic() + NO_WORKERS_TIMEOUT_S
        while True:
            threads = sum(self.client.nthreads().values())
            if threads:
                return int(threads)
            if time.monotonic() > deadline:
                raise TaskError(
                    f"{self.name}: the cluster has had no workers for {NO_WORKERS_TIMEOUT_S:g} s",
                    strategy=self.name,
                )
            time.sleep(_POLL_S)

    def restart_worker(self, address: str) -> bool:
        """Restart one worker through its nanny (stopping whatever it runs); False if it can't."""
        status = self.client.restart_workers(
            [address], timeout=RESTART_TIMEOUT_S, raise_for_error=False
        )
        restarted = status.get(address) == "OK"
        with contextlib.suppress(Exception):
            self._warm()
        return restarted


class _Run:
    """One run of a workload: submission window, completions, failures and timeouts."""

    def __init__(self, owner: DaskStrategy, workload: Workload, keep_estimators: bool) -> None:
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
        record = TaskResult(
            index=flight.job.index,
            config=flight.job.config,
            accuracy=None,
            seconds=ended - flight.started,
            cpu=None,
            pid=pid or 0,
            started=flight.started,
            ended=ended,
            error=message,
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
