"""What to train: model configurations over one dataset with one seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlcpu.data.datasets import Dataset
from mlcpu.errors import InputError
from mlcpu.records.config import TaskConfig


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
        candidates = list(dict.fromkeys(c.candidate for c in self.configs))
        params = [dict(p) for p in dict.fromkeys(c.params for c in candidates)]
        return {
            **self.dataset.describe(),
            "estimators": list(dict.fromkeys(c.n_estimators for c in candidates)),
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
    for model, params in dict.fromkeys((c.model, c.params) for c in workload.configs):
        probe = TaskConfig(1, model=model, params=params)
        try:
            estimator = probe.build(random_state=workload.seed)
        except TypeError as exc:
            raise InputError(f"model {model!r} rejected its parameters: {exc}") from None
        for method in ("fit", "predict"):
            if not callable(getattr(estimator, method, None)):
                raise InputError(f"model {model!r} built an object without {method}()")
        try:
            estimator.fit(X, y)
        except (ValueError, TypeError) as exc:
            raise InputError(f"model {model!r}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
