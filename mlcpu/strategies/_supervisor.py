"""Watching a worker pool so that no failure hangs, goes unnamed or loses finished work.

Pools on their own do badly here (see ``shared/FINDINGS.md``): ``multiprocessing.Pool`` waits
forever for a task whose worker was killed, and loky reports a dead worker without saying which
task it was running. The supervisor adds three things to any pool:

- each task writes a tiny *start marker* (pid, start time), so the parent knows which process
  runs which task;
- the parent waits on the worker processes' sentinels as well as on results, so a dead worker
  is seen at once and mapped to the task it was running;
- tasks past ``task_timeout`` have their worker killed, which turns into the same path.

Fail fast by default: the first failure stops every worker and raises, carrying the results
already finished. With ``keep_going`` a failure becomes an error record and the rest go on (a
pool that breaks as a whole is restarted and the unfinished tasks are resubmitted).
"""

from __future__ import annotations

import abc
import contextlib
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from typing import Any

from mlcpu._tempdirs import private_folder
from mlcpu._thirdparty import recover_tracker
from mlcpu._worker import Failure, Outcome, execute, read_marker
from mlcpu.errors import RemoteTraceback, TaskFailedError, TaskTimeoutError, WorkerDiedError
from mlcpu.training import TaskResult

# How long a broken pool's error may wait for the death that explains it (the death watch
# may itself wait up to 1 s for the exit status, see ``_exit_code``).
_CULPRIT_GRACE_S = 2.0
# Pool breaks with no worker death to blame before keep-going gives up on the tasks in flight
# (each restart costs a pool start-up; a break that keeps recurring unexplained would loop).
_MAX_UNEXPLAINED_BREAKS = 3
DoneCallback = Callable[[Outcome | None, BaseException | None], None]
# A picklable module-level function that runs one job in a worker (``mlcpu._worker.execute``,
# ``execute_chunk``): it calls ``mark_started`` first and returns an ``Outcome``.
JobFunction = Callable[[Any], Outcome]


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


@dataclass
class _Flight:
    job: Any
    generation: int
    pid: int | None = None
    started: float | None = None
    timed_out: bool = False


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


def task_failed_error(
    strategy: str, job: Any, failure: Failure, completed: list[TaskResult]
) -> TaskFailedError:
    """The error for a task that raised, chained to the original exception and its traceback."""
    error = TaskFailedError(
        f"{strategy}: {job.label} failed: {failure.exc_type}: {failure.message}",
        strategy=strategy,
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
    return error


class Supervisor:
    """Runs jobs on a backend with fail-fast or keep-going semantics; see the module doc."""

    poll_interval = 0.05

    def __init__(
        self,
        strategy: str,
        backend: Backend,
        *,
        keep_going: bool,
        task_timeout: float | None,
        emit: Callable[[TaskResult], TaskResult],
    ) -> None:
        self.strategy = strategy
        self.backend = backend
        self.keep_going = keep_going
        self.task_timeout = task_timeout
        self.emit = emit

    def run(self, jobs: Sequence[Any], fn: JobFunction = execute) -> list[TaskResult]:
        """Run every job (``Job`` by default, or another kind with its ``fn``).

        Returns one result per job, in job order; ``emit`` saw each as it finished.
        """
        wakeup = _Wakeup()
        try:
            with private_folder("tasks") as marker_dir:
                return _Run(self, jobs, fn, str(marker_dir), wakeup).loop()
        finally:
            wakeup.close()


class _Wakeup:
    """A self-pipe that pool threads write to when something happened.

    Pool threads may still report after a run has ended (tasks still running when a failure
    stopped the run). Writing to a closed descriptor is worse than an error: the number may
    already belong to a new pipe of another pool, whose reader would then block forever on
    the stray byte. So writes and closing are serialised, and writes after close are dropped.
    """

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._lock = threading.Lock()
        self._closed = False

    def notify(self) -> None:
        with self._lock:
            if not self._closed:
                with contextlib.suppress(OSError):
                    os.write(self._write_fd, b"!")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read_fd, 4096):
                pass

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self.read_fd)
                os.close(self._write_fd)


