"""The report's lines of text, shared by the console and the HTML page.

A leaf of the reporting layer: it reads records only, so ``mlcpu report`` can draw a saved run
without importing the runner or any engine.
"""

from __future__ import annotations

from typing import Any

from mlcpu.records.ceiling import Ceiling
from mlcpu.records.results import StrategyResult
from mlcpu.records.task import TaskResult


def task_line(result: TaskResult) -> str:
    """The tutorial's line, e.g. ``Training on CPU core: 2 | 100 estimators | ...``."""
    core = "?" if result.cpu is None else str(result.cpu)
    label = result.config.label
    if result.error is not None:
        return f"Training on CPU core: {core} | {label} | FAILED: {result.error}"
    line = (
        f"Training on CPU core: {core} | {label} | Accuracy: {result.accuracy:.4f} | "
        f"Time: {result.seconds:.4f} seconds"
    )
    if result.worker:
        line += f" | worker {result.worker}"
    if "prefix_of" in result.extra:
        line += f" | first trees of the {result.extra['prefix_of']}-tree forest"
    return line


def plural(count: object, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def workload_line(workload: dict[str, Any]) -> str:
    estimators = ", ".join(str(n) for n in workload.get("estimators", []))
    params = workload.get("params") or {}
    extra = "".join(f", {k}={v}" for k, v in params.items()) if isinstance(params, dict) else ""
    return (
        f"{workload.get('dataset')}: {workload.get('n_samples')} samples x "
        f"{workload.get('n_features')} features ({workload.get('n_train')} train / "
        f"{workload.get('n_test')} test) | {workload.get('model')} n_estimators {estimators}"
        f"{extra} | seed {workload.get('seed')}"
    )


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"machine: {plural(machine.get('usable_cpus'), 'usable CPU')} of "
        f"{machine.get('cpu_count')} | "
        f"Python {machine.get('python')} | scikit-learn {machine.get('scikit_learn')} | "
        f"joblib {machine.get('joblib')} | numpy {machine.get('numpy')}"
    )


def ceiling_line(ceiling: Ceiling) -> str:
    """``ceiling: 1.86x (95% CI 1.81-1.91x, 12 rounds) on 2 workers (...)``; records from before
    the ceiling had an interval say so instead."""
    if ceiling.ratio is None or ceiling.trees is None:
        return f"ceiling: not measured ({ceiling.skipped})"
    if ceiling.low is None or ceiling.high is None:
        spread = " (best of each, no interval)"
    else:
        level = f"{ceiling.level:.0%} CI " if ceiling.level is not None else ""
        stopped = (
            f"; stopped by the {ceiling.stopped}"
            if ceiling.stopped and not ceiling.stopped.startswith("interval")
            else ""
        )
        spread = (
            f" ({level}{ceiling.low:.2f}-{ceiling.high:.2f}x, "
            f"{plural(ceiling.rounds, 'round')}{stopped})"
        )
    return (
        f"ceiling: {ceiling.ratio:.2f}x{spread} on {ceiling.workers} workers ({ceiling.unit}, "
        f"alone vs on every worker at once; measured in {ceiling.seconds:.2f} s)"
    )


def of_ceiling_text(record: StrategyResult) -> str:
    """Speedup / ceiling as a percentage; above 100% only with its range against the ceiling
    interval's ends (``103% (98-106%)``), since a measured ceiling is not a hard limit."""
    value = record.of_ceiling
    if value is None:
        return "-"
    if value <= 1:
        return f"{value:.0%}"
    low, high = record.of_ceiling_low, record.of_ceiling_high
    if low is None or high is None:
        return f"{value:.0%} (ceiling has no interval)"
    if low == high:  # one worker: the ceiling is 1 by definition, not measured
        return f"{value:.0%} (ceiling 1, exact)"
    return f"{value:.0%} ({low * 100:.0f}-{high:.0%})"


def number(value: float | None, spec: str, missing: str = "-", suffix: str = "") -> str:
    return missing if value is None else f"{value:{spec}}{suffix}"


def strategy_cells(record: StrategyResult, times: str) -> list[str]:
    """A strategy's row of the summary, up to "with start-up"; ``times`` is ``x`` or ``×``."""
    efficiency = None if record.efficiency is None else record.efficiency * 100
    return [
        record.label,
        str(record.workers),
        number(record.elapsed_s, ".4f", "failed" if record.error else "-"),
        number(record.startup_s, ".4f"),
        number(record.speedup, ".2f", suffix=times),
        number(efficiency, ".0f", suffix="%"),
        of_ceiling_text(record),
        number(record.speedup_with_startup, ".2f", suffix=times),
    ]
