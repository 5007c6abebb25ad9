"""``incremental``: each forest trained once, tree-parallel on a warm fork pool; every smaller
size of the same model is served as its first trees (``mlcpu.plans.prefixes``)."""

from __future__ import annotations

from typing import Any

from mlcpu.errors import InputError
from mlcpu.plans.base import Plan
from mlcpu.plans.prefixes import DEFAULT_CHUNKS_PER_WORKER, PrefixPlan
from mlcpu.strategies.balanced import ForkPoolStrategy
from mlcpu.training.workload import Workload


class IncrementalStrategy(ForkPoolStrategy):
    name = "incremental"
    summary = (
        "trains each forest once, tree-parallel on a warm fork pool, and serves every smaller "
        "size of the same model as its first trees: identical results, fewer trees"
    )

    def __init__(
        self,
        workers: int | None = None,
        *,
        chunks_per_worker: int = DEFAULT_CHUNKS_PER_WORKER,
        **options: Any,
    ) -> None:
        n = chunks_per_worker
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"chunks_per_worker must be a positive integer, got {n!r}")
        self.chunks_per_worker = n
        super().__init__(workers, **options)

    def describe(self) -> dict[str, Any]:
        return {**self.engine.describe(), "chunks_per_worker": self.chunks_per_worker}

    def _make_plan(self, workload: Workload, *, keep_estimators: bool) -> Plan:
        return PrefixPlan(
            workload,
            self.emit,
            keep_estimators=keep_estimators,
            workers=self.workers,
            chunks_per_worker=self.chunks_per_worker,
        )
