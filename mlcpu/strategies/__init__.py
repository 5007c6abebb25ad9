"""The registry of execution strategies: a name maps to a ``Strategy`` class.

Strategies that need optional packages register an import path instead of a class, so that
``mlcpu run --strategies NAME`` can list them and, when chosen without the package installed,
fail with an error naming the extra to install.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from mlcpu.errors import InputError
from mlcpu.strategies.base import Strategy
from mlcpu.strategies.incremental import IncrementalStrategy
from mlcpu.strategies.inprocess import SequentialStrategy, SklearnStrategy
from mlcpu.strategies.pools import JoblibStrategy, MultiprocessingStrategy, ThreadsStrategy

__all__ = [
    "Strategy",
    "available",
    "create",
    "get",
    "names",
    "register",
    "register_lazy",
]

_registry: dict[str, type[Strategy] | str] = {}
_summaries: dict[str, str] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy class under its ``name`` (usable as a class decorator)."""
    _registry[cls.name] = cls
    _summaries[cls.name] = cls.summary
    return cls


def register_lazy(name: str, import_path: str, summary: str) -> None:
    """Add a strategy imported only when chosen: ``import_path`` is ``"module:Class"``."""
    _registry[name] = import_path
    _summaries[name] = summary


def names() -> list[str]:
    """Every registered strategy name, in registration order."""
    return list(_registry)


def summaries() -> dict[str, str]:
    return dict(_summaries)


def get(name: str) -> type[Strategy]:
    """The class registered as ``name``; an unknown name lists the valid ones."""
    try:
        entry = _registry[name]
    except KeyError:
        raise InputError(
            f"unknown strategy {name!r}; choose from {', '.join(names())} (or 'all')"
        ) from None
    if isinstance(entry, str):
        module_name, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module_name), attr)
        _registry[name] = entry
    return entry


def available(name: str) -> bool:
    """Whether ``name`` can be used here (its optional dependencies import)."""
    try:
        get(name)
    except ImportError:
        return False
    return True


def create(name: str, **options: Any) -> Strategy:
    """Instantiate ``name`` with the options its constructor accepts; the rest are ignored.

    Every strategy shares one command line, so options such as ``start_method`` reach only
    the strategies that have them.
    """
    cls = get(name)
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            accepted |= set(inspect.signature(init).parameters)
    return cls(**{k: v for k, v in options.items() if k in accepted and v is not None})


for _cls in (
    SequentialStrategy,
    JoblibStrategy,
    MultiprocessingStrategy,
    ThreadsStrategy,
    SklearnStrategy,
    IncrementalStrategy,
):
    register(_cls)
register_lazy(
    "balanced",
    "mlcpu.strategies.balanced:BalancedStrategy",
    "trees, not configurations: forests cut into pieces sized to the work, largest first over "
    "a warm fork pool, joined back into identical forests",
)
register_lazy(
    "auto",
    "mlcpu.strategies.auto:AutoStrategy",
    "chooses for this workload and machine: sequential when no pool pays for its cost, else "
    "balanced; says which and why",
)
register_lazy(
    "dask",
    "mlcpu.strategies.dask_cluster:DaskStrategy",
    "Dask distributed: an embedded LocalCluster of single-threaded worker processes, or an "
    "existing cluster with --scheduler (needs the extra: pip install 'mlcpu[dask]')",
)
