"""Which rows a task trains and is scored on: the two splits, or one fold of the training split.

A fold is index arrays into the one shared training split, recomputed where the task runs
(``StratifiedKFold`` on the labels is a pure function of K, the seed and the labels, and takes
well under a millisecond next to any fit), so no task carries rows or indices. A fit gathers
its fold's rows, as ``GridSearchCV`` does (``X[train]``); that copy lives for the fit only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlcpu.data.datasets import Dataset
from mlcpu.errors import InputError
from mlcpu.records.config import Fold, TaskConfig

_cache: dict[tuple[int, int, int, int], list[tuple[np.ndarray, np.ndarray]]] = {}


def fold_indices(y: np.ndarray, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of ``fold``: GridSearchCV's ``cv.split(X, y)``, that split."""
    key = (hash(np.ascontiguousarray(y).tobytes()), len(y), fold.of, fold.seed)
    if key not in _cache:
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=fold.of, shuffle=True, random_state=fold.seed)
        _cache.clear()  # one workload at a time
        _cache[key] = list(splitter.split(np.zeros(len(y)), y))
    return _cache[key][fold.index]


def fit_rows(dataset: Dataset, config: TaskConfig) -> tuple[Any, Any]:
    """The features and labels ``config`` is trained on."""
    if config.fold is None:
        return dataset.X_train, dataset.y_train
    train, _ = fold_indices(dataset.y_train, config.fold)
    return dataset.X_train[train], dataset.y_train[train]


def score_rows(dataset: Dataset, config: TaskConfig) -> tuple[Any, Any]:
    """The features and labels ``config`` is scored on."""
    if config.fold is None:
        return dataset.X_test, dataset.y_test
    _, test = fold_indices(dataset.y_train, config.fold)
    return dataset.X_train[test], dataset.y_train[test]


def check_folds(dataset: Dataset, cv: int) -> None:
    """Refuse a K that some class of the training split cannot fill (StratifiedKFold would
    only warn, then score folds that miss that class)."""
    _, counts = np.unique(dataset.y_train, return_counts=True)
    smallest = int(counts.min())
    if smallest < 2:
        raise InputError(
            f"--cv needs at least 2 training rows of every class; a class of {dataset.name!r}'s "
            "training split has 1, so it cannot be cross-validated"
        )
    if cv > smallest:
        raise InputError(
            f"--cv {cv} needs at least {cv} training rows of every class; the smallest class "
            f"of {dataset.name!r}'s training split has {smallest} (use --cv 2..{smallest})"
        )
