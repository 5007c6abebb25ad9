"""What to train: model configurations over one dataset with one seed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcpu import models
from mlcpu.data import Dataset
from mlcpu.errors import InputError

DEFAULT_ESTIMATORS: tuple[int, ...] = (10, 50, 100, 200)


@dataclass(frozen=True)
class TaskConfig:
    """One model configuration: a model, its number of trees and any other parameters."""

    n_estimators: int
    model: str = models.DEFAULT_MODEL
    params: tuple[tuple[str, Any], ...] = ()

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
    def label(self) -> str:
        """How reports name this configuration, e.g. ``100 estimators, max_depth=5``."""
        extra = "".join(f", {k}={v}" for k, v in self.params)
        model = "" if self.model == models.DEFAULT_MODEL else f" ({self.model})"
        return f"{self.n_estimators} estimators{extra}{model}"

    def build(self, *, random_state: int, n_jobs: int = 1) -> Any:
        return models.build(
            self.model,
            self.n_estimators,
            random_state=random_state,
            n_jobs=n_jobs,
            **self.param_dict,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "model": self.model, "params": self.param_dict}


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


@dataclass(frozen=True)
class Workload:
    """A dataset, the configurations to train on it, and the seed every model uses."""

    dataset: Dataset
    configs: tuple[TaskConfig, ...]
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.configs:
            raise InputError("a workload needs at least one configuration")
        object.__setattr__(self, "configs", tuple(self.configs))

    def describe(self) -> dict[str, Any]:
        models_used = sorted({c.model for c in self.configs})
        params = [c.param_dict for c in self.configs]
        return {
            **self.dataset.describe(),
            "estimators": [c.n_estimators for c in self.configs],
            "seed": self.seed,
            "model": models_used[0] if len(models_used) == 1 else models_used,
            "params": params[0] if all(p == params[0] for p in params) else params,
            **self.options,
        }


def validate(workload: Workload) -> None:
    """Fail early, in the parent, on a model or parameter the estimator would reject.

    A one-tree fit on a few rows runs scikit-learn's own parameter checks, so the user gets
    its message at once instead of a traceback from a worker later.
    """
    rows = min(50, workload.dataset.n_train)
    X = workload.dataset.X_train[:rows]
    y = workload.dataset.y_train[:rows]
    checked: set[tuple[str, tuple[tuple[str, Any], ...]]] = set()
    for config in workload.configs:
        key = (config.model, config.params)
        if key in checked:
            continue
        checked.add(key)
        probe = TaskConfig(1, model=config.model, params=config.params)
        try:
            estimator = probe.build(random_state=workload.seed)
        except TypeError as exc:
            raise InputError(f"model {config.model!r} rejected its parameters: {exc}") from None
        for method in ("fit", "predict"):
            if not callable(getattr(estimator, method, None)):
                raise InputError(f"model {config.model!r} built an object without {method}()")
        try:
            estimator.fit(X, y)
        except (ValueError, TypeError) as exc:
            raise InputError(f"model {config.model!r}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
