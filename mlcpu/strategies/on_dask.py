"""``dask``: whole configurations on Dask distributed, the way a Dask user would send them.

The engine (``mlcpu.engines.dask_cluster``) is an embedded ``LocalCluster`` by default, or an
existing cluster given with ``--scheduler`` / ``$MLCPU_DASK_SCHEDULER``. Importing this module
without the ``dask`` extra raises ``MissingExtraError``, which the registry reports.
"""

from __future__ import annotations

from typing import Any

from mlcpu.engines.base import Engine
from mlcpu.engines.dask_cluster import DaskEngine
from mlcpu.plans.base import Plan
from mlcpu.plans.whole import WholePlan
from mlcpu.strategies.base import Strategy
from mlcpu.training.workload import Workload


class DaskStrategy(Strategy):
    name = "dask"
    summary = (
        "Dask distributed: an embedded LocalCluster of single-threaded worker processes, or "
        "an existing cluster with --scheduler; the dataset is scattered to the workers once"
    )
    uses_processes = True

    def __init__(
        self, workers: int | None = None, *, scheduler: str | None = None, **options: Any
    ) -> None:
        self._scheduler = scheduler
        super().__init__(workers, **options)

    @property
    def scheduler(self) -> str | None:
        return self.dask.scheduler

    @property
    def embedded(self) -> bool:
        return self.dask.embedded

    @property
    def dask(self) -> DaskEngine:
        assert isinstance(self.engine, DaskEngine)
        return self.engine

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the running cluster."""
        return self.dask.client

    @property
    def label(self) -> str:
        return self.name if self.embedded else f"{self.name} ({self.scheduler})"

    def result_extra(self) -> dict[str, Any]:
        return {"scatter_s": self.dask.scatter_s}

    def _make_engine(self, workers: int) -> Engine:
        return DaskEngine(workers, self.policy, self._scheduler)

    def _make_plan(self, workload: Workload, *, keep_estimators: bool) -> Plan:
        return WholePlan(workload, self.emit, keep_estimators=keep_estimators, largest_first=True)
