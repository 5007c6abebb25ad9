"""``auto``: pick, per workload and machine, the plan expected to be fastest.

The candidates are ``sequential``, ``balanced`` (pieces of trees) and ``incremental`` (one
forest per model, every smaller size its prefix) where configurations differ only in their
number of trees: on the measured workloads (iris, digits, synthetic; see
``docs/measured-facts.md``) tree-level plans over a warm fork pool were never behind joblib,
multiprocessing, threads or scikit-learn's ``n_jobs``, so the question is which tree-level
plan, and whether a pool pays at all. ``balanced``'s probe (the first tree of each model's
largest forest, trained here) gives the per-tree cost; the fixed cost of a unit on the pool was
measured at start-up. From those, every candidate's time is predicted and the fastest runs.

The fork pool starts eagerly (it costs milliseconds), as does a cluster (``auto@dask``). Where
only spawning pools exist it is started on the first workload whose predicted saving exceeds
its start-up cost.
"""

from __future__ import annotations

from typing import Any

from mlcpu.engines.base import Engine
from mlcpu.engines.inprocess import InProcessEngine
from mlcpu.engines.supervised import ForkPoolEngine
from mlcpu.plans.piece_costs import PiecePlanner
from mlcpu.plans.prefixes import DEFAULT_CHUNKS_PER_WORKER, PrefixPlan, plan_sweep, predicted_s
from mlcpu.plans.whole import WholePlan
from mlcpu.records.task import TaskResult
from mlcpu.strategies.balanced import run_pieces
from mlcpu.strategies.base import Strategy
from mlcpu.training import forests
from mlcpu.training.workload import Workload

# The plans auto chooses among, by the name of the strategy that runs each alone.
CANDIDATES = ("sequential", "balanced", "incremental")
# What starting a spawning pool costs (fresh interpreters importing scikit-learn).
SPAWN_STARTUP_S = 2.0
# The pool must be predicted at least this much faster. The prediction leaves out that two
# forests trained at once each run 8-16% slower than alone (docs/measured-facts.md), and on
# millisecond work its error (unmodelled fixed costs on either side) is larger than a smaller
# gain.
REQUIRED_GAIN = 0.25


class AutoStrategy(Strategy):
    name = "auto"
    summary = (
        "chooses for this workload and machine: sequential when no pool pays for its cost, "
        "else incremental where sizes share a forest, or balanced; says which and why"
    )
    uses_processes = True
    supervised = True

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        super().__init__(workers, **options)
        self.planner = PiecePlanner(self.workers)
        self.in_process = InProcessEngine(1, self.policy)
        self._choice: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"candidates": list(CANDIDATES), **self.engine.describe()}

    def result_extra(self) -> dict[str, Any]:
        schedule = {"schedule": dict(self.planner.last)} if self.planner.last else {}
        return {"choice": dict(self._choice), **schedule, **super().result_extra()}

    def _make_engine(self, workers: int) -> Engine:
        return ForkPoolEngine(workers, self.policy)

    def _start(self) -> None:
        self.planner.measure_fit_overhead()
        # A fork pool costs milliseconds and a cluster was asked for: both start now. A
        # spawning pool starts later, if a workload pays for it.
        if getattr(self.engine, "start_method", "fork") == "fork":
            self._start_pool()

    def _start_pool(self) -> None:
        self.engine.start()
        self.planner.measure_piece_overhead(self.engine.call)

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        firsts, schedule, costs = self.planner.prepare(workload)
        overhead = self.planner.fit_overhead_s or 0.0
        sequential_s = pool_s = None
        if costs is not None:
            sequential_s = sum(
                overhead + costs.per_tree_s * c.n_estimators
                for c in workload.configs
                if forests.supports(c)
            )
        pool_start_s = 0.0 if self.engine.started else SPAWN_STARTUP_S
        if schedule is not None and schedule.predicted_s is not None:
            pool_s = schedule.predicted_s + pool_start_s
        prefixes_s = None
        sweep = plan_sweep(workload.configs, self.workers, DEFAULT_CHUNKS_PER_WORKER)
        if costs is not None and sweep.trees_trained < sweep.trees_requested:
            prefixes_s = predicted_s(sweep, self.workers, costs) + pool_start_s
        left = len(schedule.pieces) if schedule is not None else None
        self._decide(workload, sequential_s, pool_s, left, prefixes_s=prefixes_s)
        self._choice["probe_s"] = self.planner.last.get("probe_s")
        chosen = self._choice["strategy"]
        if chosen == "sequential":
            plan = WholePlan(workload, self.emit, keep_estimators=keep_estimators)
            return self.execute(plan, self.in_process)
        if not self.engine.started:
            self._start_pool()
        if chosen == "balanced":
            return run_pieces(self, self.planner, workload, firsts, schedule, keep_estimators)
        with self.engine.prepared(workload) as ready:
            prefixes = PrefixPlan(
                ready, self.emit, keep_estimators=keep_estimators, workers=self.workers
            )
            return self.execute(prefixes, self.engine)

    def _decide(
        self,
        workload: Workload,
        sequential_s: float | None,
        pool_s: float | None,
        pieces: int | None,
        *,
        prefixes_s: float | None = None,
    ) -> bool:
        """Whether to run on the pool; records the choice (which plan) and the reason.

        ``pool_s`` is balanced's predicted time, ``prefixes_s`` incremental's where
        configurations share a forest (None where they do not).
        """
        chosen = "balanced"
        cuttable = all(forests.supports(c) for c in workload.configs)
        if self.workers < 2:
            parallel, reason = False, "one worker: nothing to run in parallel"
        elif cuttable and pieces == 0:
            parallel, reason = False, "the probe tree was all the work"
        elif sequential_s is None or pool_s is None or not cuttable:
            # Custom models cannot be probed safely here; several of them still spread.
            parallel = len(workload.configs) > 1
            reason = (
                "models that cannot be cut into trees: whole configurations largest first "
                "on the pool"
                if parallel
                else "a single configuration that cannot be cut into trees"
            )
        else:
            plans = {"balanced": pool_s}
            if prefixes_s is not None:
                plans["incremental"] = prefixes_s
            chosen = min(plans, key=lambda name: plans[name])
            best = plans[chosen]
            parallel = best < sequential_s * (1 - REQUIRED_GAIN)
            verdict = (
                "the pool pays"
                if parallel
                else f"the pool does not pay by the {REQUIRED_GAIN:.0%} it must to be trusted"
            )
            others = "".join(f", {plans[n]:.3g} s {n}" for n in plans if n != chosen)
            reason = (
                f"predicted {best:.3g} s {chosen} on {self.workers} workers vs "
                f"{sequential_s:.3g} s sequential{others}: {verdict}"
            )
        chosen = chosen if parallel else "sequential"
        self._choice = {
            "strategy": chosen,
            "reason": f"chose {chosen}: {reason}",
            "predicted_s": {
                "sequential": sequential_s,
                "balanced": pool_s,
                "incremental": prefixes_s,
            },
        }
        return parallel
