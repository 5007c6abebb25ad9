"""``auto``: pick, per workload and machine, the plan expected to be fastest.

The candidates are ``sequential``, ``balanced`` (pieces of trees) and ``incremental`` (one
forest per model, every smaller size its prefix) where configurations differ only in their
number of trees: on the measured workloads (iris, digits, synthetic; see
``docs/measured-facts.md``) tree-level plans over a warm fork pool were never behind joblib,
multiprocessing, threads or scikit-learn's ``n_jobs``, so the question is which tree-level
plan, and whether a pool pays at all. ``balanced``'s probe (the first tree of each model's
largest forest, trained here) gives the per-tree cost; the fixed cost of a unit on the pool was
measured at start-up. From those, every candidate's time is predicted and the fastest runs.

A cold pool's start-up is part of the prediction: for one run (``mlcpu run`` without
``--repeat``) the fork pool starts only if the workload pays for it, and where sizes share a
forest the prefixes can also run here, with no pool at all (fewer trees, one core). When the
caller will run more than once (``expected_runs``) the fork pool starts with the strategy, as
a cluster (``auto@dask``) always does; a spawning pool starts on the first workload whose
predicted saving exceeds its start-up shared among the runs. A caller that runs again without
saying so (a loop, a benchmark) is charged no start-up from its second run on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mlcpu.engines.inprocess import InProcessEngine
from mlcpu.plans.piece_costs import PiecePlanner
from mlcpu.plans.prefixes import DEFAULT_CHUNKS_PER_WORKER, PrefixPlan, plan_sweep, predicted_s
from mlcpu.plans.whole import WholePlan
from mlcpu.records.task import TaskResult
from mlcpu.strategies.balanced import ForkPoolStrategy, run_pieces
from mlcpu.training import forests
from mlcpu.training.workload import Workload

# The plans auto chooses among, by the name of the strategy that runs each alone.
CANDIDATES = ("sequential", "balanced", "incremental")
# What starting a pool and measuring its round trip costs: fork (scikit-learn already
# imported) and spawn (fresh interpreters importing it); docs/measured-facts.md.
FORK_STARTUP_S = 0.12
SPAWN_STARTUP_S = 2.0
# An empty round trip through a warm fork pool, assumed until the pool is there to measure.
FORK_TRIP_S = 0.0003
# The label of prefixes trained here, one forest after another, in ``predicted_s``.
HERE = "incremental_in_process"
# Here, each model's largest forest is one chunk: one fit, one fixed cost per model.
HERE_WORKERS = HERE_CHUNKS = 1
# The pool must be predicted at least this much faster. The prediction leaves out that two
# forests trained at once each run 8-16% slower than alone (docs/measured-facts.md), and on
# millisecond work its error (unmodelled fixed costs on either side) is larger than a smaller
# gain.
REQUIRED_GAIN = 0.25


class AutoStrategy(ForkPoolStrategy):
    name = "auto"
    summary = (
        "chooses for this workload and machine: sequential when no pool pays for its cost, "
        "else incremental where sizes share a forest, or balanced; says which and why"
    )

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        super().__init__(workers, **options)
        self.planner = PiecePlanner(self.workers)
        self.in_process = InProcessEngine(1, self.policy)
        self._choice: dict[str, Any] = {}
        self._runs = 0  # runs so far, this one included

    def describe(self) -> dict[str, Any]:
        return {"candidates": list(CANDIDATES), **self.engine.describe()}

    def result_extra(self) -> dict[str, Any]:
        schedule = {"schedule": dict(self.planner.last)} if self.planner.last else {}
        return {"choice": dict(self._choice), **schedule, **super().result_extra()}

    @property
    def _start_method(self) -> str | None:
        """The pool's start method; None for a cluster (``auto@dask``)."""
        return getattr(self.engine, "start_method", None)

    def _start(self) -> None:
        self.planner.measure_fit_overhead()
        method = self._start_method
        # A cluster was asked for, and a fork pool that several runs share costs each little:
        # both start now. Otherwise the pool starts if a workload pays for it.
        if method is None or (method == "fork" and self.expected_runs > 1):
            self._start_pool()
        else:  # plan with an assumed round trip until the pool is there to measure it
            self.planner.per_piece_s = (self.planner.fit_overhead_s or 0.0) + FORK_TRIP_S

    def _cold_start_s(self) -> float:
        """What starting the pool would add to each run: its start-up shared among the runs
        the caller said it will make, and nothing once the caller runs again (a loop or a
        benchmark, whose later runs the pool then serves warm)."""
        if self.engine.started or self._runs > 1:
            return 0.0
        startup_s = FORK_STARTUP_S if self._start_method == "fork" else SPAWN_STARTUP_S
        return startup_s / self.expected_runs

    def _start_pool(self) -> None:
        self.engine.start()
        self.planner.measure_piece_overhead(self.engine.call)

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        self._runs += 1
        firsts, schedule, costs = self.planner.prepare(workload)
        overhead = self.planner.fit_overhead_s or 0.0
        sequential_s = pool_s = None
        if costs is not None:
            sequential_s = sum(
                overhead + costs.per_tree_s * c.n_estimators
                for c in workload.configs
                if forests.supports(c)
            )
        cold_s = self._cold_start_s()
        if schedule is not None and schedule.predicted_s is not None:
            pool_s = schedule.predicted_s + cold_s
        prefixes_s = here_s = None
        sweep = plan_sweep(workload.configs, self.workers, DEFAULT_CHUNKS_PER_WORKER)
        if costs is not None and sweep.trees_trained < sweep.trees_requested:
            prefixes_s = predicted_s(sweep, self.workers, costs) + cold_s
            here = dataclasses.replace(costs, per_piece_s=overhead)
            here_sweep = plan_sweep(workload.configs, HERE_WORKERS, HERE_CHUNKS)
            here_s = predicted_s(here_sweep, HERE_WORKERS, here)
        left = len(schedule.pieces) if schedule is not None else None
        self._decide(workload, sequential_s, pool_s, left, prefixes_s=prefixes_s, here_s=here_s)
        self._choice["probe_s"] = self.planner.last.get("probe_s")
        self._choice["pool_start_s"] = cold_s
        chosen = self._choice["strategy"]
        if chosen == "sequential":
            whole = WholePlan(workload, self.emit, keep_estimators=keep_estimators)
            return self.execute(whole, self.in_process)
        if self._choice["engine"] == "in process":
            plan = PrefixPlan(
                workload,
                self.emit,
                keep_estimators=keep_estimators,
                workers=HERE_WORKERS,
                chunks_per_worker=HERE_CHUNKS,
            )
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
        here_s: float | None = None,
    ) -> bool:
        """Whether to run other than sequentially; records the choice (which plan, where)
        and the reason.

        ``pool_s`` is balanced's predicted time, ``prefixes_s`` incremental's where
        configurations share a forest (None where they do not), ``here_s`` the same prefixes
        trained in this process.
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
            if here_s is not None:
                plans[HERE] = here_s
            chosen = min(plans, key=lambda name: plans[name])
            best = plans[chosen]
            parallel = best < sequential_s * (1 - REQUIRED_GAIN)
            if parallel:
                verdict = "fewer trees pay" if chosen == HERE else "the pool pays"
            else:
                verdict = f"no plan pays by the {REQUIRED_GAIN:.0%} it must to be trusted"
            others = "".join(f", {plans[n]:.3g} s {self._where(n)}" for n in plans if n != chosen)
            reason = (
                f"predicted {best:.3g} s {self._where(chosen)} vs "
                f"{sequential_s:.3g} s sequential{others}: {verdict}"
            )
        here = parallel and chosen == HERE
        chosen = ("incremental" if here else chosen) if parallel else "sequential"
        self._choice = {
            "strategy": chosen,
            "engine": "in process" if here or chosen == "sequential" else "pool",
            "reason": f"chose {chosen}: {reason}",
            "predicted_s": {
                "sequential": sequential_s,
                "balanced": pool_s,
                "incremental": prefixes_s,
                HERE: here_s,
            },
        }
        return parallel

    def _where(self, plan: str) -> str:
        if plan == HERE:
            return "incremental in this process"
        return f"{plan} on {self.workers} workers"
