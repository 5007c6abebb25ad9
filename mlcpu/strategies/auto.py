"""``auto``: pick, per workload and machine, the strategy expected to be fastest.

The candidates are ``sequential`` and ``balanced``: on the measured workloads (iris, digits,
synthetic; see ``docs/measured-facts.md``) tree-level pieces over a warm fork pool are never behind
joblib, multiprocessing, threads or scikit-learn's ``n_jobs``, so the real question is only
whether a pool pays at all. ``balanced``'s own probe (the first tree of the largest forest,
trained here and kept) gives the per-tree cost; the fixed cost of a piece on the pool was
measured at start-up. From those, both times are predicted and the smaller one runs.

The fork pool starts eagerly (it costs milliseconds). Where only spawning pools exist it is
started on the first workload whose predicted saving exceeds its start-up cost.
"""

from __future__ import annotations

from typing import Any

from mlcpu.engines.base import Engine
from mlcpu.engines.inprocess import InProcessEngine
from mlcpu.engines.supervised import ForkPoolEngine
from mlcpu.plans.piece_costs import PiecePlanner
from mlcpu.plans.whole import WholePlan
from mlcpu.records.task import TaskResult
from mlcpu.strategies.balanced import run_pieces
from mlcpu.strategies.base import Strategy
from mlcpu.training import forests
from mlcpu.training.workload import Workload

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
        "else balanced (trees over a warm fork pool); says which and why"
    )
    uses_processes = True
    supervised = True

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        super().__init__(workers, **options)
        self.planner = PiecePlanner(self.workers)
        self.in_process = InProcessEngine(1, self.policy)
        self._choice: dict[str, Any] = {}

    @property
    def start_method(self) -> str:
        return self.engine.start_method  # type: ignore[attr-defined, no-any-return]

    def describe(self) -> dict[str, Any]:
        return {"candidates": ["sequential", "balanced"], "start_method": self.start_method}

    def result_extra(self) -> dict[str, Any]:
        schedule = {"schedule": dict(self.planner.last)} if self.planner.last else {}
        return {"choice": dict(self._choice), **schedule}

    def _make_engine(self, workers: int) -> Engine:
        return ForkPoolEngine(workers, self.policy)

    def _start(self) -> None:
        self.planner.measure_fit_overhead()
        if self.start_method == "fork":
            self._start_pool()
        # else the pool starts later, if a workload pays for it

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
        if schedule is not None and schedule.predicted_s is not None:
            pool_s = schedule.predicted_s
            if not self.engine.started:
                pool_s += SPAWN_STARTUP_S
        left = len(schedule.pieces) if schedule is not None else None
        parallel = self._decide(workload, sequential_s, pool_s, left)
        self._choice["probe_s"] = self.planner.last.get("probe_s")
        if not parallel:
            plan = WholePlan(workload, self.emit, keep_estimators=keep_estimators)
            return self.execute(plan, self.in_process)
        if not self.engine.started:
            self._start_pool()
        return run_pieces(self, self.planner, workload, firsts, schedule, keep_estimators)

    def _decide(
        self,
        workload: Workload,
        sequential_s: float | None,
        pool_s: float | None,
        pieces: int | None,
    ) -> bool:
        """Whether to run on the pool; records the choice and the reason."""
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
            parallel = pool_s < sequential_s * (1 - REQUIRED_GAIN)
            verdict = (
                "the pool pays"
                if parallel
                else f"the pool does not pay by the {REQUIRED_GAIN:.0%} it must to be trusted"
            )
            reason = (
                f"predicted {pool_s:.3g} s on {self.workers} workers vs {sequential_s:.3g} s "
                f"sequential: {verdict}"
            )
        chosen = "balanced" if parallel else "sequential"
        self._choice = {
            "strategy": chosen,
            "reason": f"chose {chosen}: {reason}",
            "predicted_s": {"sequential": sequential_s, "balanced": pool_s},
        }
        return parallel
