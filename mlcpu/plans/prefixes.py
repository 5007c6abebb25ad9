"""Prefixes: train each forest once and serve every smaller size as its first trees.

scikit-learn seeds tree ``i`` of a forest with the ``i``-th draw from the forest's
``random_state``, so with a fixed seed the first ``n`` trees of a 200-tree forest *are* the
``n``-tree forest (``mlcpu.training.forests``). A sweep over forest sizes that differ in nothing
else therefore needs only its largest forest: the tutorial's 10/50/100/200 sweep trains 200 trees
instead of 360. Those trees are spread over the workers in chunks (tree-level
parallelism), and each chunk's worker also returns every tree's class probabilities on the
test split, so the parent scores all sizes in one ordered pass over the trees (a running sum of
probabilities, added in the same order as ``predict_proba`` adds them: the same bits).

Configurations that cannot be split into trees (a ``module:factory`` model, ``oob_score``,
``warm_start``) run as ordinary whole units beside the chunks, so any workload runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from mlcpu.data.datasets import Dataset
from mlcpu.plans.base import Emit, Plan
from mlcpu.plans.schedule import Costs, Piece, finish_time
from mlcpu.records.config import TaskConfig
from mlcpu.records.task import TaskResult
from mlcpu.training import forests
from mlcpu.training.folds import score_rows
from mlcpu.training.units import ChunkJob, Failure, Job, Outcome, begin_chunk, chunk_record, execute
from mlcpu.training.workload import Workload

# Chunks per worker over the whole sweep. One round trip costs about a millisecond, so the
# count hardly matters on its own (iris and synthetic 10000 x 20 measured the same with 1, 2
# and 4); 2 lets the pool hand the last chunk to whichever worker is free when another is
# slowed down by other load, for the price of two round trips more. See ``plan_sweep``.
DEFAULT_CHUNKS_PER_WORKER = 2


# -- the worker side ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PrefixChunkJob(ChunkJob):
    """Train trees ``start .. stop-1`` of ``config``'s forest and predict the test split with each.

    ``keep_trees`` sends the fitted trees back too (only needed when the caller keeps
    estimators: trees are large to pickle).
    """

    keep_trees: bool = False


@dataclass
class ChunkResult(TaskResult):
    """A chunk's record: every tree's test-split probabilities, the classes, maybe the trees."""

    tree_proba: np.ndarray | None = field(default=None, repr=False, compare=False)
    classes: np.ndarray | None = field(default=None, repr=False, compare=False)


def tree_probabilities(forest: Any, X: np.ndarray) -> np.ndarray:
    """``(n_trees, n_rows, n_classes)``: what each tree adds inside ``forest.predict_proba``.

    Validated as ``ForestClassifier.predict_proba`` validates, through public API only (not
    its private ``_validate_X_predict``): the same conversion to float32 (CSR if sparse), then
    the first tree checks the rest (feature count, sparse index types), as the forest asks its
    first tree; the other trees, like the forest's, predict without checking again. One
    difference: NaN is refused even where the trees could take it (mlcpu's datasets never hold
    it: the CSV loader refuses non-finite values).
    """
    check_is_fitted(forest)
    X = check_array(X, dtype=np.float32, accept_sparse="csr")
    first, *rest = forest.estimators_
    probabilities = [first.predict_proba(X, check_input=True)]
    probabilities += [tree.predict_proba(X, check_input=False) for tree in rest]
    return np.stack(probabilities)


def execute_prefix_chunk(job: PrefixChunkJob) -> Outcome:
    """Fit one chunk and predict with its trees; never raises (a failure is the outcome).

    No per-job ``threadpool_limits`` (unlike ``execute_chunk``): tree fitting and prediction run
    no BLAS/OpenMP code, and entering the limit took 2-25 ms per call in a fork worker, a large
    share of a chunk on small data such as iris.
    """
    started, cpu = begin_chunk(job)
    try:
        piece = forests.fit_trees(job.config, job.dataset, job.seed, job.start, job.stop)
        proba = tree_probabilities(piece, score_rows(job.dataset, job.config)[0])
    except Exception as exc:
        return Outcome(job.index, failure=Failure.from_exception(exc, started))
    record = chunk_record(
        job,
        started,
        cpu,
        ChunkResult,
        estimator=piece if job.keep_trees else None,
        tree_proba=proba,
        classes=piece.classes_,
    )
    return Outcome(job.index, result=record)


def execute_any(job: PrefixChunkJob | Job) -> Outcome:
    """The pool's job function: a chunk of a forest, or a whole configuration."""
    if isinstance(job, PrefixChunkJob):
        return execute_prefix_chunk(job)
    return execute(job)


