"""What one configuration is: a model, its number of trees and any other parameters.

A plain record (scikit-learn is imported only when a configuration builds its estimator), so
results that name their configurations load without the training stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlcpu.errors import InputError
from mlcpu.records import models

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
