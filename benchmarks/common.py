"""Seeded, cached factories and measuring helpers shared by the benchmark files.

Like scikit-learn's ``asv_benchmarks/benchmarks/common.py``: each ``test_*.py`` only declares its
parameters and calls one function here. Datasets and warm pools come from session fixtures in the
top-level ``conftest.py`` (built once, outside every timed region); what is timed is exactly one
``Strategy.run`` call, or, for a cold start, creating the pool plus its first result.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlcpu import strategies as registry
from mlcpu.data.datasets import Dataset, load_dataset
from mlcpu.data.shared import SharedDataset
from mlcpu.gate import catalogue
from mlcpu.records import schemas, search
from mlcpu.records.config import make_configs, make_grid, with_folds
from mlcpu.records.task import TaskResult
from mlcpu.strategies.base import Strategy
from mlcpu.training.workload import Workload

# One definition of what the suite measures, shared with ``mlcpu gate`` (which names its
# benchmarks as this suite does, so their saved files line up).
SEED = catalogue.SEED
STRATEGIES: tuple[str, ...] = catalogue.STRATEGIES
ESTIMATORS: tuple[int, ...] = catalogue.ESTIMATORS
DATASETS: tuple[str, ...] = catalogue.DATASETS
STARTUP_MODES: tuple[str, ...] = catalogue.STARTUP_MODES
# The search family: GridSearchCV's reference and our plans on a cross-validated grid.
SEARCH_STRATEGIES: tuple[str, ...] = (
    "sequential", "gridsearchcv", "joblib", "balanced", "incremental", "auto",
)  # fmt: skip
SEARCH_ESTIMATORS: tuple[int, ...] = (10, 50)
SEARCH_DEPTHS: tuple[int | None, ...] = (None, 8)
SEARCH_FOLDS = 3
# The start-up probe: one single-tree forest on iris, so the time is almost all overhead.
STARTUP_DATASET, STARTUP_ESTIMATORS = "iris", 1
SCHEMA = schemas.BENCHMARKS


@dataclass(frozen=True)
class Profile:
    """How big and how often: ``quick`` fits a CI budget, ``full`` is for real decisions."""

    name: str
    synthetic_samples: int
    synthetic_features: int
    rounds: int
    warmup_rounds: int
    startup_rounds: int

    def describe(self) -> dict[str, Any]:
        """What must match between two saved runs for their timings to be comparable."""
        return {
            "profile": self.name,
            "synthetic_samples": self.synthetic_samples,
            "synthetic_features": self.synthetic_features,
            "rounds": self.rounds,
            "warmup_rounds": self.warmup_rounds,
            "startup_rounds": self.startup_rounds,
        }


PROFILES: dict[str, Profile] = {
    # About 2 minutes on 2 cores. Five rounds is the fewest with which a one-sided Mann-Whitney
    # test can reach p < 0.01 (the lowest possible p is 1/252).
    "quick": Profile(
        "quick", *catalogue.SYNTHETIC_SIZE, rounds=5, warmup_rounds=1, startup_rounds=5
    ),
    # The tutorial's synthetic size (docs/measured-facts.md) and more rounds for tighter statistics.
    "full": Profile("full", 10_000, 20, rounds=10, warmup_rounds=2, startup_rounds=10),
}
DEFAULT_PROFILE = "quick"


def load(name: str, profile: Profile) -> Dataset:
    """The benchmark dataset ``name``, split with the suite's seed."""
    if name == "synthetic":
        return load_dataset(
            name,
            n_samples=profile.synthetic_samples,
            n_features=profile.synthetic_features,
            seed=SEED,
        )
    return load_dataset(name, seed=SEED)


def workload(dataset: Dataset, estimators: Sequence[int]) -> Workload:
    return Workload(dataset, make_configs(estimators), seed=SEED)