# -- planning ----------------------------------------------------------------------------------
@dataclass
class ForestGroup:
    """Configurations that differ only in their number of trees, served by one forest."""

    largest: TaskConfig
    members: list[tuple[int, TaskConfig]]  # (workload index, config), fewest trees first
    chunks: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SweepPlan:
    groups: list[ForestGroup]
    whole: list[tuple[int, TaskConfig]]  # configurations trained on their own

    @property
    def trees_requested(self) -> int:
        """Trees a from-scratch sweep trains: every configuration's own forest."""
        grouped = sum(c.n_estimators for g in self.groups for _, c in g.members)
        return grouped + sum(c.n_estimators for _, c in self.whole)

    @property
    def trees_trained(self) -> int:
        grouped = sum(g.largest.n_estimators for g in self.groups)
        return grouped + sum(c.n_estimators for _, c in self.whole)


def predicted_s(sweep: SweepPlan, workers: int, costs: Costs) -> float:
    """When the sweep's chunks end if each free worker takes the next, largest first.

    Chunks send back tree probabilities, not trees, and the parent only adds them up: neither
    is modelled (both are far smaller than a tree's training on the measured workloads).
    """
    chunks = [Piece(n, a, b) for n, group in enumerate(sweep.groups) for a, b in group.chunks]
    chunks += [Piece(-1, 0, config.n_estimators) for _, config in sweep.whole]
    chunks.sort(key=lambda piece: -piece.trees)
    trees_only = Costs(per_tree_s=costs.per_tree_s, per_piece_s=costs.per_piece_s)
    return finish_time(chunks, workers, trees_only)


def plan_sweep(configs: Sequence[TaskConfig], workers: int, chunks_per_worker: int) -> SweepPlan:
    """Group configurations by everything but their size and cut each largest forest into chunks.

    One chunk size for the whole sweep (trees trained / (workers x chunks_per_worker)), so a
    small forest is one chunk while the big ones are spread over every worker.
    """
    groups: dict[tuple[Any, ...], ForestGroup] = {}
    whole: list[tuple[int, TaskConfig]] = []
    for index, config in enumerate(configs):
        if not forests.supports(config):
            whole.append((index, config))
            continue
        group = groups.setdefault(config.family, ForestGroup(config, []))
        group.members.append((index, config))
        if config.n_estimators > group.largest.n_estimators:
            group.largest = config
    plan = SweepPlan(list(groups.values()), whole)
    size = max(1, math.ceil(plan.trees_trained / (workers * chunks_per_worker)))
    for group in plan.groups:
        group.members.sort(key=lambda member: member[1].n_estimators)
        group.chunks = forests.chunks(group.largest.n_estimators, size)
    return plan


