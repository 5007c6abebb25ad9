"""``gridsearchcv``: scikit-learn's own ``GridSearchCV(n_jobs=workers)``, the reference users pick.

It searches the same candidates with the same splitter (``StratifiedKFold(K, shuffle=True,
random_state=seed)`` with ``--cv K``; without it the one training / held-out split, given as a
predefined split), every fit seeded like the other strategies', so its scores are the ones the
others must equal. It is timed like the others: its joblib (loky) workers are started and warmed
in start-up, then the search itself is the run. ``refit=False``: the run's ``best`` refit is
done once for all strategies, outside their timings.

What it cannot give: per-fit times and places. ``cv_results_`` keeps only a candidate's mean
fit and score times, so each of its tasks reports that mean, placed at the start of the run,
with no core or worker; and it cannot stop one fit (``--task-timeout`` is refused).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from mlcpu.engines.base import Engine
from mlcpu.engines.inprocess import InProcessEngine
from mlcpu.errors import InputError, TaskFailedError
from mlcpu.records.task import TaskResult
from mlcpu.strategies.base import Strategy
from mlcpu.training.workload import Workload

EXACT_TIMING = "mean fit + score time of the candidate's folds (cv_results_ keeps no per-fit time)"


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

    def _start(self) -> None:
        if self.workers > 1:
            from joblib import Parallel, delayed

            # Each worker imports and runs scikit-learn's forest code once, as the other pools'
            # warm-up does, so the first search does not pay for imports.
            Parallel(n_jobs=self.workers)(delayed(_warm)() for _ in range(2 * self.workers))

    def _close(self) -> None:
        if self.workers > 1:
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor(max_workers=self.workers).shutdown(wait=True)


class GridSearchCVStrategy(Strategy):
    name = "gridsearchcv"
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

    def _make_engine(self, workers: int) -> Engine:
        return _WarmLoky(workers, self.policy)

    def _run(self, workload: Workload, *, keep_estimators: bool) -> list[TaskResult]:
        from sklearn.model_selection import GridSearchCV

        search = self._search_of(workload)
        X, y, splits = self._data(workload)
        began = time.perf_counter()
        try:
            fitted = GridSearchCV(
                search["estimator"],
                search["grid"],
                cv=splits,
                n_jobs=self.workers,
                refit=False,
                error_score=np.nan if self.keep_going else "raise",
            ).fit(X, y)
        except Exception as exc:
            raise TaskFailedError(
                f"{self.name}: GridSearchCV failed: {type(exc).__name__}: {exc}",
                strategy=self.name,
            ) from exc
        return self._results(workload, fitted.cv_results_, search["order"], began)

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
        order = [
            (candidates.index(c.candidate), c.fold.index if c.fold else 0) for c in workload.configs
        ]
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

            return (
                data.X_train,
                data.y_train,
                StratifiedKFold(fold.of, shuffle=True, random_state=fold.seed),
            )
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
    ) -> list[TaskResult]:
        results = []
        for index, (config, (candidate, split)) in enumerate(
            zip(workload.configs, order, strict=True)
        ):
            score = float(table[f"split{split}_test_score"][candidate])
            seconds = float(table["mean_fit_time"][candidate] + table["mean_score_time"][candidate])
            failed = np.isnan(score)
            result = TaskResult(
                index=index,
                config=config,
                accuracy=None if failed else score,
                seconds=seconds,
                cpu=None,
                pid=os.getpid(),
                started=began,
                ended=began + seconds,
                worker="GridSearchCV",
                error=f"{self.name}: GridSearchCV scored this fit nan (it failed)"
                if failed
                else None,
                extra={"timing": EXACT_TIMING},
            )
            results.append(self.emit(result))
        return results
