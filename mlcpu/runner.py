"""Running a workload under several strategies and turning the timings into ratios.

Every strategy's pool is started (start-up timed separately) before any work, then the repeats
go round-robin over the strategies, so slow drift of a shared machine spreads over all of them
instead of favouring whichever ran first. Each strategy is told how many runs it will make:
``auto`` running once starts its pool inside the run, only if the workload pays for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from mlcpu import ceiling as ceilings
from mlcpu import strategies as registry
from mlcpu.data.shared import SharedDataset
from mlcpu.errors import InputError, TaskError
from mlcpu.host.machine import machine_info
from mlcpu.records import search
from mlcpu.records.ceiling import Ceiling
from mlcpu.records.results import BASELINE, RunResults, StrategyResult
from mlcpu.records.task import TaskResult, timer
from mlcpu.strategies.base import Strategy
from mlcpu.training.fit import train_task
from mlcpu.training.workload import Workload, validate


class RunListener:
    """Hooks for progress display; every method is optional (the library itself prints nothing)."""

    def ceiling_measured(self, ceiling: Ceiling) -> None:
        """The machine's parallel ceiling was measured (or skipped, with the reason)."""

    def strategy_starting(self, strategy: Strategy) -> None:
        """A pool is about to start."""

    def strategy_started(self, strategy: Strategy) -> None:
        """A pool is up; ``strategy.startup_s`` is known."""

    def run_starting(self, strategy: Strategy, repeat: int) -> None:
        """Repeat number ``repeat`` (0-based) of ``strategy`` begins."""

    def task_finished(self, strategy: Strategy, repeat: int, result: TaskResult) -> None:
        """One configuration finished (or failed, with ``result.error`` set)."""

    def run_finished(self, strategy: Strategy, repeat: int, seconds: float) -> None:
        """Repeat ``repeat`` of ``strategy`` took ``seconds`` of wall time."""


