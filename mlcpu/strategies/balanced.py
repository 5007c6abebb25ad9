"""``balanced``: schedule trees, not configurations, over a warm fork pool.

Every forest is cut into pieces sized from measured costs (``mlcpu.plans.piece_costs``), all
pieces go to one pool largest-first, and each configuration's pieces are joined back into one
forest identical to ``sequential``'s (``mlcpu.plans.pieces``).

The pool is a ``multiprocessing.Pool`` started with ``fork`` where available: workers start in
milliseconds with scikit-learn already imported (a spawning pool pays ~1.4 s per worker to
import it); ``spawn`` elsewhere.
"""

from __future__ import annotations

from typing import Any

from mlcpu.engines.base import Engine
from mlcpu.engines.supervised import ForkPoolEngine
from mlcpu.plans.piece_costs import PiecePlanner
from mlcpu.plans.pieces import PiecesPlan
from mlcpu.plans.schedule import Schedule
from mlcpu.records.task import TaskResult
from mlcpu.strategies.base import Strategy
from mlcpu.training.workload import Workload


class ForkPoolStrategy(Strategy):
    """A tree-level plan (``balanced``, ``incremental``, ``auto``) on a supervised fork pool."""

    uses_processes = True
    supervised = True

    def _make_engine(self, workers: int) -> Engine:
        return ForkPoolEngine(workers, self.policy)


class BalancedStrategy(ForkPoolStrategy):
    name = "balanced"
    summary = (
        "trees, not configurations: every forest cut into pieces sized to the work, all "
        "pieces largest-first over a warm fork pool, joined back into identical forests"
    )

    def __init__(
        self, workers: int | None = None, *, piece_size: int | None = None, **options: Any
    ) -> None:
        super().__init__(workers, **options)
        self.planner = PiecePlanner(self.workers, piece_size)

    @property
    def piece_size(self) -> int | None:
        return self.planner.piece_size

    def describe(self) -> dict[str, Any]:
        return {**self.engine.describe(), "piece_size": self.piece_size or "planned"}

    def result_extra(self) -> dict[str, Any]:
        return {"schedule": dict(self.planner.last)} if self.planner.last else {}

    def _start(self) -> None:
        self.engine.start()
        self.planner.measure_fit_overhead()
        self.planner.measure_piece_overhead(self.engine.call)

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        firsts, schedule, _ = self.planner.prepare(workload)
        return run_pieces(self, self.planner, workload, firsts, schedule, keep_estimators)


def run_pieces(
    strategy: Strategy,
    planner: PiecePlanner,
    workload: Workload,
    firsts: dict[int, TaskResult],
    schedule: Schedule | None,
    keep_estimators: bool,
) -> list[TaskResult]:
    """Run a schedule's pieces on the strategy's engine; the planner learns what they cost."""
    with strategy.engine.prepared(workload) as ready:
        plan = PiecesPlan(
            ready, strategy.emit, keep_estimators=keep_estimators, schedule=schedule, firsts=firsts
        )
        results = strategy.execute(plan, strategy.engine)
    planner.learn(plan)
    return results
