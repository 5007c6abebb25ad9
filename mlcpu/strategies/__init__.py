"""The registry of execution strategies: a name maps to a ``Strategy`` class.

Every strategy is registered by import path (``"module:Class"``) and imported only when it is
asked for, so listing the names imports no engine, and a strategy whose optional packages are
missing is still listed and, when chosen, fails with an error naming the extra to install.
A strategy's summary and options come from its class only.

A strategy registered with ``engines`` can also run its plan on another engine under the name
``NAME@ENGINE`` (``balanced@dask``): made on first use from the strategy's class by that
engine's module, and not part of ``names()`` (nor of ``--strategies all``).
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
    "choices",
    "create",
    "create_shared",
    "get",
    "known",
    "names",
    "options",
    "register",
    "register_lazy",
    "summaries",
    "variants",
]

_registry: dict[str, type[Strategy] | str] = {}
# Engines a registered plan can move to, by name, and the function that moves it there.
_ENGINES: dict[str, str] = {"dask": "mlcpu.strategies.on_dask:on_dask"}
_movable: dict[str, tuple[str, ...]] = {}
_moved_classes: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy class under its ``name`` (usable as a class decorator)."""
    _registry[cls.name] = cls
    return cls


def register_lazy(name: str, import_path: str, *, engines: tuple[str, ...] = ()) -> None:
    """Add a strategy imported only when chosen: ``import_path`` is ``"module:Class"``.

    ``engines`` names the other engines its plan runs on, as ``NAME@ENGINE``.
    """
    _registry[name] = import_path
    unknown = [e for e in engines if e not in _ENGINES]
    if unknown:
        raise ValueError(f"no engine {unknown[0]!r}; engines: {', '.join(_ENGINES)}")
    _movable[name] = engines


def variants() -> list[str]:
    """Every ``NAME@ENGINE``: a registered plan on another engine."""
    return [f"{name}@{engine}" for name, engines in _movable.items() for engine in engines]


def known(name: str) -> bool:
    """Whether ``name`` is a registered strategy or one of its engine variants."""
    return name in _registry or name in variants()


def choices() -> str:
    """The valid names, for an error message."""
    return f"{', '.join(names())} (or 'all'), or a plan on Dask: {', '.join(variants())}"


def names() -> list[str]:
    """Every registered strategy name, in registration order."""
    return list(_registry)


def summaries() -> dict[str, str]:
    """Each usable strategy's one-line summary, as its class states it."""
    return {name: get(name).summary for name in names() if available(name)}


def get(name: str) -> type[Strategy]:
    """The class registered as ``name``; an unknown name lists the valid ones."""
    if name in variants():
        if name not in _moved_classes:  # made by the engine's module from the strategy's class
            base, engine = name.split("@")
            _moved_classes[name] = _load(_ENGINES[engine])(get(base))
        return _moved_classes[name]
    try:
        entry = _registry[name]
    except KeyError:
        raise InputError(f"unknown strategy {name!r}; choose from {choices()}") from None
    if isinstance(entry, str):
        entry = _registry[name] = _load(entry)
    return entry


def _load(path: str) -> Any:
    """What ``"module:attr"`` names, imported now."""
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


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
            key in options(other)
            for other in [*names(), *variants()]
            if other != name and available(other)
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


# Our own plans run on Dask too; the others are defined by their engine (joblib is loky).
_PLANS_THAT_MOVE = ("incremental", "balanced", "auto")
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
    ("gridsearchcv", "mlcpu.strategies.gridsearch:GridSearchCVStrategy"),
):
    register_lazy(_name, _path, engines=("dask",) if _name in _PLANS_THAT_MOVE else ())
