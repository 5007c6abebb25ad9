"""What the gate measures: the benchmark suite's families, named as the suite names them.

``test_run[joblib-iris]`` is a whole run of every configuration (10, 50, 100, 200 trees) on a
warm pool, ``test_train[sequential-100-synthetic]`` one configuration, ``test_startup[cold-joblib]``
a new pool plus its first one-tree result. Sizes are the suite's quick profile (synthetic
1000 x 20), so a gate's saved files line up with ``pytest benchmarks`` and ``mlcpu compare``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcpu.comparing.thresholds import matches
from mlcpu.errors import InputError

SEED = 0
STRATEGIES: tuple[str, ...] = ("sequential", "joblib", "multiprocessing", "threads", "sklearn")
ESTIMATORS: tuple[int, ...] = (10, 50, 100, 200)
DATASETS: tuple[str, ...] = ("iris", "synthetic")
SYNTHETIC_SIZE = (1_000, 20)  # the suite's quick profile (benchmarks/common.py uses this)
# Per task: the reference strategy only; the other strategies' per-task cost is in their runs.
TRAIN_STRATEGIES: tuple[str, ...] = ("sequential",)
STARTUP_MODES: tuple[str, ...] = ("cold", "warm")
FAMILIES: tuple[str, ...] = ("run", "train", "startup")


@dataclass(frozen=True)
class Benchmark:
    """One benchmark both sides run: the spec sent to them, plus how it is grouped."""

    name: str
    kind: str
    strategy: str
    dataset: str
    estimators: tuple[int, ...]
    group: str
    params: dict[str, Any] = field(default_factory=dict)  # pytest-benchmark's params
    model: str = "random_forest"
    mode: str | None = None
    source: str | None = None  # a pytest suite's own fullname

    def spec(self) -> dict[str, Any]:
        """The request a side prepares (plain JSON)."""
        synthetic = self.dataset == "synthetic"
        return {
            "name": self.name,
            "kind": self.kind,
            "strategy": self.strategy,
            "dataset": self.dataset,
            "n_samples": SYNTHETIC_SIZE[0] if synthetic else None,
            "n_features": SYNTHETIC_SIZE[1] if synthetic else None,
            "estimators": list(self.estimators),
            "model": self.model,
            "mode": self.mode,
            "seed": SEED,
        }

    @property
    def fullname(self) -> str:
        return self.source or f"benchmarks/test_{self.kind}.py::{self.name}"


def catalogue(
    strategies: Sequence[str] = STRATEGIES,
    datasets: Sequence[str] = DATASETS,
    model: str = "random_forest",
) -> list[Benchmark]:
    """Every benchmark of the three families for these strategies and datasets."""
    found = [
        _benchmark("run", {"strategy": s, "dataset": d}, ESTIMATORS, model)
        for d in datasets
        for s in strategies
    ]
    found += [
        _benchmark("train", {"strategy": s, "n_estimators": n, "dataset": d}, (n,), model)
        for d in datasets
        for n in ESTIMATORS
        for s in TRAIN_STRATEGIES
        if s in strategies
    ]
    found += [
        _benchmark("startup", {"mode": m, "strategy": s}, (1,))
        for m in STARTUP_MODES
        for s in strategies
    ]
    return found


def _benchmark(
    kind: str, params: dict[str, Any], estimators: tuple[int, ...], model: str = "random_forest"
) -> Benchmark:
    """Named as pytest names the suite's test: ``test_KIND[param-param-...]`` in param order;
    grouped by family and dataset (start-up: by mode)."""
    dataset, trees = params.get("dataset", "iris"), ",".join(map(str, estimators))
    group = (
        f"{kind}: {dataset}, {trees} trees" if kind != "startup" else f"startup: {params['mode']}"
    )
    return Benchmark(
        name=f"test_{kind}[{'-'.join(str(v) for v in params.values())}]",
        kind=kind,
        strategy=params["strategy"],
        dataset=dataset,
        estimators=estimators,
        group=group,
        params=params,
        model=model,
        mode=params.get("mode"),
    )


def select(benchmarks: Sequence[Benchmark], patterns: Sequence[str]) -> list[Benchmark]:
    """Those matching any pattern (``mlcpu compare``'s rule syntax: ``run``, ``iris``,
    ``test_run[*-iris]``); all of them when no pattern is given."""
    if not patterns:
        return list(benchmarks)
    chosen = [b for b in benchmarks if any(matches(p, b.name) for p in patterns)]
    if not chosen:
        raise InputError(
            f"--only {','.join(patterns)!r} matches no benchmark; names look like "
            f"{benchmarks[0].name!r} (families: {', '.join(FAMILIES)})"
        )
    return chosen
