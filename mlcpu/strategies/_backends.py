"""Adapters that let the supervisor drive stdlib and loky pools the same way."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from multiprocessing.process import BaseProcess
from typing import Any

from joblib.externals import loky
from joblib.externals.loky.process_executor import ShutdownExecutorError

from mlcpu._process_guard import init_process_worker, parent_identity
from mlcpu._tempdirs import private_folder
from mlcpu._worker import warm_up
from mlcpu.strategies._supervisor import Backend, DoneCallback, JobFunction

WARM_UP_TIMEOUT_S = 300.0
# An orderly Pool/loky shutdown takes 15-30 ms here. Rarely (once in the CI suite, never in 40
# runs alone or under load) ``Pool.terminate`` blocked after a worker was killed until this
# grace ran out, which made a killed worker take 5.4 s to be reported; 1 s keeps the report
# within the promised 2 s, and whatever is left is then killed outright.
TERMINATE_GRACE_S = 1.0
# Idle loky workers would exit after loky's default 300 s; a benchmark session may idle longer.
LOKY_IDLE_TIMEOUT_S = 3600


def _bounded(action: Callable[[], object], seconds: float = TERMINATE_GRACE_S) -> None:
    """Run a pool's own shutdown, but never wait on it for long.

    ``Pool.terminate`` hangs forever if a worker was killed while holding the task queue's
    lock (an idle worker waits for tasks holding it); the caller then kills what is left.
    """
    thread = threading.Thread(target=action, name="mlcpu-pool-shutdown", daemon=True)
    thread.start()
    thread.join(seconds)


def _kill(processes: Iterable[BaseProcess]) -> None:
    for process in list(processes):
        if process.pid is not None and process.exitcode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)


class PoolBackend(Backend):
    """``multiprocessing.Pool`` with a chosen start method.

    A killed worker does not break a Pool (it is replaced), it only loses its task forever;
    the supervisor notices the death through the worker's sentinel.
    """

    def __init__(self, workers: int, start_method: str, inner_threads: int = 1) -> None:
        self.workers = workers
        self.start_method = start_method
        self.inner_threads = inner_threads
        self.pool: multiprocessing.pool.Pool | None = None
        self._forkserver_started = False

    def start(self) -> None:
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            self._forkserver_started = not _forkserver_running()
            context.set_forkserver_preload(["mlcpu._worker", "sklearn.ensemble"])
        self.pool = context.Pool(
            self.workers,
            initializer=init_process_worker,
            initargs=(*parent_identity(), self.inner_threads),
        )
        with private_folder("warmup") as folder:
            pending = [
                self.pool.apply_async(warm_up, (str(folder), self.workers))
                for _ in range(self.workers)
            ]
            for result in pending:
                result.get(timeout=WARM_UP_TIMEOUT_S)

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        assert self.pool is not None
        self.pool.apply_async(
            fn,
            (job,),
            callback=lambda outcome: done(outcome, None),
            error_callback=lambda error: done(None, error),
        )

    def processes(self) -> Iterable[BaseProcess]:
        # Pool keeps its worker processes in the private ``_pool`` list (stable since 2.6);
        # there is no public way to reach their sentinels and exit codes.
        return list(getattr(self.pool, "_pool", ()))

    def terminate(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        workers = list(getattr(pool, "_pool", ()))

        def stop() -> None:
            pool.terminate()
            pool.join()

        _bounded(stop)
        _kill(workers)
        if self._forkserver_started:
            _stop_forkserver()
            self._forkserver_started = False


class ThreadBackend(Backend):
    """``multiprocessing.pool.ThreadPool``: daemon threads, so abandoned tasks never block exit."""

    can_stop_tasks = False

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: multiprocessing.pool.ThreadPool | None = None

    def start(self) -> None:
        self.pool = multiprocessing.pool.ThreadPool(self.workers)

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        assert self.pool is not None
        self.pool.apply_async(
            fn,
            (job,),
            callback=lambda outcome: done(outcome, None),
            error_callback=lambda error: done(None, error),
        )

    def terminate(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            # terminate() would join threads still inside a fit; close() lets them finish alone.
            pool.close()


class LokyBackend(Backend):
    """joblib's loky process executor (what ``Parallel(backend="loky")`` runs on), owned by us.

    A dead worker breaks a loky executor as a whole: loky kills the other workers and fails
    every pending task with ``TerminatedWorkerError``; the supervisor names the culprit and,
    when asked to keep going, restarts the executor for the rest.
    """

    breaks_on_worker_death = True
    broken_errors = (loky.BrokenProcessPool, ShutdownExecutorError)

    def __init__(self, workers: int, inner_threads: int = 1) -> None:
        self.workers = workers
        self.inner_threads = inner_threads
        self.executor: loky.ProcessPoolExecutor | None = None

    def start(self) -> None:
        threads = str(self.inner_threads)
        self.executor = loky.ProcessPoolExecutor(
            max_workers=self.workers,
            timeout=LOKY_IDLE_TIMEOUT_S,
            initializer=init_process_worker,
            initargs=(*parent_identity(), self.inner_threads),
            env={
                "OMP_NUM_THREADS": threads,
                "OPENBLAS_NUM_THREADS": threads,
                "MKL_NUM_THREADS": threads,
            },
        )
        with private_folder("warmup") as folder:
            futures = [
                self.executor.submit(warm_up, str(folder), self.workers)
                for _ in range(self.workers)
            ]
            for future in futures:
                future.result(timeout=WARM_UP_TIMEOUT_S)

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        assert self.executor is not None
        try:
            future = self.executor.submit(fn, job)
        except loky.BrokenProcessPool as exc:
            done(None, exc)
            return

        def relay(f: Future[Any]) -> None:
            error = f.exception()
            done(None if error is not None else f.result(), error)

        future.add_done_callback(relay)

    def processes(self) -> Iterable[BaseProcess]:
        # loky keeps its workers in the private ``_processes`` dict (pid -> process).
        return list(getattr(self.executor, "_processes", {}).values())

    def terminate(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            workers = list(getattr(executor, "_processes", {}).values())
            _forget_queued_work(executor)
            _bounded(lambda: executor.shutdown(wait=True, kill_workers=True))
            _kill(workers)


def _forget_queued_work(executor: loky.ProcessPoolExecutor) -> None:
    """Drop the ids of tasks not yet handed to a worker before a killing shutdown.

    ``shutdown(kill_workers=True)`` forgets every pending task, but its manager thread then
    looks up the ids still queued and dies with a ``KeyError`` traceback on stderr (joblib
    1.6's loky; seen with more tasks than workers when a run fails fast). The queue
    (``_work_ids``, private) is only read by that thread, so emptying it first is safe.
    """
    work_ids = getattr(executor, "_work_ids", None)
    if work_ids is None:
        return
    with contextlib.suppress(queue.Empty):
        while True:
            work_ids.get_nowait()


def _forkserver_running() -> bool:
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None) is not None


def _stop_forkserver() -> None:
    """Stop the fork server this pool started, so no helper process outlives the strategy."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        with contextlib.suppress(OSError):
            stop()
