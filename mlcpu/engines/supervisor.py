"""Watching a worker pool so that no failure hangs, goes unnamed or loses finished work.

Pools on their own do badly here (measured in ``docs/measured-facts.md``): a
``multiprocessing.Pool`` waits forever for a task whose worker was killed, and loky reports a
dead worker without saying which task it was running. The supervisor adds three things to any
pool (any ``Backend``, see ``backend``):

- each task writes a tiny *start marker* (pid, start time), so the parent knows which process
  runs which task;
- the parent waits on the worker processes' sentinels as well as on results (``_deathwatch``),
  so a dead worker is seen at once and mapped to the task it was running; a worker that dies
  running no task (between tasks, or between runs) stops the run too: the pool can no longer
  be trusted to hand out work;
- tasks past ``task_timeout`` have their worker killed, which turns into the same path.

::

    pool threads --- results, errors ---> events ---+
    death watch ---- deaths ------------> deaths ---+--> _Run.wait (one loop, this thread)
         (both write a byte to the Wakeup pipe)      results first, then deaths, then breaks

What a failure becomes is the ``FailurePolicy``'s to say (``failures``): fail fast stops every
worker and raises, carrying the results already finished; keep going settles the task with an
error record and the rest go on; a pool that breaks as a whole is restarted and the unfinished
tasks are resubmitted.
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import os
import queue
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mlcpu.engines.backend import Backend, JobFunction
from mlcpu.engines.deathwatch import DeathWatch, exit_code
from mlcpu.engines.failures import (
    BETWEEN_TASKS,
    FailurePolicy,
    failure_from_parent,
    gave_up_message,
    lost_worker_error,
    pool_stopped_error,
)
from mlcpu.engines.wakeup import Wakeup
from mlcpu.host.tempdirs import private_folder
from mlcpu.records.task import TaskResult
from mlcpu.training.units import Failure, Outcome, execute, read_marker

# How long a broken pool's error may wait for the death that explains it (the death watch
# may itself wait up to 1 s for the exit status, see ``exit_code``).
_CULPRIT_GRACE_S = 2.0
# Pool breaks with no worker death to blame before keep-going gives up on the tasks in flight
# (each restart costs a pool start-up; a break that keeps recurring unexplained would loop).
_MAX_UNEXPLAINED_BREAKS = 3


@dataclass
class _Flight:
    job: Any
    generation: int
    pid: int | None = None
    started: float | None = None
    timed_out: bool = False


class Supervisor:
    """Runs jobs on a backend with fail-fast or keep-going semantics; see the module doc."""

    poll_interval = 0.05

    def __init__(
        self, backend: Backend, policy: FailurePolicy, emit: Callable[[TaskResult], TaskResult]
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.emit = emit

    def run(self, jobs: Sequence[Any], fn: JobFunction = execute) -> list[TaskResult]:
        """Run every job (``Job`` by default, or another kind with its ``fn``).

        Returns one result per job, in job order; ``emit`` saw each as it finished.
        """
        wakeup = Wakeup()
        try:
            with private_folder("tasks") as marker_dir:
                return _Run(self, jobs, fn, str(marker_dir), wakeup).loop()
        finally:
            wakeup.close()


class _Run:
    """One supervised run's state; kept apart from ``Supervisor`` so that is reusable."""

    def __init__(
        self,
        owner: Supervisor,
        jobs: Sequence[Any],
        fn: JobFunction,
        marker_dir: str,
        wakeup: Wakeup,
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
    def submit(self, job: Any) -> None:
        generation = self.generation
        job = replace(job, attempt=generation)
        self.flights[job.index] = _Flight(job, generation)

        def done(outcome: Outcome | None, error: BaseException | None) -> None:
            self.events.put((generation, job.index, outcome, error))
            self.wakeup.notify()

        self.backend.submit(self.fn, job, done)

    def on_deaths(self, batch: list[tuple[int, int | None]]) -> None:
        self.deaths.put(batch)
        self.wakeup.notify()

    def loop(self) -> list[TaskResult]:
        watch = DeathWatch(self.backend, self.on_deaths) if self.backend.can_stop_tasks else None
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
        while not self.deaths.empty():  # this thread is the queues' only reader
            self.on_death_batch(self.deaths.get_nowait())
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
        if not self.owner.policy.keep_going:
            process = dead[0]
            raise lost_worker_error(
                self.owner.policy.strategy, process.pid, exit_code(process), BETWEEN_TASKS
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
                elif self.owner.policy.keep_going:
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
        if not self.owner.policy.keep_going:
            strategy = self.owner.policy.strategy
            raise lost_worker_error(strategy, pid, exitcode, BETWEEN_TASKS, self.completed())
        self.death_generation = self.generation
        if not self.backend.breaks_on_worker_death:
            self.on_pool_broken()  # a Pool that lost an idle worker may hand out nothing more
        # (a loky pool's own errors for the tasks in flight lead to ``on_pool_broken``)

    def drain_events(self) -> None:
        broken = False
        while not self.events.empty():
            generation, index, outcome, error = self.events.get_nowait()
            flight = self.flights.get(index)
            if flight is None or flight.generation != generation:
                continue  # already settled, or a leftover of a pool that was restarted
            if error is not None:
                if isinstance(error, self.backend.broken_errors):
                    broken = True
                else:
                    self.on_failure(flight, failure_from_parent(error, flight.started))
            elif outcome is not None and outcome.failure is not None:
                self.on_failure(flight, outcome.failure)
            elif outcome is not None and outcome.result is not None:
                self.settle(flight, outcome.result)
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

    def settle(self, flight: _Flight, record: TaskResult) -> None:
        del self.flights[flight.job.index]
        self.finished[flight.job.index] = self.owner.emit(record)

    def on_failure(self, flight: _Flight, failure: Failure) -> None:
        self.settle(flight, self.owner.policy.failed(flight.job, failure, self.completed()))

    def report_death(
        self, flight: _Flight, pid: int | None, exitcode: int | None, together: int = 1
    ) -> None:
        policy, backend = self.owner.policy, self.backend
        if flight.timed_out:
            stopped = (
                f"; its worker (pid {pid}) was stopped"
                if backend.can_stop_tasks
                else "; a thread cannot be stopped, so it finishes in the background"
            )
            record = policy.timed_out(
                flight.job, stopped, self.completed(), started=flight.started, pid=pid
            )
        else:
            record = policy.died(
                flight.job,
                self.completed(),
                started=flight.started,
                pid=pid,
                exitcode=exitcode,
                together=together,
                breaks_pool=backend.breaks_on_worker_death,
            )
        self.settle(flight, record)

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
        if not self.owner.policy.keep_going and innocent:
            labels = [f.job.label for f in innocent]
            raise pool_stopped_error(self.owner.policy.strategy, labels, self.completed())
        if self.unexplained_breaks > _MAX_UNEXPLAINED_BREAKS:
            message = gave_up_message(self.owner.policy.strategy, self.unexplained_breaks)
            for flight in innocent:
                job = flight.job
                record = TaskResult.unreported(
                    job.index, job.config, started=flight.started, pid=flight.pid, error=message
                )
                self.settle(flight, record)
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
        timeout = self.owner.policy.task_timeout
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
