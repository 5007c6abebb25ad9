"""Strategies on Dask: ``dask`` (whole configurations) and ``NAME@dask`` (our plans on Dask).

``dask`` sends whole configurations, largest first: what a Dask user does without mlcpu.
``balanced@dask``, ``incremental@dask`` and ``auto@dask`` are those strategies with their own
plans, unchanged, on the Dask engine instead of a fork pool (``on_dask``): the same units, so
the same forests and accuracies. The engine (``mlcpu.engines.dask_cluster``) is an embedded
``LocalCluster`` by default, or an existing cluster given with ``--scheduler`` /
``$MLCPU_DASK_SCHEDULER``. Importing this module without the ``dask`` extra raises
``MissingExtraError``, which the registry reports.
"""

from __future__ import annotations

from typing import Any

from mlcpu.engines.base import Engine
from mlcpu.engines.dask_cluster import DaskEngine
from mlcpu.plans.base import Plan
from mlcpu.plans.whole import WholePlan
from mlcpu.strategies.base import Strategy
from mlcpu.training.workload import Workload

ON_DASK = (
    "on Dask: an embedded LocalCluster of single-threaded worker processes, or an existing "
    "cluster with --scheduler; the dataset is scattered to the workers once"
)


class OnDask:
    """Mixin that moves a strategy onto the Dask engine; its plan stays what it was."""

    uses_processes = True
    supervised = False  # Dask's scheduler watches the workers; mlcpu reads what it reports

    def __init__(
        self, workers: int | None = None, *, scheduler: str | None = None, **options: Any
    ) -> None:
        self._scheduler = scheduler
        super().__init__(workers, **options)  # type: ignore[call-arg]

    @property
    def dask(self) -> DaskEngine:
        engine = self.engine  # type: ignore[attr-defined]
        assert isinstance(engine, DaskEngine)
        return engine

    @property
    def scheduler(self) -> str | None:
        return self.dask.scheduler

    @property
    def embedded(self) -> bool:
        return self.dask.embedded

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the running cluster."""
        return self.dask.client

    @property
    def label(self) -> str:
        name: str = self.name  # type: ignore[attr-defined]
        return name if self.embedded else f"{name} ({self.scheduler})"

    def result_extra(self) -> dict[str, Any]:
        return {**super().result_extra(), "scatter_s": self.dask.scatter_s}  # type: ignore[misc]

    def _make_engine(self, workers: int) -> Engine:
        return DaskEngine(workers, self.policy, self._scheduler)  # type: ignore[attr-defined]


class DaskStrategy(OnDask, Strategy):
    name = "dask"
    summary = f"whole configurations, largest first, {ON_DASK}"

    def _make_plan(self, workload: Workload, *, keep_estimators: bool) -> Plan:
        return WholePlan(workload, self.emit, keep_estimators=keep_estimators, largest_first=True)


def on_dask(base: type[Strategy]) -> type[Strategy]:
    """``base`` with its plan on the Dask engine, named ``<base>@dask``."""
    return type(
        f"{base.__name__.removesuffix('Strategy')}OnDaskStrategy",
        (OnDask, base),
        {
            "__module__": __name__,
            "__doc__": f"``{base.name}``'s plan on the Dask engine.",
            "name": f"{base.name}@dask",
            "summary": f"{base.name}'s plan {ON_DASK}",
        },
    )
