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

from mlcpu.errors import InputError
from mlcpu.thresholds import matches

SEED = 0
STRATEGIES: tuple[str, ...] = ("sequential", "joblib", "multiprocessing", "threads", "sklearn")
ESTIMATORS: tuple[int, ...] = (10, 50, 100, 200)
DATASETS: tuple[str, ...] = ("iris", "synthetic")
SYNTHETIC_SIZE = (1_000, 20)  # the suite's quick profile
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
    sizes = ",".join(map(str, ESTIMATORS))
    found: list[Benchmark] = []
    for dataset in datasets:
        for strategy in strategies:
            found.append(
                Benchmark(
                    name=f"test_run[{strategy}-{dataset}]",
                    kind="run",
                    strategy=strategy,
                    dataset=dataset,
                    estimators=ESTIMATORS,
                    group=f"run: {dataset}, {sizes} trees",
                    params={"strategy": strategy, "dataset": dataset},
                    model=model,
                )
            )
    for dataset in datasets:
        for n in ESTIMATORS:
            for strategy in (s for s in TRAIN_STRATEGIES if s in strategies):
                found.append(
                    Benchmark(
                        name=f"test_train[{strategy}-{n}-{dataset}]",
                        kind="train",
                        strategy=strategy,
                        dataset=dataset,
                        estimators=(n,),
                        group=f"train: {dataset}, {n} trees",
                        params={"strategy": strategy, "n_estimators": n, "dataset": dataset},
                        model=model,
                    )
                )
    for mode in STARTUP_MODES:
        for strategy in strategies:
            found.append(
                Benchmark(
                    name=f"test_startup[{mode}-{strategy}]",
                    kind="startup",
                    strategy=strategy,
                    dataset="iris",
                    estimators=(1,),
                    group=f"startup: {mode}",
                    params={"strategy": strategy, "mode": mode},
                    mode=mode,
                )
            )
    return found


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
