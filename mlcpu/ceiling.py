"""What this machine can deliver in parallel for this workload, measured rather than assumed.

Speedup / workers calls 1.85x on two cores 92% efficient, but two forests trained at once on
this kind of machine each run 8-16% slower than one alone (shared caches, memory bandwidth,
turbo clocks): no strategy can do better than the hardware. So ``measure`` trains the same unit
of work -- a forest of the workload's own model and parameters on its own data, sized to take
about ``target_s`` -- alone on one worker and on every worker at once (started together behind
a barrier), in rounds. A round is one pair, alone and together adjacent in time (which goes first
alternates), so a slow spell on the machine slows both halves of a pair and cancels in its ratio
``workers * alone / together``: the speedup a perfectly balanced strategy with no overhead would
reach. The ceiling is the Hodges-Lehmann estimate of the rounds' ratios with the Wilcoxon
signed-rank interval of ``mlcpu.comparing.ratios``; rounds go on until that interval is within
±3% of the estimate or a time bound is reached (``StoppingRule``).

It uses its own short-lived fork pool (milliseconds to start), before any strategy starts.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcpu.records import models
from mlcpu.records.ceiling import Ceiling, skipped
from mlcpu.records.config import TaskConfig
from mlcpu.training.workload import Workload

TARGET_S = 0.06  # how long one unit should take alone: long enough to time, short to pay
MAX_TREES = 500
CALIBRATION_TREES = 3
UNIT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class StoppingRule:
    """When to stop measuring rounds: once the interval is within ``precision`` of the estimate,
    or before a round would end past ``time_bound_s`` (from the start of ``measure``), or after
    ``max_rounds``; never before ``min_rounds`` nor before ``mlcpu.comparing.ratios`` can give an
    interval at this ``alpha`` (6 rounds at 95%).

    The defaults come from runs on a 2-core machine shared with other work (load average ~6):
    a round's ratio scattered about as much for units of 0.04 s as of 0.12 s (sd of the log ratio
    0.1-0.4), so the interval narrows with more rounds, not longer units. A round costs about
    2.5 units (``TARGET_S`` 0.06 s: 0.15-0.3 s), so the 3 s bound holds 9-21 rounds there, for
    ±9-29%; the two best-of rounds used before cost 0.7-1.6 s and read 0.73x-1.67x in the same
    session, with no interval at all. On a quiet machine the ±3% target ends it sooner, at 6
    rounds at best; 3 s is what ``mlcpu run`` on iris can afford (a few seconds in all).
    """

    precision: float = 0.03
    alpha: float = 0.05
    min_rounds: int = 5
    max_rounds: int = 30
    time_bound_s: float = 3.0

    def stop(self, log_ratios: Sequence[float], spent_s: float, round_s: float) -> str | None:
        """Why to stop after these rounds, or None to measure another one.

        ``spent_s`` is the time since measuring began, ``round_s`` how long a round takes (the
        last one), so the bound is kept rather than overrun by a round.
        """
        from mlcpu.comparing import (
            ratios,  # numpy and scipy only when measuring, not to read results
        )

        if len(log_ratios) < max(self.min_rounds, ratios.fewest_rounds(self.alpha)):
            return None
        interval = ratios.ratio_interval(log_ratios, self.alpha)
        if interval is not None and within(
            interval.low, interval.high, interval.estimate, self.precision
        ):
            return f"interval within ±{self.precision:.0%}"
        if len(log_ratios) >= self.max_rounds:
            return f"round limit ({self.max_rounds})"
        if spent_s + round_s > self.time_bound_s:
            return f"time bound ({self.time_bound_s:g} s)"
        return None


def within(low: float, high: float, estimate: float, precision: float) -> bool:
    """Whether [low, high] lies within ±precision of the estimate (0.03: ±3%)."""
    return estimate * (1 - precision) <= low and high <= estimate * (1 + precision)


def measure(
    workload: Workload,
    workers: int,
    *,
    target_s: float = TARGET_S,
    rule: StoppingRule = StoppingRule(),
) -> Ceiling:
    """Measure the ceiling for ``workers`` workers; never raises for a failed measurement."""
    began = time.perf_counter()
    config = max(workload.configs, key=lambda c: c.n_estimators)
    if workers < 2:
        return Ceiling(ratio=1.0, workers=workers, skipped="one worker: the ceiling is 1")
    if not models.is_builtin(config.model):
        return skipped(f"custom model {config.model!r} is not run outside its tasks", workers)
    from mlcpu.comparing import ratios
    from mlcpu.engines.supervised import shared  # pools only when measuring, not to read results

    try:
        with shared(workload) as ready:
            trees = _calibrate(config, ready, target_s)
            unit = TaskConfig(trees, model=config.model, params=config.params)
            alone, together, stopped = _time_rounds(unit, ready, workers, rule, began)
    except Exception as exc:  # the run goes on without a ceiling
        return skipped(f"measurement failed: {type(exc).__name__}: {exc}", workers)
    logs = log_ratios(alone, together, workers)
    interval = ratios.ratio_interval(logs, rule.alpha)
    return Ceiling(
        ratio=interval.estimate if interval else math.exp(sum(logs) / len(logs)),
        workers=workers,
        unit=f"a {trees}-tree {config.model} on {workload.dataset.name}",
        trees=trees,
        alone_s=alone,
        together_s=together,
        seconds=time.perf_counter() - began,
        low=interval.low if interval else None,
        high=interval.high if interval else None,
        level=interval.level if interval else None,
        rounds=len(alone),
        stopped=stopped,
    )


def log_ratios(alone: Sequence[float], together: Sequence[float], workers: int) -> list[float]:
    """log(workers * alone_i / together_i) for each round i."""
    return [math.log(workers * a / t) for a, t in zip(alone, together, strict=True)]


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


def _time_rounds(
    unit: TaskConfig, workload: Workload, workers: int, rule: StoppingRule, began: float
) -> tuple[list[float], list[float], str]:
    """Alone and together times, one pair per round, until ``rule`` stops (and why)."""
    from mlcpu.engines.pools import PoolBackend
    from mlcpu.engines.supervised import DEFAULT_START_METHOD

    backend = PoolBackend(workers, DEFAULT_START_METHOD)
    alone: list[float] = []
    together: list[float] = []
    args = (unit, workload.dataset, workload.seed)
    try:
        backend.start()
        pool = backend.pool
        assert pool is not None

        def one() -> float:
            started, ended = pool.apply_async(train_unit, (*args, None, 1)).get(UNIT_TIMEOUT_S)
            return ended - started

        def every() -> float:
            with tempfile.TemporaryDirectory(prefix="mlcpu-ceiling-") as barrier:
                pending = [
                    pool.apply_async(train_unit, (*args, barrier, workers)) for _ in range(workers)
                ]
                spans = [p.get(UNIT_TIMEOUT_S) for p in pending]
            return max(e for _, e in spans) - min(s for s, _ in spans)

        every()  # untimed: each worker's first fit pays one-off costs (page faults, caches)
        while True:
            round_began = time.perf_counter()
            if len(alone) % 2 == 0:
                alone.append(one())
                together.append(every())
            else:
                together.append(every())
                alone.append(one())
            now = time.perf_counter()
            stopped = rule.stop(
                log_ratios(alone, together, workers), now - began, now - round_began
            )
            if stopped is not None:
                return alone, together, stopped
    finally:
        backend.terminate()


def train_unit(
    unit: TaskConfig, dataset: Any, seed: int, barrier: str | None, parties: int
) -> tuple[float, float]:
    """In a worker: wait until ``parties`` workers are here (if a barrier), then fit once."""
    if barrier is not None:
        folder = Path(barrier)
        (folder / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + UNIT_TIMEOUT_S
        while sum(1 for _ in folder.glob("ready-*")) < parties and time.monotonic() < deadline:
            time.sleep(0.0002)  # the first to arrive starts at most this much late
    started = time.perf_counter()
    unit.build(random_state=seed, n_jobs=1).fit(dataset.X_train, dataset.y_train)
    return started, time.perf_counter()
