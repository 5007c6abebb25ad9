"""``gridsearchcv``: scikit-learn's own ``GridSearchCV(n_jobs=workers)``, the reference users pick.

It searches the same candidates with the same splitter (``StratifiedKFold(K, shuffle=True,
random_state=seed)`` with ``--cv K``; without it the one training / held-out split, given as a
predefined split), every fit seeded like the other strategies', so its scores are the ones the
others must equal. It is timed like the others: its joblib (loky) workers are started and warmed
in start-up, then the search itself is the run. ``refit=False``: the run's ``best`` refit is
done once for all strategies, outside their timings.

Where and when each fit ran come back through extra scorers (the worker's pid, its core, and the
clock when the fit was scored); ``cv_results_`` keeps only a candidate's *mean* fit and score
time, so a task's seconds are that mean. A failed fit scores NaN (``error_score=nan``: every fit
runs) and becomes the policy's failure, its text taken from scikit-learn's ``FitFailedWarning``.
It cannot stop one fit, so ``--task-timeout`` is refused.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import time
import warnings
from typing import Any

import numpy as np

from mlcpu.engines.base import Engine
from mlcpu.engines.inprocess import InProcessEngine
from mlcpu.errors import InputError, TaskFailedError
from mlcpu.host import thirdparty
from mlcpu.host.process_guard import init_process_worker, parent_identity
from mlcpu.records.task import TaskResult
from mlcpu.strategies.base import Strategy
from mlcpu.training.units import Failure, Job
from mlcpu.training.workload import Workload

TIMING = (
    "seconds: the candidate's mean fit + score time over its folds (cv_results_ keeps no "
    "per-fit time); the end is when the fit was scored"
)


def _warm() -> int:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    X = np.arange(32, dtype=np.float32).reshape(16, 2)
    GridSearchCV(RandomForestClassifier(n_estimators=2), {"max_depth": [2]}, cv=2).fit(
        X, np.arange(16) % 2
    )
    return os.getpid()


class _WarmLoky(InProcessEngine):
    """Runs nothing itself; starting it starts joblib's reusable loky executor, which every
    ``Parallel(n_jobs=workers)`` inside ``GridSearchCV`` then reuses."""

    uses_processes = True

    def guarded(self) -> contextlib.AbstractContextManager[Any]:
        """joblib's configuration for every Parallel inside: loky workers with mlcpu's process
        guard as initializer, so they die with this process even when it is SIGKILLed (the
        same arguments each time, so loky reuses the warm executor instead of replacing it)."""
        from joblib import parallel_config

        return parallel_config(
            backend="loky", initializer=init_process_worker, initargs=(*parent_identity(), None)
        )

    def _start(self) -> None:
        if self.workers > 1:
            from joblib import Parallel, delayed

            # Each worker imports and runs scikit-learn's forest code once, as the other pools'
            # warm-up does, so the first search does not pay for imports.
            with self.guarded():
                Parallel(n_jobs=self.workers)(delayed(_warm)() for _ in range(2 * self.workers))

    def _close(self) -> None:
        if self.workers > 1:
            thirdparty.stop_reusable_executor()


class GridSearchCVStrategy(Strategy):
    name = "gridsearchcv"
    uses_processes = True
    summary = (
        "scikit-learn's GridSearchCV(n_jobs=N) on the same candidates and folds: every "
        "(candidate, fold) trained from scratch, spread over joblib's worker processes"
    )

    def __init__(self, workers: int | None = None, **options: Any) -> None:
        if options.get("task_timeout") is not None:
            raise InputError(
                "gridsearchcv cannot stop a single fit inside GridSearchCV: "
                "--task-timeout is not supported for it"
            )
        super().__init__(workers, **options)

    engine: _WarmLoky

    def _make_engine(self, workers: int) -> Engine:
        return _WarmLoky(workers, self.policy)

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        from sklearn.exceptions import FitFailedWarning
        from sklearn.model_selection import GridSearchCV

        search = self._search_of(workload)
        X, y, splits = self._data(workload)
        began = time.perf_counter()
        with self.engine.guarded(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FitFailedWarning)
            # its echo of the same failures, once the NaN scores are averaged
            warnings.filterwarnings("ignore", "One or more of the test scores", UserWarning)
            try:
                fitted = GridSearchCV(
                    search["estimator"],
                    search["grid"],
                    scoring=SCORING,
                    cv=splits,
                    n_jobs=self.workers,
                    refit=False,
                    error_score=np.nan,  # every fit runs; failures are found by their NaN
                ).fit(X, y)
            except Exception as exc:  # every fit failed, or a worker died
                raise TaskFailedError(
                    f"{self.name}: GridSearchCV failed: {type(exc).__name__}: {_first_line(exc)}",
                    strategy=self.name,
                ) from exc
        failures = [str(w.message) for w in caught if issubclass(w.category, FitFailedWarning)]
        return self._results(workload, fitted.cv_results_, search["order"], began, failures)

    @staticmethod
    def _search_of(workload: Workload) -> dict[str, Any]:
        """The estimator, a grid with one point per candidate, and each task's place in it."""
        models = {c.model for c in workload.configs}
        if len(models) != 1:
            raise InputError(f"gridsearchcv searches one model, got {sorted(models)}")
        candidates = list(dict.fromkeys(c.candidate for c in workload.configs))
        folds = {c.fold.of if c.fold else 1 for c in workload.configs}
        if len(folds) != 1:
            raise InputError("gridsearchcv needs every candidate on the same folds")
        grid = [{k: [v] for k, v in c.grid_params().items()} for c in candidates]
        position = {candidate: i for i, candidate in enumerate(candidates)}
        order = [(position[c.candidate], c.fold.index if c.fold else 0) for c in workload.configs]
        estimator = candidates[0].build(random_state=workload.seed, n_jobs=1)
        return {"estimator": estimator, "grid": grid, "order": order}

    @staticmethod
    def _data(workload: Workload) -> tuple[Any, Any, Any]:
        """GridSearchCV's X, y and cv: the training split and its folds, or, with no folds,
        training and held-out rows stacked with the split given as a predefined one."""
        data = workload.dataset
        fold = workload.configs[0].fold
        if fold is not None:
            from sklearn.model_selection import StratifiedKFold

            splitter = StratifiedKFold(fold.of, shuffle=True, random_state=fold.seed)
            return data.X_train, data.y_train, splitter
        n_train, n_test = data.n_train, data.n_test
        X = np.concatenate([data.X_train, data.X_test])
        y = np.concatenate([data.y_train, data.y_test])
        return X, y, [(np.arange(n_train), np.arange(n_train, n_train + n_test))]

    def _results(
        self,
        workload: Workload,
        table: dict[str, Any],
        order: list[tuple[int, int]],
        began: float,
        failures: list[str],
    ) -> list[TaskResult]:
        results: list[TaskResult] = []
        failure = _described(failures[0]) if failures else None
        for index, (config, (candidate, split)) in enumerate(
            zip(workload.configs, order, strict=True)
        ):
            column = f"split{split}_test_%s"
            score = float(table[column % "score"][candidate])
            seconds = float(table["mean_fit_time"][candidate] + table["mean_score_time"][candidate])
            if np.isnan(score):
                assert failure is not None, "GridSearchCV scored NaN without a FitFailedWarning"
                job = Job(index, config, workload.dataset, workload.seed)
                results.append(self.emit(self.policy.failed(job, failure, list(results))))
                continue
            ended = float(table[column % "ended"][candidate])
            result = TaskResult(
                index=index,
                config=config,
                accuracy=score,
                seconds=seconds,
                cpu=int(table[column % "cpu"][candidate]),
                pid=int(table[column % "pid"][candidate]),
                started=max(began, ended - seconds),
                ended=ended,
                extra={"timing": TIMING},
            )
            results.append(self.emit(result))
        return results