class Datasets:
    """Each dataset loaded once per session and shared with worker processes once."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._loaded: dict[str, Dataset] = {}
        self._stack = contextlib.ExitStack()

    def get(self, name: str) -> Dataset:
        if name not in self._loaded:
            dataset = load(name, self.profile)
            self._loaded[name] = self._stack.enter_context(SharedDataset(dataset))
        return self._loaded[name]

    def close(self) -> None:
        self._stack.close()
        self._loaded.clear()


class Pools:
    """One started strategy per name for the whole session: what the warm benchmarks reuse."""

    def __init__(self) -> None:
        self._started: dict[str, Strategy] = {}

    def get(self, name: str) -> Strategy:
        if name not in self._started:
            strategy = registry.create(name)
            strategy.start()
            self._started[name] = strategy
        return self._started[name]

    def close(self) -> None:
        for strategy in self._started.values():
            strategy.close()
        self._started.clear()


@dataclass
class References:
    """What sequential measured in this session, so ratios never mix two sessions."""

    seconds: dict[str, float] = field(default_factory=dict)
    accuracy: dict[tuple[str, int], float] = field(default_factory=dict)
    candidates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def check_accuracy(self, dataset: str, tasks: Sequence[TaskResult]) -> None:
        """Same configuration and seed must give the same accuracy under every strategy."""
        for task in tasks:
            key = (dataset, task.n_estimators)
            first = self.accuracy.setdefault(key, task.accuracy or 0.0)
            assert task.accuracy == first, (
                f"{dataset}, {task.n_estimators} trees: accuracy {task.accuracy} differs from "
                f"{first} measured earlier in this session"
            )


@dataclass
class Suite:
    """Everything a benchmark needs from the session, in one fixture (``bench_suite``)."""

    profile: Profile
    datasets: Datasets
    pools: Pools
    references: References


class Recorder:
    """The benchmarked callable: one ``strategy.run``, keeping its wall time and its tasks.

    Recording costs two clock reads and one list append per task, nothing measurable next to a
    forest fit. It lets speedups be computed even under ``--benchmark-disable``.
    """

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.seconds: list[float] = []
        self.tasks: list[TaskResult] = []
        self.startups: list[float] = []

    def __call__(self, strategy: Strategy) -> list[TaskResult]:
        began = time.perf_counter()
        results = strategy.run(self.workload, on_result=self.tasks.append)
        self.seconds.append(time.perf_counter() - began)
        self.startups.append(strategy.startup_s)
        return results


def measured_median(benchmark: Any, recorder: Recorder, rounds: int) -> float:
    """pytest-benchmark's median when it timed; else (disabled) what the recorder saw."""
    if benchmark.stats is not None:
        return float(benchmark.stats.stats.median)
    return statistics.median(recorder.seconds[-rounds:])


def task_facts(strategy: Strategy, dataset: Dataset, tasks: Sequence[TaskResult]) -> dict[str, Any]:
    """``extra_info`` every benchmark carries: where it ran, with how many workers."""
    return {
        "strategy": strategy.name,
        "label": strategy.label,
        "workers": strategy.workers,
        "dataset": dataset.name,
        "n_samples": dataset.n_samples,
        "n_features": dataset.n_features,
        "cpus": sorted({t.cpu for t in tasks if t.cpu is not None}),
        "pids": sorted({t.pid for t in tasks}),
    }


def accuracies(results: Sequence[TaskResult]) -> dict[str, float]:
    return {str(r.n_estimators): float(r.accuracy or 0.0) for r in results}


def bench_train(
    benchmark: Any, suite: Suite, strategy: str, n_estimators: int, dataset: str
) -> None:
    """One configuration on a warm pool: the per-task cost, dispatch included."""
    profile = suite.profile
    data = suite.datasets.get(dataset)
    pool = suite.pools.get(strategy)
    recorder = Recorder(workload(data, [n_estimators]))
    benchmark.group = f"train: {dataset}, {n_estimators} trees"
    results = benchmark.pedantic(
        recorder, args=(pool,), rounds=profile.rounds, warmup_rounds=profile.warmup_rounds
    )
    suite.references.check_accuracy(dataset, recorder.tasks)
    benchmark.extra_info.update(
        accuracy=float(results[0].accuracy),
        n_estimators=n_estimators,
        **task_facts(pool, data, recorder.tasks),
    )


def bench_run(benchmark: Any, suite: Suite, strategy: str, dataset: str) -> None:
    """Every configuration (10, 50, 100, 200 trees) in one run: where strategies differ.

    Speedup and efficiency are against sequential measured in this session: by the sequential
    benchmark when it ran first (the parametrization puts it first), else measured here,
    before and outside the timed region.
    """
    profile, references = suite.profile, suite.references
    data = suite.datasets.get(dataset)
    pool = suite.pools.get(strategy)
    recorder = Recorder(workload(data, ESTIMATORS))
    if strategy != "sequential" and dataset not in references.seconds:
        references.seconds[dataset] = _measure_reference(profile, suite.pools, recorder.workload)
    benchmark.group = f"run: {dataset}, {','.join(map(str, ESTIMATORS))} trees"
    results = benchmark.pedantic(
        recorder, args=(pool,), rounds=profile.rounds, warmup_rounds=profile.warmup_rounds
    )
    elapsed = measured_median(benchmark, recorder, profile.rounds)
    if strategy == "sequential":
        references.seconds[dataset] = elapsed
    references.check_accuracy(dataset, recorder.tasks)
    reference = references.seconds[dataset]
    speedup = reference / elapsed
    by_size = accuracies(results)
    benchmark.extra_info.update(
        accuracy=statistics.fmean(by_size.values()),
        accuracies=by_size,
        estimators=list(ESTIMATORS),
        sequential_median_s=reference,
        median_s=elapsed,
        speedup=speedup,
        efficiency=speedup / pool.workers,
        startup_s=pool.startup_s,
        speedup_with_startup=reference / (elapsed + pool.startup_s),
        **task_facts(pool, data, recorder.tasks),
    )