class Runner:
    """Runs ``workload`` under ``strategies``; ``results`` fills in as it goes.

    Because ``results`` is kept up to date, a caller that catches a failure or Ctrl-C still
    has every task that finished before it.
    """

    def __init__(
        self,
        workload: Workload,
        strategies: Sequence[Strategy | str],
        *,
        repeat: int = 1,
        listener: RunListener | None = None,
        keep_estimators: bool = False,
        ceiling: bool = True,
        **strategy_options: Any,
    ) -> None:
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise InputError(f"repeat must be a positive integer, got {repeat!r}")
        if not strategies:
            raise InputError("at least one strategy is needed")
        self.workload = workload
        self.strategies = [
            registry.create_shared(s, strategy_options) if isinstance(s, str) else s
            for s in strategies
        ]
        names = [s.name for s in self.strategies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"strategy {duplicates[0]!r} is listed more than once")
        self.repeat = repeat
        self.listener = listener or RunListener()
        self.keep_estimators = keep_estimators
        self.measure_ceiling = ceiling
        self.results = RunResults(
            machine=machine_info(), workload=workload.describe(), repeat=repeat
        )

    def run(self) -> RunResults:
        validate(self.workload)
        try:
            self._run()
        except TaskError as exc:
            self.results.status, self.results.error = "failed", str(exc)
            raise
        except KeyboardInterrupt:
            self.results.status, self.results.error = "interrupted", "interrupted by a signal"
            raise
        finally:
            self.results.compute_ratios()
        failed = self.results.failed_tasks()
        if failed:
            self.results.status = "failed"
            self.results.error = f"{len(failed)} task(s) failed: " + "; ".join(
                task.error or "" for _, task in failed
            )
        else:
            self.results.status = "ok"
        return self.results

    def _run(self) -> None:
        needs_sharing = any(getattr(s, "uses_processes", False) for s in self.strategies)
        with contextlib.ExitStack() as stack:
            if needs_sharing and self.workload.dataset.shared_folder is None:
                # From here on every process, this one included, reads the one shared copy;
                # dropping the private arrays keeps the data in memory once, not twice.
                original = self.workload
                dataset = stack.enter_context(SharedDataset(original.dataset))
                self.workload = Workload(dataset, original.configs, original.seed, original.options)
                del original, dataset
            workload = self.workload
            self.results.ceiling = self._ceiling(workload)
            self.listener.ceiling_measured(self.results.ceiling)
            records: list[StrategyResult] = []
            for strategy in self.strategies:
                self.listener.strategy_starting(strategy)
                strategy.expected_runs = self.repeat
                stack.enter_context(strategy)
                record = StrategyResult(
                    name=strategy.name,
                    label=strategy.label,
                    workers=strategy.workers,
                    startup_s=strategy.startup_s,
                    options=strategy.describe(),
                )
                records.append(record)
                self.results.strategies.append(record)
                self.listener.strategy_started(strategy)
            for repeat in range(self.repeat):
                for strategy, record in zip(self.strategies, records, strict=True):
                    self._run_once(strategy, record, workload, repeat)
            best = self._refit_best(workload)
            if best is not None:
                self.results.extra["best"] = best

    def _refit_best(self, workload: Workload) -> dict[str, Any] | None:
        """A search's winner, as ``GridSearchCV(refit=True)`` leaves it: the best candidate
        refit on the whole training split and scored on the held-out split. Done once here,
        outside every strategy's timing (all strategies score the candidates identically)."""
        tasks = search.completed(s.tasks for s in self.results.strategies if not s.error)
        records = search.candidates(tasks)
        best = search.best(records)
        if best is None:
            return None
        config = search.candidate_configs(tasks)[records.index(best)]
        refit = train_task(0, config, workload.dataset, workload.seed)
        return {
            "params": best["params"],
            "mean_test_score": best["mean_test_score"],
            "rank_test_score": best["rank_test_score"],
            "test_accuracy": refit.accuracy,
            "refit_s": refit.seconds,
        }

    def _ceiling(self, workload: Workload) -> Ceiling:
        """Measured once per run, before any pool starts; only when it can be related to a
        speedup (a parallel strategy and the sequential baseline both run)."""
        workers = max((s.workers for s in self.strategies if s.parallel), default=0)
        if not self.measure_ceiling:
            return ceilings.skipped("not asked for (--no-ceiling)", workers)
        if not workers:
            return ceilings.skipped("no parallel strategy in this run")
        if not any(s.name == BASELINE for s in self.strategies):
            return ceilings.skipped("no sequential baseline to relate speedups to", workers)
        return ceilings.measure(workload, workers)

    def _run_once(
        self, strategy: Strategy, record: StrategyResult, workload: Workload, repeat: int
    ) -> None:
        finished: list[TaskResult] = []
        record.runs.append(finished)

        def on_result(result: TaskResult) -> None:
            finished.append(result)
            self.listener.task_finished(strategy, repeat, result)

        self.listener.run_starting(strategy, repeat)
        try:
            timed = timer(strategy.run)(
                workload, on_result=on_result, keep_estimators=self.keep_estimators
            )
        except TaskError as exc:
            record.error = str(exc)
            raise
        finished[:] = timed.value  # workload order
        record.runs_s.append(timed.seconds)
        record.extra.update(strategy.result_extra())
        self.listener.run_finished(strategy, repeat, timed.seconds)


def run(
    workload: Workload,
    strategies: Sequence[Strategy | str] = ("sequential", "joblib", "multiprocessing"),
    *,
    repeat: int = 1,
    listener: RunListener | None = None,
    ceiling: bool = True,
    **strategy_options: Any,
) -> RunResults:
    """Run ``workload`` under each strategy and return the measurements with ratios."""
    return Runner(
        workload, strategies, repeat=repeat, listener=listener, ceiling=ceiling, **strategy_options
    ).run()
