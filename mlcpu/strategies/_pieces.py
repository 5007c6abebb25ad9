"""``balanced``'s pieces: what a worker runs, and how the parent joins a forest back.

Kept apart from the strategy (``balanced``), which plans the pieces and drives the pool.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mlcpu import forests
from mlcpu._worker import ChunkJob, Job, Outcome, execute, execute_chunk
from mlcpu.training import TaskResult
from mlcpu.workload import TaskConfig, Workload

_capped = False  # per worker process: BLAS/OpenMP pools already limited to one thread


def execute_piece(job: Job | ChunkJob) -> Outcome:
    """Worker entry point: a piece of trees, or a whole configuration that cannot be cut.

    Thread pools are capped once per worker, for good, rather than around every piece (the
    jobs carry ``inner_threads=None``): a ``threadpool_limits`` context costs milliseconds,
    which is a large share of a small piece.
    """
    global _capped
    if not _capped:
        threadpool_limits(limits=1)
        _capped = True
    return execute_chunk(job) if isinstance(job, ChunkJob) else execute(job)


def tiny_fit() -> float:
    """Fit one tree on a few rows: the fixed cost of a fit with (almost) no work in it."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.random((32, 4), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    began = time.perf_counter()
    RandomForestClassifier(n_estimators=1, random_state=0, n_jobs=1).fit(X, y)
    return time.perf_counter() - began


class Assembly:
    """Collects the finished pieces of one configuration and builds its result."""

    def __init__(self, index: int, config: TaskConfig, expected: int) -> None:
        self.index = index
        self.config = config
        self.expected = expected
        self.pieces: dict[int, Any] = {}  # start tree -> fitted piece
        self.records: list[TaskResult] = []  # one per finished piece (estimator dropped)
        self.error: str | None = None

    def add(self, start: int, record: TaskResult) -> bool:
        """Store a finished piece; True when every piece has arrived."""
        if record.error is not None and self.error is None:
            self.error = record.error
        elif record.estimator is not None:
            self.pieces[start] = record.estimator
        record.estimator = None  # the supervisor keeps the record; the trees live here
        self.records.append(record)
        return len(self.records) == self.expected

    def result(self, dataset: Any, keep_estimator: bool) -> TaskResult:
        started = min(r.started for r in self.records)
        accuracy = estimator = None
        if self.error is None:
            estimator = forests.join([self.pieces[s] for s in sorted(self.pieces)])
            predictions = estimator.predict(dataset.X_test)
            accuracy = float(np.mean(predictions == dataset.y_test))
        self.pieces.clear()
        ended = time.perf_counter()
        main = max(self.records, key=trees_of)
        return TaskResult(
            index=self.index,
            config=self.config,
            accuracy=accuracy,
            seconds=ended - started,
            cpu=main.cpu,
            pid=main.pid,
            started=started,
            ended=ended,
            error=self.error,
            extra={
                "pieces": len(self.records),
                "cpus": sorted({r.cpu for r in self.records if r.cpu is not None}),
                "pids": sorted({r.pid for r in self.records if r.pid}),
            },
            estimator=estimator if keep_estimator else None,
        )


def workload_key(workload: Workload) -> str:
    data = workload.dataset
    return repr((data.name, data.X_train.shape, data.n_classes, workload.seed, workload.configs))


def trees_of(record: TaskResult) -> int:
    """Trees a piece's record covers (a whole-forest record: the whole forest)."""
    start, stop = record.extra.get("trees", (0, record.config.n_estimators))
    return int(stop - start)