def search_workload(dataset: Dataset) -> Workload:
    """The search family's grid: forest sizes x depths, each candidate on K folds."""
    grid = make_grid(SEARCH_ESTIMATORS, grid={"max_depth": list(SEARCH_DEPTHS)})
    return Workload(dataset, with_folds(grid, SEARCH_FOLDS, SEED), SEED, {"cv": SEARCH_FOLDS})


def bench_search(benchmark: Any, suite: Suite, strategy: str, dataset: str) -> None:
    """A cross-validated grid in one run, against sequential and GridSearchCV of this session.

    Every strategy must score every candidate exactly as the first one measured did.
    """
    profile, references = suite.profile, suite.references
    data = suite.datasets.get(dataset)
    pool = suite.pools.get(strategy)
    recorder = Recorder(search_workload(data))
    key = f"search: {dataset}"
    for reference_name in ("sequential", "gridsearchcv"):
        if strategy != reference_name and f"{key} {reference_name}" not in references.seconds:
            references.seconds[f"{key} {reference_name}"] = _measure_reference(
                profile, suite.pools, recorder.workload, reference_name
            )
    sizes = ",".join(map(str, SEARCH_ESTIMATORS))
    benchmark.group = f"search: {dataset}, {sizes} trees x max_depth x {SEARCH_FOLDS} folds"
    results = benchmark.pedantic(
        recorder, args=(pool,), rounds=profile.rounds, warmup_rounds=profile.warmup_rounds
    )
    elapsed = measured_median(benchmark, recorder, profile.rounds)
    references.seconds.setdefault(f"{key} {strategy}", elapsed)
    found = search.candidates(results)
    first = references.candidates.setdefault(dataset, found)
    assert found == first, f"{strategy} scored the {dataset} candidates differently"
    sequential = references.seconds[f"{key} sequential"]
    gridsearchcv = references.seconds[f"{key} gridsearchcv"]
    benchmark.extra_info.update(
        accuracy=max(c["mean_test_score"] for c in found),
        candidates=len(found),
        folds=SEARCH_FOLDS,
        sequential_median_s=sequential,
        gridsearchcv_median_s=gridsearchcv,
        median_s=elapsed,
        speedup=sequential / elapsed,
        vs_gridsearchcv=gridsearchcv / elapsed,
        startup_s=pool.startup_s,
        **task_facts(pool, data, recorder.tasks),
    )


def _measure_reference(
    profile: Profile, pools: Pools, work: Workload, name: str = "sequential"
) -> float:
    """Median seconds of strategy ``name`` on ``work``, measured outside any timed region."""
    reference = pools.get(name)
    for _ in range(profile.warmup_rounds):
        reference.run(work)
    seconds = []
    for _ in range(profile.rounds):
        began = time.perf_counter()
        reference.run(work)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def bench_startup(benchmark: Any, suite: Suite, mode: str, strategy: str) -> None:
    """Time to the first result of a one-tree task: with a new pool (cold) or a warm one.

    Cold is what a single short run pays; the gap between cold and warm is the pool's start-up
    (the tutorial's surprise: joblib's fresh interpreters cost more than iris's whole training).
    """
    data = suite.datasets.get(STARTUP_DATASET)
    recorder = Recorder(workload(data, [STARTUP_ESTIMATORS]))
    benchmark.group = f"startup: {mode}"
    rounds = suite.profile.startup_rounds
    if mode == "warm":
        pool = suite.pools.get(strategy)
        results = benchmark.pedantic(recorder, args=(pool,), rounds=rounds, warmup_rounds=1)
        extra: dict[str, Any] = {"startup_s": pool.startup_s}
    else:
        created: list[Strategy] = []

        def fresh() -> tuple[tuple[Strategy], dict[str, Any]]:
            created.append(registry.create(strategy))
            return (created[-1],), {}

        try:
            results = benchmark.pedantic(
                recorder,
                setup=fresh,
                teardown=_close,
                rounds=rounds,
            )
        finally:
            for pool in created:  # teardown is skipped under --benchmark-disable
                pool.close()
        pool = created[-1]
        extra = {
            "startup_s": statistics.median(recorder.startups),
            "startups_s": recorder.startups,
        }
    benchmark.extra_info.update(
        accuracy=float(results[0].accuracy),
        mode=mode,
        n_estimators=STARTUP_ESTIMATORS,
        **extra,
        **task_facts(pool, data, recorder.tasks),
    )


def _close(strategy: Strategy) -> None:
    strategy.close()


def suite_facts(profile: Profile) -> dict[str, Any]:
    """The ``mlcpu`` section of a saved run: which profile produced these numbers."""
    from mlcpu._version import __version__

    return {"schema": SCHEMA, "mlcpu_version": __version__, **profile.describe()}
