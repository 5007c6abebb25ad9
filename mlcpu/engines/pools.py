"""Adapters that let the supervisor drive stdlib and loky pools the same way."""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import multiprocessing.pool
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.process import BaseProcess
from typing import Any

from joblib.externals import loky
from joblib.externals.loky.process_executor import ShutdownExecutorError

from mlcpu.engines.backend import Backend, DoneCallback, JobFunction
from mlcpu.engines.deathwatch import exit_code
from mlcpu.engines.failures import WHILE_STARTING, lost_worker_error
from mlcpu.errors import TaskTimeoutError
from mlcpu.host import thirdparty as _thirdparty
from mlcpu.host.process_guard import init_process_worker, parent_identity, terminable_forks
from mlcpu.host.tempdirs import private_folder
from mlcpu.training.units import warm_up

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


def _watch_start(backend: Backend, wait: Callable[[float], bool]) -> None:
    """Wait for a starting pool's warm-up (``wait(timeout)`` is true once it is done), failing
    at once, not after ``WARM_UP_TIMEOUT_S``, if a worker dies meanwhile."""
    deadline = time.monotonic() + WARM_UP_TIMEOUT_S
    while not wait(0.05):
        _thirdparty.recover_tracker()
        dead = backend.dead_workers()
        if dead:
            process = dead[0]
            raise lost_worker_error(
                backend.strategy, process.pid, exit_code(process), WHILE_STARTING
            )
        if time.monotonic() > deadline:
            raise TaskTimeoutError(
                f"{backend.strategy}: the pool's warm-up took longer than {WARM_UP_TIMEOUT_S:g} s",
                strategy=backend.strategy,
                timeout=WARM_UP_TIMEOUT_S,
            )


def _result(backend: Backend, result: multiprocessing.pool.AsyncResult[Any]) -> Any:
    """``result.get()``, once ``_watch_start`` has seen it ready."""

    def ready(timeout: float) -> bool:
        result.wait(timeout)
        return result.ready()

    _watch_start(backend, ready)
    return result.get()


def _apply(pool: multiprocessing.pool.Pool, fn: JobFunction, job: Any, done: DoneCallback) -> None:
    pool.apply_async(
        fn,
        (job,),
        callback=lambda outcome: done(outcome, None),
        error_callback=lambda error: done(None, error),
    )


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

    def __init__(
        self, workers: int, start_method: str, inner_threads: int = 1, *, strategy: str = "pool"
    ) -> None:
        super().__init__(strategy)
        self.workers = workers
        self.start_method = start_method
        self.inner_threads = inner_threads
        self.pool: multiprocessing.pool.Pool | None = None
        self._forkserver_started = False

    def start(self) -> None:
        self.forget_workers()
        _thirdparty.recover_tracker()
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            self._forkserver_started = not _thirdparty.forkserver_running()
            context.set_forkserver_preload(["mlcpu.training.units", "sklearn.ensemble"])
        with terminable_forks():  # the pool's threads fork replacements later
            self.pool = context.Pool(
                self.workers,
                initializer=init_process_worker,
                initargs=(*parent_identity(), self.inner_threads),
            )
        self.watched()  # a pool whose workers cannot be seen is refused, not run unwatched
        with private_folder("warmup") as folder:
            pending = [
                self.pool.apply_async(warm_up, (str(folder), self.workers))
                for _ in range(self.workers)
            ]
            for result in pending:
                _result(self, result)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on one worker of the starting pool, watched like the warm-up."""
        assert self.pool is not None
        return _result(self, self.pool.apply_async(fn, args))

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        assert self.pool is not None
        _apply(self.pool, fn, job, done)

    def processes(self) -> Iterable[BaseProcess]:
        pool = self.pool
        return () if pool is None else _thirdparty.pool_processes(pool)

    def terminate(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        _thirdparty.recover_tracker()
        workers = []
        with contextlib.suppress(_thirdparty.InternalsChanged):  # refused at start: still stop it
            workers = _thirdparty.pool_processes(pool)

        def stop() -> None:
            pool.terminate()
            pool.join()

        _bounded(stop)
        # Also any worker the pool started since, to replace one that died (when an idle
        # worker is killed, ``terminate`` hangs and the pool is left to us to stop).
        with contextlib.suppress(_thirdparty.InternalsChanged):
            workers += _thirdparty.pool_processes(pool)
        _kill(workers)
        if self._forkserver_started:
            _thirdparty.stop_forkserver()
            self._forkserver_started = False


class ThreadBackend(Backend):
    """``multiprocessing.pool.ThreadPool``: daemon threads, so abandoned tasks never block exit."""

    can_stop_tasks = False

    def __init__(self, workers: int, *, strategy: str = "threads") -> None:
        super().__init__(strategy)
        self.workers = workers
        self.pool: multiprocessing.pool.ThreadPool | None = None

    def start(self) -> None:
        self.pool = multiprocessing.pool.ThreadPool(self.workers)

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        assert self.pool is not None
        _apply(self.pool, fn, job, done)

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

    def __init__(self, workers: int, inner_threads: int = 1, *, strategy: str = "joblib") -> None:
        super().__init__(strategy)
        self.workers = workers
        self.inner_threads = inner_threads
        self.executor: loky.ProcessPoolExecutor | None = None

    def start(self) -> None:
        self.forget_workers()
        _thirdparty.recover_tracker()
        with _thirdparty.tracker_relaunch_handled():
            executor = self.executor = self._new_executor()
        self.watched()  # a pool whose workers cannot be seen is refused, not run unwatched
        with private_folder("warmup") as folder:
            size = self.workers
            with _thirdparty.tracker_relaunch_handled():  # loky starts its workers here
                futures = [executor.submit(warm_up, str(folder), size) for _ in range(size)]

            def finished(timeout: float) -> bool:
                return not concurrent.futures.wait(futures, timeout)[1]

            _watch_start(self, finished)
            try:
                for future in futures:
                    future.result()
            except loky.BrokenProcessPool as exc:
                # Broken by a death the watch had not seen yet: give it a moment to show.
                deadline = time.monotonic() + 2.0
                while not (dead := self.dead_workers()) and time.monotonic() < deadline:
                    time.sleep(0.02)
                pid, code = (dead[0].pid, exit_code(dead[0])) if dead else (None, None)
                raise lost_worker_error(self.strategy, pid, code, WHILE_STARTING) from exc

    def _new_executor(self) -> loky.ProcessPoolExecutor:
        threads = str(self.inner_threads)
        return loky.ProcessPoolExecutor(
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

    def submit(self, fn: JobFunction, job: Any, done: DoneCallback) -> None:
        assert self.executor is not None
        try:
            future = self.executor.submit(fn, job)
        except loky.BrokenProcessPool as exc:
            done(None, exc)
            return

        def relay(f: concurrent.futures.Future[Any]) -> None:
            error = f.exception()
            done(None if error is not None else f.result(), error)

        future.add_done_callback(relay)

    def processes(self) -> Iterable[BaseProcess]:
        executor = self.executor
        return () if executor is None else _thirdparty.loky_processes(executor)

    def terminate(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            _thirdparty.recover_tracker()
            workers = _thirdparty.loky_processes(executor)
            _thirdparty.loky_forget_queued(executor)
            _bounded(lambda: executor.shutdown(wait=True, kill_workers=True))
            _kill(workers)
