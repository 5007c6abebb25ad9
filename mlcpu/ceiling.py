"""What this machine can deliver in parallel for this workload, measured rather than assumed.

Speedup / workers calls 1.85x on two cores 92% efficient, but two forests trained at once on
this kind of machine each run 8-16% slower than one alone (shared caches, memory bandwidth,
turbo clocks): no strategy can do better than the hardware. So ``measure`` trains the same unit
of work -- a forest of the workload's own model and parameters on its own data, sized to take
about ``target_s`` -- once alone on one worker, then on every worker at once (started together
behind a barrier), twice each, interleaved. The ceiling is ``workers * alone / together`` with
the best time of each: the speedup a perfectly balanced strategy with no overhead would reach.

It uses its own short-lived fork pool (milliseconds to start), before any strategy starts.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlcpu import models
from mlcpu.workload import TaskConfig, Workload

TARGET_S = 0.12  # how long one unit should take alone: long enough to time, short to pay
ROUNDS = 2
MAX_TREES = 500
CALIBRATION_TREES = 3
UNIT_TIMEOUT_S = 120.0


@dataclass
class Ceiling:
    """The measured ceiling, or why there is none (``ratio`` None and ``skipped`` set)."""

    ratio: float | None
    workers: int
    unit: str | None = None
    trees: int | None = None
    alone_s: list[float] = field(default_factory=list)
    together_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    method: str = (
        "one unit of training (the workload's largest configuration, fewer trees) alone on "
        "one worker vs on every worker at once; ratio = workers * best alone / best together"
    )
    skipped: str | None = None

    def for_workers(self, workers: int) -> float | None:
        """The ceiling for a strategy with ``workers`` workers (one worker: 1 by definition)."""
        if workers == 1:
            return 1.0
        return self.ratio if workers == self.workers else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Ceiling:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in record.items() if k in known})


def skipped(reason: str, workers: int = 1) -> Ceiling:
    return Ceiling(ratio=None, workers=workers, skipped=reason)


def measure(
    workload: Workload, workers: int, *, target_s: float = TARGET_S, rounds: int = ROUNDS
) -> Ceiling:
    """Measure the ceiling for ``workers`` workers; never raises for a failed measurement."""
    began = time.perf_counter()
    config = max(workload.configs, key=lambda c: c.n_estimators)
    if workers < 2:
        return Ceiling(ratio=1.0, workers=workers, skipped="one worker: the ceiling is 1")
    if not models.is_builtin(config.model):
        return skipped(f"custom model {config.model!r} is not run outside its tasks", workers)
    from mlcpu.strategies.pools import shared  # pools only when measuring, not to read results

    try:
        with shared(workload) as ready:
            trees = _calibrate(config, ready, target_s)
            unit = TaskConfig(trees, model=config.model, params=config.params)
            alone, together = _time_units(unit, ready, workers, rounds)
    except Exception as exc:  # the run goes on without a ceiling
        return skipped(f"measurement failed: {type(exc).__name__}: {exc}", workers)
    return Ceiling(
        ratio=workers * min(alone) / min(together),
        workers=workers,
        unit=f"a {trees}-tree {config.model} on {workload.dataset.name}",
        trees=trees,
        alone_s=alone,
        together_s=together,
        seconds=time.perf_counter() - began,
    )


def _calibrate(config: TaskConfig, workload: Workload, target_s: float) -> int:
    """Trees for a unit of about ``target_s``, from small fits here (the first one warms up:
    it may be this process's first fit, paying one-off costs)."""
    X, y = workload.dataset.X_train, workload.dataset.y_train
    probe = TaskConfig(CALIBRATION_TREES, model=config.model, params=config.params)
    probe.build(random_state=workload.seed, n_jobs=1).fit(X[:64], y[:64])
    began = time.perf_counter()
    probe.build(random_state=workload.seed, n_jobs=1).fit(X, y)
    per_tree = (time.perf_counter() - began) / CALIBRATION_TREES
    return max(2, min(MAX_TREES, round(target_s / per_tree)))


def _time_units(
    unit: TaskConfig, workload: Workload, workers: int, rounds: int
) -> tuple[list[float], list[float]]:
    from mlcpu.strategies._backends import PoolBackend
    from mlcpu.strategies.pools import DEFAULT_START_METHOD

    backend = PoolBackend(workers, DEFAULT_START_METHOD)
    alone: list[float] = []
    together: list[float] = []
    args = (unit, workload.dataset, workload.seed)
    try:
        backend.start()
        pool = backend.pool
        assert pool is not None
        for _ in range(rounds):
            started, ended = pool.apply_async(train_unit, (*args, None, 1)).get(UNIT_TIMEOUT_S)
            alone.append(ended - started)
            with tempfile.TemporaryDirectory(prefix="mlcpu-ceiling-") as barrier:
                pending = [
                    pool.apply_async(train_unit, (*args, barrier, workers)) for _ in range(workers)
                ]
                spans = [p.get(UNIT_TIMEOUT_S) for p in pending]
            together.append(max(e for _, e in spans) - min(s for s, _ in spans))
    finally:
        backend.terminate()
    return alone, together


def train_unit(
    unit: TaskConfig, dataset: Any, seed: int, barrier: str | None, parties: int
) -> tuple[float, float]:
    """In a worker: wait until ``parties`` workers are here (if a barrier), then fit once."""
    if barrier is not None:
        folder = Path(barrier)
        (folder / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + UNIT_TIMEOUT_S
        while sum(1 for _ in folder.glob("ready-*")) < parties and time.monotonic() < deadline:
            time.sleep(0.001)
    started = time.perf_counter()
    unit.build(random_state=seed, n_jobs=1).fit(dataset.X_train, dataset.y_train)
    return started, time.perf_counter()