# -- assembling results in the parent ----------------------------------------------------------
class _GroupScore:
    """Scores a group's sizes as its chunks arrive: a running sum of tree probabilities."""

    def __init__(self, group: ForestGroup, dataset: Dataset) -> None:
        self.group = group
        self.y_test = score_rows(dataset, group.largest)[1]
        self.settled: dict[int, TaskResult] = {}
        self.next_chunk = 0
        self.next_member = 0
        self.total: np.ndarray | None = None
        self.trees = 0
        self.pieces: list[Any] = []
        self.failure: tuple[int, TaskResult] | None = None  # the first failed chunk

    def take(self, chunk: int, result: TaskResult) -> list[TaskResult]:
        """Record one settled chunk; return the members that became ready, in size order."""
        self.settled[chunk] = result
        ready: list[TaskResult] = []
        while self.next_chunk in self.settled:
            current = self.settled[self.next_chunk]
            if self.failure is None and current.error is None:
                ready += self._add(current)
            elif self.failure is None:
                self.failure = (self.next_chunk, current)
            self.next_chunk += 1
        if self.failure is not None:
            while self.next_member < len(self.group.members):
                ready.append(self._failed(*self.group.members[self.next_member]))
                self.next_member += 1
        return ready

    def _add(self, chunk: TaskResult) -> list[TaskResult]:
        assert isinstance(chunk, ChunkResult)
        assert chunk.tree_proba is not None
        if chunk.estimator is not None:
            self.pieces.append(chunk.estimator)
        proba, chunk.tree_proba = chunk.tree_proba, None  # free it once summed
        if self.total is None:
            self.total = np.zeros(proba.shape[1:], dtype=np.float64)
        ready = []
        members = self.group.members
        for tree in proba:
            # ``predict_proba`` adds tree after tree into float64 zeros, then divides.
            self.total += tree
            self.trees += 1
            while self.next_member < len(members) and (
                members[self.next_member][1].n_estimators == self.trees
            ):
                ready.append(self._served(*members[self.next_member], chunk))
                self.next_member += 1
        return ready

    def _served(self, index: int, config: TaskConfig, last: ChunkResult) -> TaskResult:
        assert self.total is not None
        assert last.classes is not None
        average = self.total / self.trees
        predictions = last.classes.take(np.argmax(average, axis=1), axis=0)
        used = [self.settled[i] for i in range(self.next_chunk + 1)]
        started = min(r.started for r in used)
        ended = max(r.ended for r in used)
        estimator = None
        if self.pieces:
            estimator = forests.prefix(forests.join(self.pieces), config.n_estimators)
        return TaskResult(
            index=index,
            config=config,
            accuracy=float(np.mean(predictions == self.y_test)),
            seconds=ended - started,
            cpu=last.cpu,
            pid=last.pid,
            started=started,
            ended=ended,
            thread=last.thread,
            worker=last.worker,
            host=last.host,
            extra=self._extra(config),
            estimator=estimator,
        )

    def _failed(self, index: int, config: TaskConfig) -> TaskResult:
        assert self.failure is not None
        number, failed = self.failure
        start, stop = self.group.chunks[number]
        return replace(
            failed,
            index=index,
            config=config,
            accuracy=None,
            error=(
                f"trees {start}-{stop - 1} of the {self.group.largest.n_estimators}-tree "
                f"forest failed: {failed.error}"
            ),
            extra=self._extra(config),
            estimator=None,
        )

    def _extra(self, config: TaskConfig) -> dict[str, Any]:
        largest = self.group.largest.n_estimators
        return {"prefix_of": largest} if config.n_estimators < largest else {}


class PrefixPlan(Plan):
    """One forest per model, its chunks spread over the workers; every size is a prefix."""

    job_function = staticmethod(execute_any)

    def __init__(
        self,
        workload: Workload,
        emit: Emit,
        *,
        keep_estimators: bool = False,
        workers: int,
        chunks_per_worker: int = DEFAULT_CHUNKS_PER_WORKER,
    ) -> None:
        super().__init__(workload, emit, keep_estimators=keep_estimators)
        self.sweep = plan_sweep(workload.configs, workers, chunks_per_worker)
        self.routes: dict[int, tuple[_GroupScore, int] | int] = {}
        self.scores = [_GroupScore(group, workload.dataset) for group in self.sweep.groups]

    def describe(self) -> dict[str, Any]:
        return {
            "trees_trained": self.sweep.trees_trained,
            "trees_requested": self.sweep.trees_requested,
        }

    def units(self) -> list[Any]:
        """Every unit, longest first (chunks of one forest stay in tree order)."""
        dataset, seed, keep = self.workload.dataset, self.workload.seed, self.keep_estimators
        planned: list[Any] = []
        for score in self.scores:
            for number, (start, stop) in enumerate(score.group.chunks):
                self.routes[len(planned)] = (score, number)
                job = PrefixChunkJob(
                    len(planned), score.group.largest, dataset, seed, start, stop, keep_trees=keep
                )
                planned.append(job)
        for index, config in self.sweep.whole:
            self.routes[len(planned)] = index
            planned.append(Job(len(planned), config, dataset, seed, keep_estimator=keep))
        return sorted(planned, key=_trees_of, reverse=True)

    def take(self, record: TaskResult) -> TaskResult:
        route = self.routes[record.index]
        if isinstance(route, int):
            self.finish(route, replace(record))
            return record
        score, chunk = route
        for ready in score.take(chunk, record):
            self.finish(ready.index, ready)
        return record


def _trees_of(job: PrefixChunkJob | Job) -> int:
    return job.stop - job.start if isinstance(job, PrefixChunkJob) else job.config.n_estimators
