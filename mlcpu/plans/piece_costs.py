"""How ``balanced`` and ``auto`` decide the pieces: measure the costs, plan, learn from the run.

Measuring before planning: the first tree of each model's largest forest is trained here (on
tiny data the second too; both kept as that forest's first piece) and scored, which tells the
per-tree costs of this workload; the fixed cost of one piece on the engine is measured once, at
start-up. A workload run before is planned from what its last run measured instead, with no
probe.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mlcpu.errors import InputError
from mlcpu.plans.pieces import PiecesPlan, no_work, tiny_fit, trees_of, workload_key
from mlcpu.plans.schedule import Costs, Piece, Schedule, cut, order, plan
from mlcpu.records.task import TaskResult
from mlcpu.training import forests
from mlcpu.training.fit import current_cpu
from mlcpu.training.workload import Workload

# Round trips timed at start-up to learn the fixed cost of one piece on the engine.
OVERHEAD_SAMPLES = 5
# A probe fit shorter than this is mostly first-touch costs (the process's first fit on these
# data): on iris one tree took 3.7-20 ms where a 200-tree forest takes 0.70 ms a tree. Such a
# probe also times the forest's second tree alone, and the faster of the two is the tree's cost.
FIRST_TOUCH_S = 0.05


def check_piece_size(piece_size: int | None) -> int | None:
    if piece_size is not None and (
        isinstance(piece_size, bool) or not isinstance(piece_size, int) or piece_size < 1
    ):
        raise InputError(f"piece size must be a positive integer or None, got {piece_size!r}")
    return piece_size


class PiecePlanner:
    """The costs one strategy has measured, and the schedules it makes from them."""

    def __init__(self, workers: int, piece_size: int | None = None) -> None:
        self.workers = workers
        #: trees per piece; None plans it from measured costs
        self.piece_size = check_piece_size(piece_size)
        self.per_piece_s: float | None = None  # fixed cost of one piece on the engine
        self.fit_overhead_s: float | None = None  # fixed cost of one fit in this process
        self.learned: dict[str, Costs] = {}  # workload -> costs its last run measured
        self.costs: Costs | None = None  # what the current run was planned with
        self.last: dict[str, Any] = {}  # the current run's schedule, for its JSON record

    def measure_fit_overhead(self) -> None:
        """Time a trivial fit here: the fixed part of any fit, outside the trees."""
        self.fit_overhead_s = min(tiny_fit() for _ in range(3))

    def measure_piece_overhead(self, call: Callable[[Callable[[], float]], Any]) -> None:
        """The fixed cost of one piece: an empty round trip through the warm engine, timed,
        plus the fixed cost of a fit measured here (a worker's warm fit costs what ours
        does). Round trips of a fit would say the same and cost a cold start-up their fits."""
        trips = []
        for _ in range(OVERHEAD_SAMPLES):
            began = time.perf_counter()
            call(no_work)
            trips.append(time.perf_counter() - began)
        self.per_piece_s = statistics.median(trips) + (self.fit_overhead_s or 0.0)

    def costs_for(self, workload: Workload) -> Costs:
        """This workload's costs as the probe measures them (a custom model: refused)."""
        _, costs, _ = self._probe(workload)
        if costs is None:
            raise InputError("no configuration of this workload can be cut into trees to probe")
        return costs

    def prepare(
        self, workload: Workload
    ) -> tuple[dict[int, TaskResult], Schedule | None, Costs | None]:
        """Probe and plan (or cut at the fixed piece size); the schedule goes into the results."""
        if self.piece_size is not None:
            schedule = self._fixed(workload, self.piece_size)
            self.last = schedule.describe()
            return {}, schedule, None
        learned = self.learned.get(workload_key(workload))
        if learned is not None:
            firsts: dict[int, TaskResult] = {}
            costs: Costs | None = learned
            probe_s, source = 0.0, "measured in the previous run"
        else:
            firsts, costs, probe_s = self._probe(workload)
            source = "probe"
            if costs is not None:  # a later run plans from these, or from what a pieces run learns
                self.learned[workload_key(workload)] = costs
        planned = self._plan(workload, firsts, costs) if costs is not None else None
        self.costs = costs
        self.last = {
            "costs_from": source,
            "probe_s": probe_s,
            "per_tree_s": costs.per_tree_s if costs else None,
            "per_piece_s": self.per_piece_s,
            "score_per_tree_s": costs.score_per_tree_s if costs else None,
            "transfer_per_tree_s": costs.transfer_per_tree_s if costs else None,
            **(planned.describe() if planned is not None else {}),
        }
        return firsts, planned, costs

    def learn(self, run: PiecesPlan) -> None:
        """Remember this workload's costs as the run measured them, for its next run."""
        before, fitted, workload = self.costs, run.fitted, run.workload
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
        scored = run.scored
        self.learned[workload_key(workload)] = dataclasses.replace(
            before,
            per_tree_s=per_tree,
            score_per_tree_s=sum(scored) / sum(joined) if scored else before.score_per_tree_s,
        )

    def _probe(self, workload: Workload) -> tuple[dict[int, TaskResult], Costs | None, float]:
        """Train the first tree of each cuttable model's largest forest here, timed (and the
        second tree too where the first was mostly first-touch costs; ``FIRST_TOUCH_S``).

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
            ended = fitted = time.perf_counter()
            tree_s = ended - started
            if config.n_estimators > 1 and tree_s < FIRST_TOUCH_S:
                second = forests.fit_trees(config, workload.dataset, workload.seed, 1, 2)
                fitted = time.perf_counter()
                piece, tree_s = forests.join([piece, second]), min(tree_s, fitted - ended)
            trees = len(piece.estimators_)
            piece.predict(workload.dataset.X_test)  # what scoring costs, per tree
            scored = time.perf_counter()
            pickle.loads(pickle.dumps(piece.estimators_[0]))  # sending a tree back, both sides
            transfer.append((time.perf_counter() - scored) / 2)
            scoring.append((scored - fitted) / trees)
            # A one-tree fit is mostly fixed cost on tiny data; never let noise in the
            # subtraction claim trees are free.
            per_tree.append(max(tree_s - overhead, tree_s / 3))
            firsts[index] = TaskResult(
                index=index,
                config=config,
                accuracy=None,
                seconds=fitted - started,
                cpu=current_cpu(),
                pid=os.getpid(),
                started=started,
                ended=fitted,
                extra={"trees": [0, trees]},
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

    def _plan(self, workload: Workload, firsts: dict[int, TaskResult], costs: Costs) -> Schedule:
        starts = {i: trees_of(first) for i, first in firsts.items()}
        ranges = [  # (0, 0): cannot be cut, run whole and handled apart
            (starts.get(i, 0), c.n_estimators) if forests.supports(c) else (0, 0)
            for i, c in enumerate(workload.configs)
        ]
        totals = [c.n_estimators for c in workload.configs]
        if all(stop <= start for start, stop in ranges):
            return Schedule((), 0, "none", 0.0)
        return plan(ranges, totals, self.workers, costs)

    @staticmethod
    def _fixed(workload: Workload, size: int) -> Schedule:
        pieces = [
            Piece(index, start, stop)
            for index, config in enumerate(workload.configs)
            if forests.supports(config)
            for start, stop in cut(0, config.n_estimators, size, "fixed")
        ]
        totals = [c.n_estimators for c in workload.configs]
        return Schedule(tuple(order(pieces, totals)), size, "fixed", None)