# Scorers GridSearchCV calls in the worker right after each fit: the score itself, and where
# and when the fit ran (cv_results_ keeps each scorer's value per split).
def _pid(estimator: Any, X: Any, y: Any) -> float:
    return float(os.getpid())


def _cpu(estimator: Any, X: Any, y: Any) -> float:
    from mlcpu.training.fit import current_cpu

    return float(current_cpu() or 0)


def _ended(estimator: Any, X: Any, y: Any) -> float:
    return time.perf_counter()


SCORING = {"score": "accuracy", "pid": _pid, "cpu": _cpu, "ended": _ended}


def _described(warning: str) -> Failure:
    """The first failure a ``FitFailedWarning`` lists: its traceback, exception type and message
    (the exception itself when it is a built-in one; the warning does not say which fit raised
    which, so a run with several different errors names the first for every failed fit)."""
    text = warning[warning.find("Traceback") :] if "Traceback" in warning else warning
    block = text.split("-" * 20)[0].strip()
    last = block.splitlines()[-1] if block else "Exception: a fit failed"
    kind, _, message = last.partition(": ")
    builtin = getattr(builtins, kind, None)
    exception = (
        builtin(message) if isinstance(builtin, type) and issubclass(builtin, Exception) else None
    )
    now = time.perf_counter()
    return Failure(kind, message, block, exception, os.getpid(), None, now, now)


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""
