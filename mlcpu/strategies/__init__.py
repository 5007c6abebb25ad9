"""The registry of execution strategies: a name maps to a ``Strategy`` class.

Every strategy is registered by import path (``"module:Class"``) and imported only when it is
asked for, so listing the names imports no engine, and a strategy whose optional packages are
missing is still listed and, when chosen, fails with an error naming the extra to install.
A strategy's summary and options come from its class only.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlcpu.errors import InputError

if TYPE_CHECKING:
    from mlcpu.strategies.base import Strategy

__all__ = [
    "Strategy",
    "available",
    "create",
    "create_shared",
    "get",
    "names",
    "options",
    "register",
    "register_lazy",
    "summaries",
]

_registry: dict[str, type[Strategy] | str] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy class under its ``name`` (usable as a class decorator)."""
    _registry[cls.name] = cls
    return cls


def register_lazy(name: str, import_path: str) -> None:
    """Add a strategy imported only when chosen: ``import_path`` is ``"module:Class"``."""
    _registry[name] = import_path


def names() -> list[str]:
    """Every registered strategy name, in registration order."""
    return list(_registry)


def summaries() -> dict[str, str]:
    """Each usable strategy's one-line summary, as its class states it."""
    return {name: get(name).summary for name in names() if available(name)}


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


def options(name: str) -> tuple[str, ...]:
    """The keyword options the strategy's constructor accepts, in signature order."""
    accepted: dict[str, None] = {}
    for klass in get(name).__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for parameter in list(inspect.signature(init).parameters.values())[1:]:
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                accepted.setdefault(parameter.name)
    return tuple(accepted)


def create(name: str, **given: Any) -> Strategy:
    """Instantiate ``name`` with ``given`` options; an option it does not have is refused.

    An option set to ``None`` means "the default" and is left out.
    """
    accepted = options(name)
    unknown = [key for key in given if key not in accepted]
    if unknown:
        raise InputError(
            f"strategy {name!r} has no option {unknown[0]!r}; "
            f"it accepts {', '.join(accepted) or 'no options'}"
        )
    return get(name)(**{k: v for k, v in given.items() if v is not None})


def create_shared(name: str, shared: Mapping[str, Any]) -> Strategy:
    """Instantiate ``name`` from options every strategy of a run shares (the command line).

    Each strategy takes the shared options it has, so ``start_method`` reaches only the
    strategies with one; an option that no usable strategy has is refused, as by ``create``.
    """
    accepted = options(name)
    given = {key: value for key, value in shared.items() if value is not None}
    for key in given:
        if key not in accepted and not any(
            key in options(other) for other in names() if other != name and available(other)
        ):
            raise InputError(
                f"no strategy has an option {key!r}; {name!r} accepts {', '.join(accepted)}"
            )
    return create(name, **{k: v for k, v in given.items() if k in accepted})


def __getattr__(attr: str) -> Any:
    if attr == "Strategy":  # the base class, imported on first use like the strategies
        from mlcpu.strategies.base import Strategy

        return Strategy
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


for _name, _path in (
    ("sequential", "mlcpu.strategies.inprocess:SequentialStrategy"),
    ("joblib", "mlcpu.strategies.pools:JoblibStrategy"),
    ("multiprocessing", "mlcpu.strategies.pools:MultiprocessingStrategy"),
    ("threads", "mlcpu.strategies.pools:ThreadsStrategy"),
    ("sklearn", "mlcpu.strategies.inprocess:SklearnStrategy"),
    ("incremental", "mlcpu.strategies.incremental:IncrementalStrategy"),
    ("balanced", "mlcpu.strategies.balanced:BalancedStrategy"),
    ("auto", "mlcpu.strategies.auto:AutoStrategy"),
    ("dask", "mlcpu.strategies.on_dask:DaskStrategy"),
):
    register_lazy(_name, _path)
