"""Pieces of trees: every forest cut into pieces, all pieces largest-first, forests joined back.

Whole configurations cannot beat the largest forest's own time (on the tutorial's synthetic
workload the 200-tree forest is over half the work: at most 1.8x on two cores). Here every
forest is cut into pieces (how many and how large is ``piece_costs``' decision, simulated in
``schedule``), and each configuration's pieces are joined back into one ordinary fitted forest
(``mlcpu.training.forests``) that predicts exactly what ``sequential``'s forest of the same seed
predicts; its accuracy is scored on that joined forest, in the parent. A forest that is one
piece is trained and scored in its worker, like ``sequential``'s. Configurations that cannot be
cut (a custom model, ``oob_score``, ``warm_start``) go whole, first: they are the long poles.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mlcpu.plans.base import Emit, Plan
from mlcpu.plans.schedule import Schedule
from mlcpu.records.config import TaskConfig
from mlcpu.records.task import TaskResult
from mlcpu.training import forests
from mlcpu.training.folds import score_rows
from mlcpu.training.units import ChunkJob, Job, Outcome, execute, execute_chunk
from mlcpu.training.workload import Workload

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


def no_work() -> float:
    """Nothing, sent to a worker and back: what a unit's round trip costs beyond its fit."""
    return 0.0


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
            X, y = score_rows(dataset, self.config)
            accuracy = float(np.mean(estimator.predict(X) == y))
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
            worker=main.worker,
            host=main.host,
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


class PiecesPlan(Plan):
    """The units of one ``schedule`` (``None``: nothing cuttable) and the joining of forests.

    ``firsts`` are pieces already trained (the planner's probe: the first tree of a forest),
    kept as real work. ``fitted`` and ``scored`` are what the run measured, for the planner.
    """

    job_function = staticmethod(execute_piece)

    def __init__(
        self,
        workload: Workload,
        emit: Emit,
        *,
        keep_estimators: bool = False,
        schedule: Schedule | None,
        firsts: dict[int, TaskResult] | None = None,
    ) -> None:
        super().__init__(workload, emit, keep_estimators=keep_estimators)
        self.schedule = schedule
        self.firsts = firsts or {}
        self.whole = {i for i, c in enumerate(workload.configs) if not forests.supports(c)}
        self.owners: list[tuple[int, int]] = []  # unit index -> (configuration, start tree)
        self.assemblies: dict[int, Assembly] = {}
        self.fitted: list[TaskResult] = []  # pieces trained by the workers
        self.scored: list[float] = []  # seconds the parent spent joining and scoring

    def units(self) -> list[Any]:
        """The pieces, after the configurations that cannot be cut; a forest the probe
        already completed (a one-tree forest) is emitted here."""
        w = self.workload
        pieces = list(self.schedule.pieces) if self.schedule is not None else []
        per_config = collections.Counter(p.config for p in pieces)
        jobs: list[Job | ChunkJob] = []

        def whole_job(i: int) -> None:
            """A forest trained and scored in one worker: only its accuracy comes back."""
            self.whole.add(i)
            jobs.append(
                Job(len(jobs), w.configs[i], w.dataset, w.seed, keep_estimator=self.keep_estimators)
            )
            self.owners.append((i, 0))

        for i in sorted(self.whole, key=lambda i: -w.configs[i].n_estimators):
            whole_job(i)
        for piece in pieces:
            if (
                per_config[piece.config] == 1
                and piece.trees == w.configs[piece.config].n_estimators
            ):
                whole_job(piece.config)
            else:  # inner_threads None: capped once per worker (execute_piece)
                config, start, stop = w.configs[piece.config], piece.start, piece.stop
                jobs.append(ChunkJob(len(jobs), config, w.dataset, w.seed, start, stop))
                self.owners.append((piece.config, start))
        counts = collections.Counter(config for config, _ in self.owners)
        self.assemblies = {
            i: Assembly(i, c, counts[i] + (i in self.firsts))
            for i, c in enumerate(w.configs)
            if i not in self.whole
        }
        for index, first in self.firsts.items():
            if self.assemblies[index].add(0, first):  # a one-tree forest: the probe was all
                self.finish(
                    index, self.assemblies.pop(index).result(w.dataset, self.keep_estimators)
                )
        return jobs

    def take(self, record: TaskResult) -> TaskResult:
        config_index, start = self.owners[record.index]
        if config_index in self.whole:
            if record.error is None and forests.supports(record.config):
                self.fitted.append(record)
            cpus = [] if record.cpu is None else [record.cpu]
            record.extra.update(pieces=1, cpus=cpus, pids=[record.pid])
            self.finish(config_index, record)
            return record
        if record.error is None:
            self.fitted.append(record)
        if self.assemblies[config_index].add(start, record):
            began = time.perf_counter()
            assembly = self.assemblies.pop(config_index)
            result = assembly.result(self.workload.dataset, self.keep_estimators)
            self.scored.append(time.perf_counter() - began)
            self.finish(config_index, result)
        return record
