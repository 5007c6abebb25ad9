"""The console report: tutorial-style task lines while running, then a summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlcpu.records.ceiling import Ceiling
from mlcpu.records.results import RunResults
from mlcpu.records.task import TaskResult
from mlcpu.reporting import candidates
from mlcpu.reporting.lines import (
    ceiling_line,
    machine_line,
    plural,
    strategy_cells,
    task_line,
    workload_line,
)
from mlcpu.runner import RunListener
from mlcpu.strategies.base import Strategy


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
        table.add_row(*strategy_cells(record, "x"))
    return table


def print_summary(console: Console, results: RunResults) -> None:
    console.print()
    console.print(summary_table(results))
    table = candidates.candidates_table(results)
    if table is not None:
        console.print(table)
        best = candidates.best_line(results)
        if best:
            console.print(best, highlight=False)
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
