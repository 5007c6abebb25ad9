"""The worker side of every pool strategy: process set-up, the job, and its outcome.

A job is small (a configuration, a seed and a shared dataset that pickles as a path). Its
outcome is either a result or a described failure; exceptions never cross the process boundary
raw, so the parent always learns which configuration failed, with the remote traceback text.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from mlcpu.data.datasets import Dataset
from mlcpu.records.config import TaskConfig
from mlcpu.records.task import TaskResult
from mlcpu.training.fit import current_cpu, train_task


@dataclass(frozen=True)
class Job:
    """Train one configuration. The supervisor fills in ``marker_dir`` and ``attempt``.

    Other job kinds (see ``ChunkJob``) follow the same shape: ``index``, ``config``, ``label``,
    ``marker_dir``, ``attempt``, and a job function that calls ``mark_started`` first and
    returns an ``Outcome`` instead of raising.
    """

    index: int
    config: TaskConfig
    dataset: Dataset
    seed: int
    n_jobs: int = 1
    # Thread-pool cap for this job alone. None: the process is capped already (worker
    # initializer, or the in-process strategy's run), which costs nothing per task.
    inner_threads: int | None = None
    marker_dir: str | None = None
    keep_estimator: bool = False
    attempt: int = 0

    @property
    def label(self) -> str:
        return self.config.label


@dataclass(frozen=True)
class ChunkJob:
    """Train trees ``start .. stop-1`` of one configuration's forest (see ``forests``)."""

    index: int
    config: TaskConfig
    dataset: Dataset
    seed: int
    start: int
    stop: int
    inner_threads: int | None = None
    marker_dir: str | None = None
    attempt: int = 0

    @property
    def label(self) -> str:
        return f"{self.config.label} (trees {self.start}-{self.stop - 1})"


@dataclass(frozen=True)
class Failure:
    """An exception raised by a task, described so that it survives pickling."""

    exc_type: str
    message: str
    traceback: str
    exception: BaseException | None
    pid: int
    cpu: int | None
    started: float
    ended: float

    @classmethod
    def from_exception(cls, exc: BaseException, started: float) -> Failure:
        try:
            pickle.loads(pickle.dumps(exc))
            portable: BaseException | None = exc
        except Exception:
            portable = None
        kind = type(exc)
        module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        return cls(
            exc_type=f"{module}{kind.__qualname__}",
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
            exception=portable,
            pid=os.getpid(),
            cpu=current_cpu(),
            started=started,
            ended=time.perf_counter(),
        )


@dataclass(frozen=True)
class Outcome:
    index: int
    result: TaskResult | None = None
    failure: Failure | None = None


def _limits(inner_threads: int | None) -> contextlib.AbstractContextManager[object]:
    if inner_threads is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=inner_threads)


def execute(job: Job) -> Outcome:
    """Run one job; never raises an ordinary exception (it becomes the outcome's failure)."""
    started = time.perf_counter()
    if job.marker_dir is not None:
        mark_started(job.marker_dir, job.index, job.attempt, started)
    try:
        with _limits(job.inner_threads):
            result = train_task(
                job.index,
                job.config,
                job.dataset,
                job.seed,
                n_jobs=job.n_jobs,
                keep_estimator=job.keep_estimator,
            )
    except Exception as exc:
        return Outcome(job.index, failure=Failure.from_exception(exc, started))
    return Outcome(job.index, result=result)


def execute_chunk(job: ChunkJob) -> Outcome:
    """Fit one chunk of trees; the result's ``estimator`` is the fitted piece (no accuracy)."""
    from mlcpu.training.forests import fit_trees

    started, cpu = begin_chunk(job)
    try:
        with _limits(job.inner_threads):
            piece = fit_trees(job.config, job.dataset, job.seed, job.start, job.stop)
    except Exception as exc:
        return Outcome(job.index, failure=Failure.from_exception(exc, started))
    return Outcome(job.index, result=chunk_record(job, started, cpu, estimator=piece))


def begin_chunk(job: Any) -> tuple[float, int | None]:
    """Start a chunk's clock, mark it started for the supervisor, and note the core."""
    started = time.perf_counter()
    if job.marker_dir is not None:
        mark_started(job.marker_dir, job.index, job.attempt, started)
    return started, current_cpu()


def chunk_record(
    job: Any, started: float, cpu: int | None, record: type[TaskResult] = TaskResult, **fields: Any
) -> TaskResult:
    """The record of a chunk of trees (``job.start``-``job.stop``) that has just ended."""
    extra = {"trees": [job.start, job.stop]}
    return record.ended_here(
        job.index, job.config, started, cpu, accuracy=None, extra=extra, **fields
    )


def warm_up(marker_dir: str, workers: int, timeout: float = 120.0) -> int:
    """Import and exercise the training stack, then wait until ``workers`` peers have too.

    A tiny fit pays first-call costs (imports, and in a forked worker the copy-on-write
    faults of touching the parent's objects) here, in measured start-up, instead of in the
    first real task. The wait is a barrier: no worker returns before all have arrived, so
    each of the ``workers`` warm-up calls necessarily runs on a different worker process.
    """
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.random((64, 4), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y).predict(X)
    folder = Path(marker_dir)
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + timeout
    while sum(1 for _ in folder.glob("ready-*")) < workers:
        if time.monotonic() > deadline:
            break
        time.sleep(0.002)
    return os.getpid()


def mark_started(marker_dir: str, index: int, attempt: int, started: float) -> None:
    """Tell the supervising parent which process started which task, and when."""
    path = os.path.join(marker_dir, f"task-{index}-{attempt}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{os.getpid()} {started!r}".encode())
    finally:
        os.close(fd)


def read_marker(marker_dir: str, index: int, attempt: int) -> tuple[int, float] | None:
    try:
        with open(os.path.join(marker_dir, f"task-{index}-{attempt}"), encoding="ascii") as fh:
            pid_text, started_text = fh.read().split()
        return int(pid_text), float(started_text)
    except (OSError, ValueError):
        return None