class _DeathWatch:
    """A thread that only waits on worker sentinels, so deaths are seen in the order they happen.

    When one loky worker dies, loky kills the others a moment later. A thread that is already
    blocked on every sentinel wakes with only the first death in its ready set (the kernel
    fills it in before loky's own thread can run), so the culprit is told from the bystanders.
    Deaths seen in one wake-up are reported together as one batch.
    """

    def __init__(self, backend: Backend, report: Callable[[list[tuple[int, int | None]]], None]):
        self.backend = backend
        self.report = report
        self._stop = _Wakeup()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="mlcpu-death-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._stop.notify()
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():  # else leave the pipe to the thread rather than
            self._stop.close()  # let it wait on a descriptor number that gets reused

    def _loop(self) -> None:
        watched: dict[int, BaseProcess] = {}
        dead: set[int] = set()
        while not self._stopping:
            recover_tracker()  # before loky's next message finds it dead (see _thirdparty)
            for process in self.backend.watched():
                watched.setdefault(process.pid, process)  # type: ignore[arg-type]
            live = {p.sentinel: p for pid, p in watched.items() if pid not in dead}
            ready = multiprocessing.connection.wait([self._stop.read_fd, *live], timeout=0.05)
            batch = [live[s] for s in ready if s in live]
            if batch and not self._stopping:
                for process in batch:
                    dead.add(process.pid)  # type: ignore[arg-type]
                self.report([(p.pid, exit_code(p)) for p in batch])  # type: ignore[misc]


def exit_code(process: BaseProcess, patience: float = 1.0) -> int | None:
    """The exit status of a worker whose sentinel just fired.

    ``multiprocessing.Pool``'s own thread reaps dead workers too: when it wins the race, our
    ``waitpid`` finds nothing, and the status appears on the shared process object only once
    that thread has stored it. So look again for a moment instead of giving up at once.
    """
    deadline = time.monotonic() + patience
    while process.exitcode is None and time.monotonic() < deadline:
        process.join(timeout=0.01)
    return process.exitcode


