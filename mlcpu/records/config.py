"""What one configuration is: a model, its number of trees, any other parameters, and the fold.

A plain record (scikit-learn is imported only when a configuration builds its estimator), so
results that name their configurations load without the training stack. Without a fold a
configuration trains on the training split and is scored on the held-out split; with one
(``--cv K``) it trains and is scored on that fold of the training split, as one
(candidate, split) fit of ``GridSearchCV`` is.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcpu.errors import InputError
from mlcpu.records import models

DEFAULT_ESTIMATORS: tuple[int, ...] = (10, 50, 100, 200)


@dataclass(frozen=True)
class Fold:
    """Split ``index`` of ``StratifiedKFold(of, shuffle=True, random_state=seed)`` on the
    training split: the folds are a pure function of these three numbers and the labels, so a
    worker recomputes them instead of receiving index arrays with every task."""

    index: int
    of: int
    seed: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.of or self.of < 2:
            raise InputError(
                f"fold {self.index} of {self.of} does not exist (need 0 <= i < K, K >= 2)"
            )


@dataclass(frozen=True)
class TaskConfig:
    """One model configuration: a model, its number of trees, other parameters, and the
    fold it is trained and scored on (``None``: the training and held-out splits)."""

    n_estimators: int
    model: str = models.DEFAULT_MODEL
    params: tuple[tuple[str, Any], ...] = ()
    fold: Fold | None = None

    def __post_init__(self) -> None:
        n = self.n_estimators
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InputError(f"n_estimators must be a positive integer, got {n!r}")
        object.__setattr__(self, "n_estimators", int(n))
        object.__setattr__(self, "params", tuple(sorted(dict(self.params).items())))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def family(self) -> tuple[Any, ...]:
        """What configurations share when they differ only in their number of trees: the
        first ``n`` trees of one forest of the family are its ``n``-tree configuration."""
        return (self.model, self.params, self.fold)

    @property
    def candidate(self) -> TaskConfig:
        """This configuration without its fold: what a cross-validated search scores."""
        return TaskConfig(self.n_estimators, self.model, self.params)

    @property
    def label(self) -> str:
        """How reports name this configuration, e.g. ``100 estimators, max_depth=5``."""
        extra = "".join(f", {k}={v}" for k, v in self.params)
        model = "" if self.model == models.DEFAULT_MODEL else f" ({self.model})"
        fold = "" if self.fold is None else f", fold {self.fold.index + 1} of {self.fold.of}"
        return f"{self.n_estimators} estimators{extra}{model}{fold}"

    def build(self, *, random_state: int, n_jobs: int = 1) -> Any:
        return models.build(
            self.model,
            self.n_estimators,
            random_state=random_state,
            n_jobs=n_jobs,
            **self.param_dict,
        )

    def grid_params(self) -> dict[str, Any]:
        """The candidate's parameters as ``GridSearchCV`` names them (n_estimators included)."""
        return {"n_estimators": self.n_estimators, **self.param_dict}

    def as_dict(self) -> dict[str, Any]:
        record = {"n_estimators": self.n_estimators, "model": self.model, "params": self.param_dict}
        if self.fold is not None:
            record["fold"] = self.fold.index
            record["cv"] = self.fold.of
            record["cv_seed"] = self.fold.seed
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TaskConfig:
        fold = record.get("fold")
        return cls(
            record["n_estimators"],
            model=record.get("model", models.DEFAULT_MODEL),
            params=tuple((record.get("params") or {}).items()),
            fold=None if fold is None else Fold(fold, record["cv"], record.get("cv_seed", 0)),
        )


def make_configs(
    estimators: Iterable[int],
    *,
    model: str = models.DEFAULT_MODEL,
    params: Mapping[str, Any] | None = None,
) -> tuple[TaskConfig, ...]:
    """The tutorial's sweep: the same model at several forest sizes, in the order given."""
    counts = list(estimators)
    if not counts:
        raise InputError("estimators must list at least one positive integer")
    duplicates = sorted({n for n in counts if counts.count(n) > 1})
    if duplicates:
        raise InputError(f"estimators must not repeat a value, got {duplicates[0]!r} twice")
    frozen = tuple((params or {}).items())
    return tuple(TaskConfig(n, model=model, params=frozen) for n in counts)


def make_grid(
    estimators: Iterable[int],
    *,
    model: str = models.DEFAULT_MODEL,
    grid: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[TaskConfig, ...]:
    """Every combination of the values given, in scikit-learn's ``ParameterGrid`` order.

    ``ParameterGrid`` sorts the parameter names (``n_estimators`` among them) and varies the
    last one fastest, each over its values in the order given; following it lets a result's
    candidates line up one to one with ``GridSearchCV(...).cv_results_``. With one value per
    parameter this is the tutorial's sweep: the forest sizes in the order given.
    """
    counts = list(make_configs(estimators))  # the same checks as a plain sweep
    axes: dict[str, list[Any]] = {"n_estimators": [c.n_estimators for c in counts]}
    for name, values in (grid or {}).items():
        values = list(values)
        if not values:
            raise InputError(f"parameter {name} needs at least one value, got an empty list")
        if len(set(map(repr, values))) != len(values):
            raise InputError(f"parameter {name} lists a value twice: {values!r}")
        axes[name] = values
    names = sorted(axes)
    configs = []
    for combination in itertools.product(*(axes[name] for name in names)):
        chosen = dict(zip(names, combination, strict=True))
        trees = chosen.pop("n_estimators")
        configs.append(TaskConfig(trees, model=model, params=tuple(chosen.items())))
    return tuple(configs)


def with_folds(candidates: Sequence[TaskConfig], cv: int, seed: int) -> tuple[TaskConfig, ...]:
    """Each candidate on each of ``cv`` folds, candidate by candidate (GridSearchCV's order)."""
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise InputError(f"cv must be an integer of at least 2 folds, got {cv!r}")
    return tuple(
        TaskConfig(c.n_estimators, c.model, c.params, Fold(k, cv, seed))
        for c in candidates
        for k in range(cv)
    )
