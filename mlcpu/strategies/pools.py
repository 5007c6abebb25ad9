"""Strategies that hand whole configurations to a pool of workers: the tutorial's parallel cases."""

from __future__ import annotations

from typing import Any

from mlcpu.engines.base import Engine
from mlcpu.engines.supervised import (
    DEFAULT_START_METHOD,
    START_METHODS,
    ForkPoolEngine,
    LokyEngine,
    ThreadEngine,
    check_start_method,
    shared,
)
from mlcpu.strategies.base import Strategy

__all__ = [
    "DEFAULT_START_METHOD",
    "START_METHODS",
    "JoblibStrategy",
    "MultiprocessingStrategy",
    "ThreadsStrategy",
    "shared",
]


class JoblibStrategy(Strategy):
    name = "joblib"
    summary = (
        "joblib's loky worker processes (what Parallel(n_jobs=N) runs on), kept warm; "
        "robust, but each worker pays a fresh interpreter and imports once"
    )
    uses_processes = True
    supervised = True

    def _make_engine(self, workers: int) -> Engine:
        return LokyEngine(workers, self.policy)


class MultiprocessingStrategy(Strategy):
    name = "multiprocessing"
    summary = (
        "a multiprocessing.Pool of worker processes; with fork (Linux default) it starts in "
        "milliseconds and inherits everything already imported"
    )
    uses_processes = True
    supervised = True

    def __init__(
        self, workers: int | None = None, *, start_method: str | None = None, **options: Any
    ) -> None:
        self.start_method = check_start_method(start_method)
        super().__init__(workers, **options)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.start_method})"

    def _make_engine(self, workers: int) -> Engine:
        return ForkPoolEngine(workers, self.policy, self.start_method)


class ThreadsStrategy(Strategy):
    name = "threads"
    summary = (
        "a pool of threads in this process: no start-up cost or data copies, but only the "
        "parts of training that release the GIL run in parallel"
    )
    supervised = True

    def _make_engine(self, workers: int) -> Engine:
        return ThreadEngine(workers, self.policy)