class _Run:
    """One supervised run's state; kept apart from ``Supervisor`` so that is reusable."""

    def __init__(
        self,
        owner: Supervisor,
        jobs: Sequence[Any],
        fn: JobFunction,
        marker_dir: str,
        wakeup: _Wakeup,
    ) -> None:
        self.owner = owner
        self.fn = fn
        self.backend = owner.backend
        self.marker_dir = marker_dir
        self.wakeup = wakeup
        self.events: queue.SimpleQueue[tuple[int, int, Outcome | None, BaseException | None]] = (
            queue.SimpleQueue()
        )
        self.deaths: queue.SimpleQueue[list[tuple[int, int | None]]] = queue.SimpleQueue()
        self.generation = 0
        # The generation whose pool was seen losing a worker that ran one of its tasks.
        self.death_generation = -1
        self.flights: dict[int, _Flight] = {}
        self.finished: dict[int, TaskResult] = {}
        self.break_deadline = 0.0
        self.unexplained_breaks = 0
        self.jobs = [replace(job, marker_dir=marker_dir) for job in jobs]

    # -- submission -------------------------------------------------------------------------
    def wake(self) -> None:
        self.wakeup.notify()

    def submit(self, job: Any) -> None:
        generation = self.generation
        job = replace(job, attempt=generation)
        self.flights[job.index] = _Flight(job, generation)

        def done(outcome: Outcome | None, error: BaseException | None) -> None:
            self.events.put((generation, job.index, outcome, error))
            self.wake()

        self.backend.submit(self.fn, job, done)

    def on_deaths(self, batch: list[tuple[int, int | None]]) -> None:
        self.deaths.put(batch)
        self.wake()

    def loop(self) -> list[TaskResult]:
        watch = _DeathWatch(self.backend, self.on_deaths) if self.backend.can_stop_tasks else None
        if watch is not None:
            watch.start()
        try:
            if self.backend.can_stop_tasks:
                self.check_idle_pool()
            for job in self.jobs:
                self.submit(job)
            while self.flights:
                self.wait()
                self.check_timeouts()
            if self.backend.breaks_on_worker_death and self.death_generation == self.generation:
                self.backend.restart()  # broken under the last task: ready it for the next run
            return [self.finished[job.index] for job in self.jobs]
        except BaseException:
            # Failure, Ctrl-C or SIGTERM: no worker may outlive the run.
            if watch is not None:
                watch.stop()
                watch = None
            self.backend.terminate()
            raise
        finally:
            if watch is not None:
                watch.stop()

    def wait(self) -> None:
        if multiprocessing.connection.wait([self.wakeup.read_fd], timeout=self.owner.poll_interval):
            self.wakeup.drain()
        self.read_markers()
        # Results before deaths: a worker that finished a task and then died in its next one
        # must not take the finished one down with it.
        self.drain_events()
        while True:
            try:
                batch = self.deaths.get_nowait()
            except queue.Empty:
                break
            self.on_death_batch(batch)
        self.act_on_break()

    def running(self) -> dict[int, _Flight]:
        """The task each worker process of the current pool runs now: its latest started.

        A worker may have started its next task before the result of its previous one has
        reached us; that earlier task is finished, not running.
        """
        latest: dict[int, _Flight] = {}
        for flight in self.flights.values():
            if flight.generation != self.generation or flight.pid is None:
                continue
            known = latest.get(flight.pid)
            if known is None or (flight.started or 0.0) > (known.started or 0.0):
                latest[flight.pid] = flight
        return latest

    def check_idle_pool(self) -> None:
        """Before handing out work: a worker that died since the last run (idle, or just
        after its last task) may have left the pool unable to run anything."""
        dead = self.backend.dead_workers()
        if not dead:
            return
        if not self.owner.keep_going:
            process = dead[0]
            raise lost_worker_error(
                self.owner.strategy, process.pid, exit_code(process), BETWEEN_TASKS
            )
        self.backend.restart()  # nothing was lost: keep going on a fresh pool

    def on_death_batch(self, batch: list[tuple[int, int | None]]) -> None:
        # A task writes its marker before it starts, so a death can always be matched to it;
        # read again in case the marker appeared after this round's first look.
        self.read_markers()
        # Only deaths of the current pool's workers matter: after a restart the old pool's
        # workers are still dying.
        running = self.running()
        culprits = [(running[pid], pid, code) for pid, code in batch if pid in running]
        idle = [(p, c) for p, c in batch if p not in running and self.backend.owns(p)]
        for pid, _ in batch:
            self.backend.forget(pid)
        if not culprits:
            if idle:
                self.on_idle_death(*idle[0])
            return
        if self.backend.breaks_on_worker_death:
            if self.death_generation == self.generation:
                return  # the pool killing its other workers after the first death
            self.death_generation = self.generation
            if len(culprits) > 1:
                # The pool kills the others with SIGKILL: a different death is the culprit.
                crashed = [c for c in culprits if c[2] != -signal.SIGKILL]
                if len(crashed) == 1:
                    culprits = crashed
                elif self.owner.keep_going:
                    # Which one broke the pool cannot be told: all run again (a break that
                    # keeps coming back unexplained is bounded in ``on_pool_broken``).
                    self.unexplained_breaks += 1
                    return
        for flight, pid, exitcode in culprits:
            self.report_death(flight, pid, exitcode, together=len(culprits))

    def on_idle_death(self, pid: int, exitcode: int | None) -> None:
        """A worker running no task died: fail fast, or restart the pool and go on."""
        if self.backend.breaks_on_worker_death and self.death_generation == self.generation:
            return  # the pool killing its other workers after the first death
        if not self.owner.keep_going:
            strategy = self.owner.strategy
            raise lost_worker_error(strategy, pid, exitcode, BETWEEN_TASKS, self.completed())
        self.death_generation = self.generation
        if not self.backend.breaks_on_worker_death:
            self.on_pool_broken()  # a Pool that lost an idle worker may hand out nothing more
        # (a loky pool's own errors for the tasks in flight lead to ``on_pool_broken``)

    def drain_events(self) -> None:
        broken = False
        while True:
            try:
                generation, index, outcome, error = self.events.get_nowait()
            except queue.Empty:
                break
            flight = self.flights.get(index)
            if flight is None or flight.generation != generation:
                continue  # already settled, or a leftover of a pool that was restarted
            if error is not None:
                if isinstance(error, self.backend.broken_errors):
                    broken = True
                else:
                    self.on_failure(flight, _failure_from_parent(error, flight))
            elif outcome is not None and outcome.failure is not None:
                self.on_failure(flight, outcome.failure)
            elif outcome is not None and outcome.result is not None:
                del self.flights[index]
                self.finished[index] = self.owner.emit(outcome.result)
        if broken and not self.break_deadline:
            self.break_deadline = time.monotonic() + _CULPRIT_GRACE_S

    def act_on_break(self) -> None:
        """Act on a broken pool once its culprit is known (its death may be seen a moment
        after the pool's own errors), or after a grace period if no worker death is seen."""
        if self.break_deadline and (
            self.death_generation == self.generation or time.monotonic() > self.break_deadline
        ):
            self.break_deadline = 0.0
            self.on_pool_broken()

    # -- failures ---------------------------------------------------------------------------
    def completed(self) -> list[TaskResult]:
        return [self.finished[i] for i in sorted(self.finished)]

    def settle_failed(self, flight: _Flight, record: TaskResult) -> None:
        del self.flights[flight.job.index]
        self.finished[flight.job.index] = self.owner.emit(record)

    def on_failure(self, flight: _Flight, failure: Failure) -> None:
        if not self.owner.keep_going:
            raise task_failed_error(self.owner.strategy, flight.job, failure, self.completed())
        self.settle_failed(flight, failure_result(flight.job, failure))

    def report_death(
        self, flight: _Flight, pid: int | None, exitcode: int | None, together: int = 1
    ) -> None:
        strategy, config, label = self.owner.strategy, flight.job.config, flight.job.label
        if flight.timed_out:
            stopped = (
                f"its worker (pid {pid}) was stopped"
                if self.backend.can_stop_tasks
                else "a thread cannot be stopped, so it finishes in the background"
            )
            message = (
                f"{strategy}: {label} ran longer than the task timeout of "
                f"{self.owner.task_timeout:g} s; {stopped}"
            )
            error: Exception = TaskTimeoutError(
                message,
                strategy=strategy,
                config=config,
                timeout=self.owner.task_timeout or 0.0,
                completed=self.completed(),
            )
        else:
            message = (
                f"{strategy}: the worker process (pid {pid}) running {label} "
                f"{describe_exit(exitcode)}"
            )
            if together > 1:
                message += f" ({together} workers were found dead at the same moment"
                message += (
                    "; the pool stops the others when one dies, so some may be bystanders)"
                    if self.backend.breaks_on_worker_death
                    else ")"
                )
            error = WorkerDiedError(
                message,
                strategy=strategy,
                config=config,
                pid=pid,
                signal_name=signal_name(exitcode),
                exitcode=exitcode,
                completed=self.completed(),
            )
        if not self.owner.keep_going:
            raise error
        self.settle_failed(flight, _unreported(flight, message, pid))

    def on_pool_broken(self) -> None:
        """The whole pool broke (loky): the culprit was reported; resubmit the innocent.

        Every task still in flight on the broken pool is lost, not only those whose error has
        arrived: the pool fails its tasks one callback at a time, and under load the rest come
        after the restart. Resubmitting only the first ones would leave the others to break
        the new pool again when their errors arrive, restart after restart.
        """
        if self.death_generation != self.generation:
            self.unexplained_breaks += 1
        in_flight = [f for f in self.flights.values() if f.generation == self.generation]
        for flight in in_flight:
            if flight.timed_out:  # its worker was stopped for it: settled, not run again
                self.report_death(flight, flight.pid, None)
        innocent = [f for f in in_flight if not f.timed_out]
        if not self.owner.keep_going and innocent:
            raise WorkerDiedError(
                f"{self.owner.strategy}: a worker process died and the pool stopped; "
                f"unfinished: {', '.join(f.job.label for f in innocent)}",
                strategy=self.owner.strategy,
                completed=self.completed(),
            )
        if self.unexplained_breaks > _MAX_UNEXPLAINED_BREAKS:
            message = (
                f"{self.owner.strategy}: the pool broke {self.unexplained_breaks} times "
                "without a worker death that names the task; giving up"
            )
            for flight in innocent:
                self.settle_failed(flight, _unreported(flight, message, flight.pid))
            innocent = []
        # Restarted even with nothing left to run: the next run must find a working pool.
        self.backend.restart()
        self.generation += 1
        self.break_deadline = 0.0  # the old pool's errors still coming in are old news
        for flight in innocent:
            self.submit(flight.job)

    def read_markers(self) -> None:
        for flight in self.flights.values():
            if flight.pid is None:
                marker = read_marker(self.marker_dir, flight.job.index, flight.job.attempt)
                if marker is not None:
                    flight.pid, flight.started = marker

    def check_timeouts(self) -> None:
        timeout = self.owner.task_timeout
        if timeout is None:
            return
        now = time.perf_counter()
        # A process runs one task at a time: only its latest started can be overrunning (a
        # thread pool's tasks all share one pid and run side by side).
        candidates = (
            self.running().values() if self.backend.can_stop_tasks else self.flights.values()
        )
        for flight in list(candidates):
            if flight.started is None or flight.timed_out or now - flight.started <= timeout:
                continue
            flight.timed_out = True
            if self.backend.can_stop_tasks and flight.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(flight.pid, signal.SIGKILL)
            else:
                self.report_death(flight, flight.pid, None)


def _unreported(flight: _Flight, message: str, pid: int | None) -> TaskResult:
    job = flight.job
    return TaskResult.unreported(
        job.index, job.config, started=flight.started, pid=pid, error=message
    )


def _failure_from_parent(error: BaseException, flight: _Flight) -> Failure:
    """A pool-level error for one task (for example its arguments failed to pickle)."""
    now = time.perf_counter()
    return Failure(
        exc_type=type(error).__qualname__,
        message=str(error),
        traceback="".join(traceback.format_exception(error)),
        exception=error,
        pid=os.getpid(),
        cpu=None,
        started=flight.started or now,
        ended=now,
    )
