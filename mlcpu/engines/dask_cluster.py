"""The Dask engine: units on Dask distributed, an embedded ``LocalCluster`` or a real cluster.

By default an embedded ``distributed.LocalCluster`` (one single-threaded worker process per
usable core) is started in ``start``, so its cost is measured as start-up. With a scheduler
address (``--scheduler`` or ``$MLCPU_DASK_SCHEDULER``) mlcpu connects to an existing cluster
instead and leaves it running afterwards. This module owns the cluster's lifetime and the data
on it; one run's submissions and failures are ``mlcpu.engines.dask_run``.

- The dataset is scattered to every worker once (``broadcast=True``). To an external cluster it
  goes as a copy that pickles its arrays (a memory-mapped dataset pickles as a local folder
  path, meaningless on another host); the embedded cluster's workers run on this host and map
  the one shared copy. Each task carries a unit without its data and a reference to the
  scattered data, nothing more.
- mlcpu hands each unit to a worker with a free thread, in the plan's order (largest first),
  and no more units than threads: a free thread takes the next unit as soon as its last one
  ends (greedy longest-first, as a pool would), no unit waits behind a busy worker while
  another idles, and none is queued where a worker's death could take it along.
- Each forest trains with ``n_jobs=1`` inside its task (``mlcpu.training.units.execute``) and no
  Dask joblib backend is ever activated, so scikit-learn's own joblib work never fans out into
  extra Dask tasks.
- Retry policy: the embedded scheduler runs with ``distributed.scheduler.allowed-failures``
  set to ``ALLOWED_FAILURES`` (0): a task whose worker dies is not retried but fails at once,
  named, like under every other strategy (a retried task would report a time that hides a
  lost attempt, and a task that kills its worker would take several workers down before Dask
  gives up). An existing scheduler keeps its own setting, which is recorded in the results.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

from mlcpu.errors import MissingExtraError

try:
    import dask
    import distributed
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise MissingExtraError("the dask strategy", "dask", exc.name or "distributed") from exc

from mlcpu.data.datasets import Dataset
from mlcpu.data.shared import in_memory
from mlcpu.engines.base import Engine, JobFunction, Settle
from mlcpu.engines.dask_address import configured_scheduler
from mlcpu.engines.dask_run import DaskRun
from mlcpu.engines.failures import FailurePolicy
from mlcpu.errors import InputError, TaskError
from mlcpu.training.units import warm_up

ALLOWED_FAILURES = 0
# The embedded cluster's configuration. Every strategy of a run is started before any is
# timed, so an idle cluster shares the cores with the others' measurements: Dask's statistical
# profiler (every worker's stacks every 10 ms) and its 20 ms event-loop tick are what an idle
# worker spends its CPU on (dask/distributed#2156), and mlcpu reads neither. The figures
# measured with and without: docs/measured-facts.md, "An idle embedded Dask cluster".
EMBEDDED_CONFIG: dict[str, object] = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
CONNECT_TIMEOUT_S = 10.0
# How long a run waits for a cluster that has no worker at all before it gives up.
NO_WORKERS_TIMEOUT_S = 30.0
RESTART_TIMEOUT_S = 60.0
_POLL_S = 0.1


def warm_worker() -> int:
    """Import and exercise the training stack once per worker, so start-up pays for it."""
    with tempfile.TemporaryDirectory(prefix="mlcpu-warm-") as folder:
        return warm_up(folder, 1)


def _allowed_failures(dask_scheduler: Any = None) -> int:
    return int(dask_scheduler.allowed_failures)


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


class DaskEngine(Engine):
    """Units on a Dask cluster, as many in flight as it has worker threads."""

    uses_processes = True

    def __init__(self, workers: int, policy: FailurePolicy, scheduler: str | None = None) -> None:
        super().__init__(workers, policy)
        self.scheduler = configured_scheduler(scheduler)
        self.allowed_failures: int | None = ALLOWED_FAILURES if self.embedded else None
        self.threads = self.workers
        self._cluster: Any = None
        self._client: Any = None
        self._data: tuple[Dataset, Any] | None = None
        self.scatter_s = 0.0  #: seconds the last run spent sending the dataset to the cluster

    @property
    def embedded(self) -> bool:
        return self.scheduler is None

    def describe(self) -> dict[str, Any]:
        return {
            "cluster": "embedded" if self.embedded else "external",
            "scheduler": self.scheduler,
            "threads": self.threads,
            "allowed_failures": self.allowed_failures,
        }

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("the dask engine is not started")
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
        with _signals_deferred(), dask.config.set(EMBEDDED_CONFIG):
            self._cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # Its health/metrics server still listens; a free port, not 8787, so a second
                # cluster on this machine starts without "Port 8787 is already in use".
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # mlcpu reports a dead worker or a stopped task itself, in one line.
                silence_logs=logging.CRITICAL,
            )
            # Results (a piece's trees) come straight from the worker that made them, not
            # through the scheduler, which would hold and forward every byte a second time.
            # Only here: the workers of an existing cluster may not be reachable from us.
            self._client = distributed.Client(
                self._cluster, set_as_default=False, direct_to_workers=True
            )

    def _connect(self) -> None:
        tls = ("distributed.comm.tls.ca-file", "distributed.comm.tls.client.cert")
        if str(self.scheduler).startswith("tls://") and not all(map(dask.config.get, tls)):
            # Checked first: a Client that fails on a missing ssl context hangs at exit.
            raise InputError(
                f"cannot reach the Dask scheduler at {self.scheduler!r}: tls:// needs Dask's "
                "TLS configuration (DASK_DISTRIBUTED__COMM__TLS__CA_FILE and the client's "
                "certificate and key; README: Running on a cluster)"
            )
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
    def run(self, units: Sequence[Any], fn: JobFunction, settle: Settle) -> None:
        if self._client is None:  # a previous failure closed the embedded cluster
            self._start()
        self.scatter_s = 0.0
        DaskRun(self, units, fn, settle).loop()

    def call(self, fn: Callable[[], Any]) -> Any:
        return self.client.submit(fn, pure=False).result()

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
        # The embedded cluster's workers share this host: a memory-mapped dataset travels as
        # its folder's path and every worker maps the one copy. Workers of an external cluster
        # may be elsewhere, so they get a copy that carries the arrays themselves.
        portable = dataset if self.embedded else in_memory(dataset)
        future = self.client.scatter(portable, broadcast=True, hash=False)
        self.scatter_s += time.perf_counter() - began
        self._data = (dataset, future)
        return future

    def capacity(self) -> dict[str, int]:
        """Threads per worker in the cluster right now; waits (bounded) while there are none."""
        deadline = time.monotonic() + NO_WORKERS_TIMEOUT_S
        while True:
            threads = {str(w): int(n) for w, n in self.client.nthreads().items() if n}
            if threads:
                return threads
            if time.monotonic() > deadline:
                raise TaskError(
                    f"{self.strategy}: the cluster has had no workers for "
                    f"{NO_WORKERS_TIMEOUT_S:g} s",
                    strategy=self.strategy,
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
