"""The console report: tutorial-style task lines while running, then a summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlcpu.ceiling import Ceiling
from mlcpu.results import RunResults, StrategyResult
from mlcpu.runner import RunListener
from mlcpu.strategies.base import Strategy
from mlcpu.training import TaskResult


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


class ConsoleReporter(RunListener):
    """Prints as the run goes; a progress bar only on a terminal and only when not quiet."""

    def __init__(self, console: Console, *, quiet: bool = False, total_tasks: int = 0) -> None:
        self.console = console
        self.quiet = quiet
        self.progress: Progress | None = None
        self._task_id: Any = None
        if console.is_terminal and not quiet and total_tasks:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._task_id = self.progress.add_task("training", total=total_tasks)

    def __enter__(self) -> ConsoleReporter:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def say(self, text: str = "", **style: Any) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False, soft_wrap=True, **style)

    def header(self, results: RunResults) -> None:
        self.say(f"mlcpu | {workload_line(results.workload)}", style="bold")
        self.say(machine_line(results.machine))

    def ceiling_measured(self, ceiling: Ceiling) -> None:
        if ceiling.ratio is not None and ceiling.trees is not None:
            self.say(ceiling_line(ceiling))

    def strategy_starting(self, strategy: Strategy) -> None:
        if self.progress is not None:
            self.progress.update(self._task_id, description=f"starting {strategy.label}")

    def run_starting(self, strategy: Strategy, repeat: int) -> None:
        workers = plural(strategy.workers, "worker")
        startup = (
            f" | pool start-up {strategy.startup_s:.4f} seconds"
            if strategy.startup_s >= 0.0001
            else ""
        )
        run = f" | run {repeat + 1}" if repeat else ""
        self.say()
        self.say(f"{strategy.label} | {workers}{startup}{run}", style="bold cyan")
        if self.progress is not None:
            self.progress.update(self._task_id, description=strategy.label)

    def task_finished(self, strategy: Strategy, repeat: int, result: TaskResult) -> None:
        self.say(task_line(result), style="red" if result.error else None)
        if self.progress is not None:
            self.progress.advance(self._task_id)

    def run_finished(self, strategy: Strategy, repeat: int, seconds: float) -> None:
        self.say(f"{strategy.label} training time: {seconds:.4f} seconds")


def summary_table(results: RunResults) -> Table:
    """Strategy, workers, elapsed, start-up, speedup, efficiency: the answer at a glance."""
    results.compute_ratios()
    median = f", elapsed = median of {results.repeat} runs" if results.repeat > 1 else ""
    table = Table(title=f"Summary (speedup vs sequential in this run{median})")
    table.add_column("strategy")
    table.add_column("workers", justify="right")
    table.add_column("elapsed s", justify="right")
    table.add_column("start-up s", justify="right")
    table.add_column("speedup", justify="right")
    table.add_column("efficiency", justify="right")
    table.add_column("of ceiling", justify="right")
    table.add_column("with start-up", justify="right")
    for record in results.strategies:
        table.add_row(
            record.label,
            str(record.workers),
            _fmt(record.elapsed_s, ".4f", "failed" if record.error else "-"),
            _fmt(record.startup_s, ".4f"),
            _fmt(record.speedup, ".2f", suffix="x"),
            _percent(record.efficiency),
            of_ceiling_text(record),
            _fmt(record.speedup_with_startup, ".2f", suffix="x"),
        )
    return table


def print_summary(console: Console, results: RunResults) -> None:
    console.print()
    console.print(summary_table(results))
    if results.ceiling is not None and results.ceiling.ratio is not None:
        console.print(
            ceiling_line(results.ceiling) + "; of ceiling = speedup / ceiling", highlight=False
        )
    for record in results.strategies:
        choice = record.extra.get("choice")
        if isinstance(choice, dict) and choice.get("reason"):
            console.print(f"{record.label}: {choice['reason']}", highlight=False)
    mismatches = results.accuracy_mismatches()
    if mismatches:
        console.print(
            "[bold red]Accuracy differs between strategies:[/] " + "; ".join(mismatches),
            highlight=False,
        )
    elif results.strategies and any(r.runs_s for r in results.strategies):
        console.print("Accuracy is identical across strategies for every configuration.")
    for record in results.strategies:
        trained, requested = record.extra.get("trees_trained"), record.extra.get("trees_requested")
        if trained is not None and requested:
            console.print(
                f"{record.label} trained {trained} trees where training every configuration "
                f"from scratch trains {requested} ({1 - trained / requested:.0%} less work).",
                highlight=False,
            )
    usable = results.machine.get("usable_cpus") or 0
    over = [r.label for r in results.strategies if usable and r.workers > usable]
    if over:
        console.print(
            f"Note: {', '.join(over)} used more workers than the {usable} usable CPUs "
            "(oversubscribed).",
            highlight=False,
        )


def _percent(value: float | None) -> str:
    return _fmt(None if value is None else value * 100, ".0f", suffix="%")


def _fmt(value: float | None, spec: str, missing: str = "-", suffix: str = "") -> str:
    return missing if value is None else f"{value:{spec}}{suffix}"
