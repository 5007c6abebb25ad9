"""A cross-validated search's scores, computed from its tasks as ``GridSearchCV`` computes them.

Each task of a ``--cv K`` run is one (candidate, fold) fit scored on that fold. Grouped by
candidate, the fold scores give ``mean_test_score``, ``std_test_score`` and
``rank_test_score`` with scikit-learn's own formulas (``BaseSearchCV._format_results``:
``np.average`` over folds, the root of the average squared deviation, and ``rankdata(-mean,
method="min")`` with failed candidates tied last), so they equal ``cv_results_`` bit for bit.
A plain record: numpy only, no scikit-learn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mlcpu.records.config import TaskConfig
from mlcpu.records.task import TaskResult


def is_search(tasks: Sequence[TaskResult]) -> bool:
    """Whether these are the tasks of a cross-validated run."""
    return any(task.config.fold is not None for task in tasks)


def completed(task_lists: Iterable[Sequence[TaskResult]]) -> list[TaskResult]:
    """The first of these (one per strategy) that is a search with every fold scored: the one
    to report, since every strategy scores the candidates identically (the accuracy check
    confirms it); no tasks if none is."""
    for tasks in task_lists:
        if is_search(tasks) and not any(task.error for task in tasks):
            return list(tasks)
    return []


def candidate_configs(tasks: Sequence[TaskResult]) -> list[TaskConfig]:
    """The candidates these tasks score, in the order ``candidates`` reports them."""
    ordered = sorted(tasks, key=lambda t: t.index)
    return list(dict.fromkeys(t.config.candidate for t in ordered if t.config.fold is not None))


def candidates(tasks: Sequence[TaskResult]) -> list[dict[str, Any]]:
    """One record per candidate, in workload order (ParameterGrid order), however the tasks
    arrived."""
    by_candidate: dict[TaskConfig, dict[int, float]] = {
        config: {} for config in candidate_configs(tasks)
    }
    folds = 0
    for task in tasks:
        fold = task.config.fold
        if fold is None:
            continue
        folds = max(folds, fold.of)
        by_candidate[task.config.candidate][fold.index] = (
            np.nan if task.accuracy is None else task.accuracy
        )
    if not by_candidate:
        return []
    table = np.array(
        [[scores.get(k, np.nan) for k in range(folds)] for scores in by_candidate.values()],
        dtype=np.float64,
    )
    means = np.average(table, axis=1)
    stds = np.sqrt(np.average((table - means[:, np.newaxis]) ** 2, axis=1))
    ranks = _ranks(means)
    return [
        {
            "params": config.grid_params(),
            "mean_test_score": _number(means[i]),
            "std_test_score": _number(stds[i]),
            "split_test_scores": [_number(x) for x in table[i]],
            "rank_test_score": int(ranks[i]),
        }
        for i, config in enumerate(by_candidate)
    ]


def best(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The candidate ``GridSearchCV`` picks: the first one ranked 1."""
    if not records:
        return None
    return min(records, key=lambda record: record["rank_test_score"])


def _ranks(means: np.ndarray) -> np.ndarray:
    """``rankdata(-means, method="min")``, failed (NaN) candidates tied with the worst."""
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int64)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return np.array([1 + int(np.sum(filled > value)) for value in filled], dtype=np.int64)


def _number(value: float) -> float | None:
    """JSON has no NaN: a candidate with a failed fold scores ``null``."""
    return None if np.isnan(value) else float(value)
