"""Which estimator a configuration trains: built-in names or a user's ``module:callable``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

from mlcpu.errors import InputError

# Built-in models: tree ensembles whose per-tree seeds scikit-learn draws in order from the
# forest's random_state, which tree-level strategies rely on.
BUILTIN_MODELS: dict[str, str] = {
    "random_forest": "sklearn.ensemble:RandomForestClassifier",
    "extra_trees": "sklearn.ensemble:ExtraTreesClassifier",
}
DEFAULT_MODEL = "random_forest"


def is_builtin(model: str) -> bool:
    return model in BUILTIN_MODELS


@cache
def resolve(model: str) -> Callable[..., Any]:
    """The class or factory behind a model name.

    A name outside ``BUILTIN_MODELS`` must be ``package.module:callable``; the callable is
    called as ``callable(n_estimators=..., random_state=..., n_jobs=..., **params)`` and must
    return a scikit-learn style classifier that honours ``random_state``.
    """
    target = BUILTIN_MODELS.get(model, model)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(
            f"unknown model {model!r}; choose one of {', '.join(BUILTIN_MODELS)} "
            "or give an import path such as 'my_package.my_module:make_classifier'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(
            f"cannot import module {module_name!r} for model {model!r}: {exc}"
        ) from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise InputError(
            f"module {module_name!r} has no attribute {attr!r} (model {model!r})"
        ) from None
    if not callable(factory):
        raise InputError(f"model {model!r} is not callable")
    return factory


def build(
    model: str, n_estimators: int, *, random_state: int, n_jobs: int = 1, **params: Any
) -> Any:
    """Instantiate one configuration's estimator."""
    return resolve(model)(
        n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs, **params
    )
