"""Datasets: load once in the parent, split once (stratified, seeded), share with workers.

Features are stored as C-contiguous float32, the precision scikit-learn's trees compute in, so
``fit`` makes no per-task copy and results are identical to passing float64.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlcpu.data.arrays import FEATURE_DTYPE, check_memory
from mlcpu.errors import InputError

# Bundled datasets: each name is loaded by ``sklearn.datasets.load_<name>``. scikit-learn is
# imported when data are loaded, not with this module, so reading results never imports it.
BUNDLED: tuple[str, ...] = ("iris", "digits", "wine", "breast_cancer")
SYNTHETIC = "synthetic"
DATASET_NAMES: tuple[str, ...] = (*BUNDLED, SYNTHETIC)

DEFAULT_N_SAMPLES = 10_000
DEFAULT_N_FEATURES = 20
DEFAULT_TEST_SIZE = 0.2
MIN_SYNTHETIC_SAMPLES = 20


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset split into train and test parts, plus what is needed to describe it."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    classes: tuple[str, ...]
    seed: int
    test_size: float
    source: str
    generator: dict[str, Any] = field(default_factory=dict)

    @property
    def shared_folder(self) -> str | None:
        """The folder its arrays are memory-mapped from when they are shared with worker
        processes (``mlcpu.data.shared``); ``None`` for arrays this process holds."""
        return None

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    @property
    def n_samples(self) -> int:
        return self.n_train + self.n_test

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.X_train, self.X_test, self.y_train, self.y_test))

    def describe(self) -> dict[str, Any]:
        """The workload-facing facts, as stored in result JSON."""
        return {
            "dataset": self.name,
            "source": self.source,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "target": self.target_name,
            "test_size": self.test_size,
            "nbytes": self.nbytes,
            **({"generator": self.generator} if self.generator else {}),
        }


def is_csv_path(name: str) -> bool:
    """A dataset argument names a file when it looks like a path rather than a bundled name."""
    return name not in DATASET_NAMES and (
        name.lower().endswith((".csv", ".tsv", ".txt")) or os.sep in name or os.path.exists(name)
    )


def load_dataset(
    name: str,
    *,
    n_samples: int = DEFAULT_N_SAMPLES,
    n_features: int = DEFAULT_N_FEATURES,
    target: str | None = None,
    seed: int = 0,
    test_size: float = DEFAULT_TEST_SIZE,
) -> Dataset:
    """Load a bundled, synthetic or CSV dataset and split it once, stratified and seeded.

    ``n_samples`` and ``n_features`` apply to ``synthetic`` only; ``target`` to CSV files only
    (default: the last column).
    """
    _check_seed(seed)
    _check_test_size(test_size)
    if target is not None and not is_csv_path(name):
        raise InputError(f"--target applies to CSV files only, not to the {name!r} dataset")
    generator: dict[str, Any] = {}
    if name == SYNTHETIC:
        X, y, feature_names, target_name, classes, generator = _make_synthetic(
            n_samples, n_features, seed
        )
        source = "sklearn.datasets.make_classification"
    elif name in BUNDLED:
        X, y, feature_names, target_name, classes = _load_bundled(name)
        source = f"sklearn.datasets.load_{name}"
    elif is_csv_path(name):
        from mlcpu.data.csv_files import read_csv

        table = read_csv(name, target=target)
        X, labels = table.X, table.labels
        feature_names, target_name = table.feature_names, table.target_name
        class_values, y = np.unique(labels, return_inverse=True)
        classes = [str(c) for c in class_values]
        source = str(Path(name).resolve())
    else:
        raise InputError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)} "
            "or give the path of a .csv file"
        )
    X_train, X_test, y_train, y_test = split(X, y, classes, target_name, seed, test_size)
    return Dataset(
        name=name,
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        feature_names=tuple(feature_names),
        target_name=target_name,
        classes=tuple(classes),
        seed=seed,
        test_size=test_size,
        source=source,
        generator=generator,
    )


def split(
    X: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...] | list[str],
    target_name: str,
    seed: int,
    test_size: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded train/test split with errors that say which class is too small."""
    n = len(y)
    counts = np.bincount(y, minlength=len(classes))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        only = classes[int(present[0])] if len(present) else "nothing"
        raise InputError(
            f"target {target_name!r} has a single class ({only!r}); "
            "a classifier needs at least 2 classes"
        )
    smallest = int(present[np.argmin(counts[present])])
    if counts[smallest] < 2:
        raise InputError(
            f"class {classes[smallest]!r} of target {target_name!r} has only "
            f"{counts[smallest]} row; a stratified split needs at least 2 rows per class"
        )
    n_test = math.ceil(test_size * n)
    if n_test < len(present) or n - n_test < len(present):
        raise InputError(
            f"a test size of {test_size} leaves {n_test} test and {n - n_test} training rows for "
            f"{len(present)} classes; a stratified split needs at least one row per class in each"
        )
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    return (
        np.ascontiguousarray(X_train, dtype=FEATURE_DTYPE),
        np.ascontiguousarray(X_test, dtype=FEATURE_DTYPE),
        np.ascontiguousarray(y_train, dtype=np.int64),
        np.ascontiguousarray(y_test, dtype=np.int64),
    )


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not (0 <= seed < 2**32):
        raise InputError(f"seed must be an integer from 0 to 4294967295, got {seed!r}")


def _check_test_size(test_size: float) -> None:
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, int | float)
        or not (0.0 < test_size < 1.0)
    ):
        raise InputError(f"test size must be a fraction between 0 and 1, got {test_size!r}")


def _load_bundled(name: str) -> tuple[np.ndarray, np.ndarray, list[str], str, list[str]]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    feature_names = [str(f) for f in bunch.feature_names]
    classes = [str(c) for c in bunch.target_names] if "target_names" in bunch else []
    y = np.asarray(bunch.target, dtype=np.int64)
    if not classes or len(classes) != int(y.max()) + 1:
        classes = [str(c) for c in range(int(y.max()) + 1)]
    return np.asarray(bunch.data), y, feature_names, "target", classes


def _make_synthetic(
    n_samples: int, n_features: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[str], str, list[str], dict[str, Any]]:
    for option, value, low in (
        ("--n-samples", n_samples, MIN_SYNTHETIC_SAMPLES),
        ("--n-features", n_features, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise InputError(f"{option} must be an integer >= {low}, got {value!r}")
    check_memory(n_samples * n_features * 8, f"synthetic data of {n_samples} x {n_features}")
    # The tutorial's generator: 10 informative and 10 redundant features out of 20; fewer
    # features keep the same half-and-half shape.
    n_informative = min(10, max(2, n_features // 2))
    n_redundant = min(10, n_features - n_informative)
    params = {
        "n_samples": n_samples,
        "n_features": n_features,
        "n_informative": n_informative,
        "n_redundant": n_redundant,
        "n_classes": 2,
        "random_state": seed,
    }
    from sklearn.datasets import make_classification

    X, y = make_classification(**params)
    feature_names = [f"x{i}" for i in range(n_features)]
    return X.astype(FEATURE_DTYPE), y.astype(np.int64), feature_names, "y", ["0", "1"], params
