"""Strategies that train in the calling thread: the baseline, and scikit-learn's own n_jobs."""

from __future__ import annotations

from mlcpu.engines.base import Engine
from mlcpu.engines.inprocess import InProcessEngine
from mlcpu.plans.base import Plan
from mlcpu.plans.whole import WholePlan
from mlcpu.strategies.base import Strategy
from mlcpu.training.workload import Workload


class SequentialStrategy(Strategy):
    name = "sequential"
    summary = "one configuration after another on one core: the baseline every speedup is against"
    parallel = False

    def _make_engine(self, workers: int) -> Engine:
        return InProcessEngine(workers, self.policy)


class SklearnStrategy(Strategy):
    name = "sklearn"
    summary = (
        "configurations one after another, each forest building its trees on every worker "
        "with scikit-learn's own n_jobs (threads)"
    )

    def _make_engine(self, workers: int) -> Engine:
        return InProcessEngine(workers, self.policy)

    def _make_plan(self, workload: Workload, *, keep_estimators: bool) -> Plan:
        return WholePlan(workload, self.emit, keep_estimators=keep_estimators, n_jobs=self.workers)
