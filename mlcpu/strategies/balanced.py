"""``balanced``: schedule trees, not configurations, over a warm fork pool.

Whole configurations cannot beat the largest forest's own time (on the tutorial's synthetic
workload the 200-tree forest is over half the work: at most 1.8x on two cores, 1.44x in the
given order). Here every forest is cut into pieces of trees (``_schedule.plan``), all pieces of
all configurations go to one pool largest-first, and each configuration's pieces are joined back
into one ordinary fitted forest (``mlcpu.forests``) that predicts exactly what ``sequential``'s
forest of the same seed predicts; its accuracy is scored on that joined forest, in the parent.

Measuring before planning: the first tree of the largest forest is trained in the parent (it is
kept as that forest's first piece) and scored, which tells the per-tree costs of this workload;
the fixed cost of one piece on the pool is measured once at start-up. A workload run before is
planned from what its last run measured instead, with no probe. Configurations that cannot be
cut (a custom model, ``oob_score``, ``warm_start``) go to the same pool whole.

The pool is a ``multiprocessing.Pool`` started with ``fork`` where available: workers start in
milliseconds with scikit-learn already imported (a spawning pool pays ~1.4 s per worker to
import it); ``spawn`` elsewhere.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import statistics
import time
from typing import Any

import numpy as np

from mlcpu import forests
from mlcpu._worker import ChunkJob, Job
from mlcpu.errors import InputError, TaskError
from mlcpu.strategies._backends import PoolBackend
from mlcpu.strategies._engine import Backend
from mlcpu.strategies._pieces import Assembly, execute_piece, tiny_fit, trees_of, workload_key
from mlcpu.strategies._schedule import Costs, Piece, Plan, cut, order, plan
from mlcpu.strategies._supervisor import Supervisor
from mlcpu.strategies.pools import DEFAULT_START_METHOD, PoolStrategy, shared
from mlcpu.training import TaskResult, current_cpu
from mlcpu.workload import Workload

# Round trips timed at start-up to learn the fixed cost of one piece on the pool.
_OVERHEAD_SAMPLES = 5


class BalancedStrategy(PoolStrategy):
    name = "balanced"
    summary = (
        "trees, not configurations: every forest cut into pieces sized to the work, all "
        "pieces largest-first over a warm fork pool, joined back into identical forests"
    )

    def __init__(
        self, workers: int | None = None, *, piece_size: int | None = None, **options: Any
    ) -> None:
        super().__init__(workers, **options)
        if piece_size is not None and (
            isinstance(piece_size, bool) or not isinstance(piece_size, int) or piece_size < 1
        ):
            raise InputError(f"piece size must be a positive integer or None, got {piece_size!r}")
        #: trees per piece; None plans it from measured costs
        self.piece_size = piece_size
        self.start_method = DEFAULT_START_METHOD
        self.per_piece_s: float | None = None  # fixed cost of one piece on the pool
        self.fit_overhead_s: float | None = None  # fixed cost of one fit in this process
        self._learned: dict[str, Costs] = {}  # workload -> costs its last run measured
        self._costs: Costs | None = None  # what the current run was planned with
        self._last: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"start_method": self.start_method, "piece_size": self.piece_size or "planned"}

    def result_extra(self) -> dict[str, Any]:
        return {"schedule": dict(self._last)} if self._last else {}

    def _make_backend(self) -> Backend:
        return PoolBackend(self.workers, self.start_method, strategy=self.name)

    def _start(self) -> None:
        super()._start()
        self._measure_fit_overhead()
        self._measure_piece_overhead()

    def _measure_fit_overhead(self) -> None:
        """Time a trivial fit here: the fixed part of any fit, outside the trees."""
        self.fit_overhead_s = min(tiny_fit() for _ in range(3))

    def _measure_piece_overhead(self) -> None:
        """Time round trips of a trivial fit through the warm pool: the cost of one piece."""
        backend = self._backend
        assert isinstance(backend, PoolBackend)
        trips = []
        for _ in range(_OVERHEAD_SAMPLES):
            began = time.perf_counter()
            backend.call(tiny_fit)
            trips.append(time.perf_counter() - began)
        self.per_piece_s = statistics.median(trips)

    # -- planning ---------------------------------------------------------------------------
    def _probe(self, workload: Workload) -> tuple[dict[int, TaskResult], Costs | None, float]:
        """Train the first tree of each cuttable model's largest forest here, timed.

        Returns those first pieces (kept as real work), the cost model, and the probe's time.
        """
        groups: dict[tuple[str, tuple[tuple[str, Any], ...]], int] = {}
        for index, config in enumerate(workload.configs):
            if not forests.supports(config):
                continue
            key = (config.model, config.params)
            best = groups.get(key)
            if best is None or config.n_estimators > workload.configs[best].n_estimators:
                groups[key] = index
        firsts: dict[int, TaskResult] = {}
        per_tree: list[float] = []
        scoring: list[float] = []
        transfer: list[float] = []
        overhead = self.fit_overhead_s or 0.0
        began = time.perf_counter()
        for index in groups.values():
            config = workload.configs[index]
            started = time.perf_counter()
            piece = forests.fit_trees(config, workload.dataset, workload.seed, 0, 1)
            ended = time.perf_counter()
            piece.predict(workload.dataset.X_test)  # what scoring costs, per tree
            scored = time.perf_counter()
            pickle.loads(pickle.dumps(piece.estimators_[0]))  # sending a tree back, both sides
            transfer.append((time.perf_counter() - scored) / 2)
            scoring.append(scored - ended)
            # A one-tree fit is mostly fixed cost on tiny data; never let noise in the
            # subtraction claim trees are free.
            per_tree.append(max(ended - started - overhead, (ended - started) / 3))
            firsts[index] = TaskResult(
                index=index,
                config=config,
                accuracy=None,
                seconds=ended - started,
                cpu=current_cpu(),
                pid=os.getpid(),
                started=started,
                ended=ended,
                extra={"trees": [0, 1]},
                estimator=piece,
            )
        probe_s = time.perf_counter() - began
        if not per_tree:
            return firsts, None, probe_s
        costs = Costs(
            per_tree_s=max(per_tree),
            per_piece_s=self.per_piece_s or 0.0,
            score_per_tree_s=max(scoring),
            transfer_per_tree_s=max(transfer),
        )
        return firsts, costs, probe_s

    def _plan(self, workload: Workload, firsts: dict[int, TaskResult], costs: Costs) -> Plan:
        ranges = []
        for index, config in enumerate(workload.configs):
            if not forests.supports(config):
                ranges.append((0, 0))  # whole, handled apart
            else:
                ranges.append((1 if index in firsts else 0, config.n_estimators))
        totals = [c.n_estimators for c in workload.configs]
        if all(stop <= start for start, stop in ranges):
            return Plan((), 0, "none", 0.0)
        return plan(ranges, totals, self.workers, costs)

    # -- running ----------------------------------------------------------------------------
    def _fixed_plan(self, workload: Workload, size: int) -> Plan:
        pieces = [
            Piece(index, start, stop)
            for index, config in enumerate(workload.configs)
            if forests.supports(config)
            for start, stop in cut(0, config.n_estimators, size, "fixed")
        ]
        totals = [c.n_estimators for c in workload.configs]
        return Plan(tuple(order(pieces, totals)), size, "fixed", None)

    def _prepare(
        self, workload: Workload
    ) -> tuple[dict[int, TaskResult], Plan | None, Costs | None]:
        """Probe and plan (or cut at the fixed piece size); the plan goes into the results.

        A workload this strategy has run before is planned from what that run measured
        (per-tree time on the busy pool, scoring time), with no probe.
        """
        if self.piece_size is not None:
            schedule = self._fixed_plan(workload, self.piece_size)
            self._last = schedule.describe()
            return {}, schedule, None
        learned = self._learned.get(workload_key(workload))
        if learned is not None:
            firsts: dict[int, TaskResult] = {}
            costs: Costs | None = learned
            probe_s, source = 0.0, "measured in the previous run"
        else:
            firsts, costs, probe_s = self._probe(workload)
            source = "probe"
        planned = self._plan(workload, firsts, costs) if costs is not None else None
        self._costs = costs
        self._last = {
            "costs_from": source,
            "probe_s": probe_s,
            "per_tree_s": costs.per_tree_s if costs else None,
            "per_piece_s": self.per_piece_s,
            "score_per_tree_s": costs.score_per_tree_s if costs else None,
            "transfer_per_tree_s": costs.transfer_per_tree_s if costs else None,
            **(planned.describe() if planned is not None else {}),
        }
        return firsts, planned, costs

    def _learn(self, workload: Workload, fitted: list[TaskResult], scored: list[float]) -> None:
        """Remember this workload's costs as this run measured them, for its next run."""
        before = self._costs
        trees = sum(trees_of(r) for r in fitted)
        if not trees or before is None:
            return
        # Per-tree time as the slope of piece time over piece size (the intercept is the fixed
        # cost inside a worker); with pieces of one size, total time less a fit's fixed cost.
        sizes = [float(trees_of(r)) for r in fitted]
        slope = 0.0
        if len(set(sizes)) > 1:
            slope = float(np.polyfit(sizes, [r.seconds for r in fitted], 1)[0])
        work = sum(r.seconds for r in fitted)
        fixed = len(fitted) * (self.fit_overhead_s or 0.0)
        per_tree = slope if slope > 0 else max(work - fixed, work / 2) / trees
        joined = [c.n_estimators for c in workload.configs if forests.supports(c)]
        self._learned[workload_key(workload)] = dataclasses.replace(
            before,
            per_tree_s=per_tree,
            score_per_tree_s=sum(scored) / sum(joined) if scored else before.score_per_tree_s,
        )

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        firsts, schedule, _ = self._prepare(workload)
        return self._run_plan(workload, firsts, schedule, keep_estimators=keep_estimators)

    def _run_plan(
        self,
        workload: Workload,
        firsts: dict[int, TaskResult],
        schedule: Plan | None,
        *,
        keep_estimators: bool,
    ) -> list[TaskResult]:
        if self._backend is None:  # not started yet, or a previous failure stopped it
            PoolStrategy._start(self)
        assert self._backend is not None
        with shared(workload) as ready:
            pieces = list(schedule.pieces) if schedule is not None else []
            per_config = collections.Counter(p.config for p in pieces)
            whole = {i for i, c in enumerate(ready.configs) if not forests.supports(c)}
            jobs: list[Job | ChunkJob] = []
            owners: list[tuple[int, int]] = []  # job index -> (configuration, start tree)

            def whole_job(i: int) -> None:
                """A forest trained and scored in one worker, like sequential's: only its
                accuracy comes back (and the forest, if asked), not every tree."""
                whole.add(i)
                config = ready.configs[i]
                job = Job(len(jobs), config, ready.dataset, ready.seed, inner_threads=None,
                          keep_estimator=keep_estimators)  # fmt: skip
                jobs.append(job)
                owners.append((i, 0))

            # Configurations that cannot be cut first, largest first: they are the long poles;
            # the pieces fill in around them.
            for i in sorted(whole, key=lambda i: -ready.configs[i].n_estimators):
                whole_job(i)
            for piece in pieces:
                config = ready.configs[piece.config]
                if per_config[piece.config] == 1 and piece.trees == config.n_estimators:
                    whole_job(piece.config)
                else:
                    jobs.append(self._chunk_job(len(jobs), ready, piece))
                    owners.append((piece.config, piece.start))
            counts = [0] * len(ready.configs)
            for config_index, _ in owners:
                counts[config_index] += 1
            assemblies = {
                i: Assembly(i, c, counts[i] + (i in firsts))
                for i, c in enumerate(ready.configs)
                if i not in whole
            }
            done: dict[int, TaskResult] = {}

            def finish(config_index: int, result: TaskResult) -> None:
                result.index = config_index
                done[config_index] = self._emit(result)

            for index, first in firsts.items():
                if assemblies[index].add(0, first):  # a one-tree forest: the probe was all
                    finish(index, assemblies.pop(index).result(ready.dataset, keep_estimators))

            fitted: list[TaskResult] = []  # pieces trained on the pool
            scored: list[float] = []  # seconds the parent spent joining and scoring

            def on_piece(record: TaskResult) -> TaskResult:
                config_index, start = owners[record.index]
                if config_index in whole:
                    if record.error is None and forests.supports(record.config):
                        fitted.append(record)
                    cpus = [] if record.cpu is None else [record.cpu]
                    record.extra.update(pieces=1, cpus=cpus, pids=[record.pid])
                    finish(config_index, record)
                    return record
                if record.error is None:
                    fitted.append(record)
                if assemblies[config_index].add(start, record):
                    began = time.perf_counter()
                    result = assemblies.pop(config_index).result(ready.dataset, keep_estimators)
                    scored.append(time.perf_counter() - began)
                    finish(config_index, result)
                return record

            supervisor = Supervisor(
                self.name,
                self._backend,
                keep_going=self.keep_going,
                task_timeout=self.task_timeout,
                emit=on_piece,
            )
            try:
                supervisor.run(jobs, execute_piece)
            except TaskError as exc:
                exc.completed = [done[i] for i in sorted(done)]
                self._backend = None  # the supervisor stopped it; start afresh next time
                raise
            except BaseException:
                self._backend = None
                raise
            self._learn(ready, fitted, scored)
            return [done[i] for i in range(len(ready.configs))]

    @staticmethod
    def _chunk_job(index: int, workload: Workload, piece: Piece) -> ChunkJob:
        return ChunkJob(
            index,
            workload.configs[piece.config],
            workload.dataset,
            workload.seed,
            piece.start,
            piece.stop,
            inner_threads=None,  # capped once per worker (execute_piece)
        )
