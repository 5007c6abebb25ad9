"""mlcpu: which way of spreading model training over CPU cores is fastest, and how close to the
limit it gets.

Typical use::

    from mlcpu import load_dataset, make_configs, Workload, run
    results = run(Workload(load_dataset("iris"), make_configs([10, 50, 100, 200]), seed=0))

Names are imported on first use, so a worker process that needs only a small helper module
(``mlcpu.host.process_guard``) does not pay for importing scikit-learn first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlcpu._version import __version__

_EXPORTS = {
    "Dataset": "mlcpu.data.datasets",
    "load_dataset": "mlcpu.data.datasets",
    "InputError": "mlcpu.errors",
    "MissingExtraError": "mlcpu.errors",
    "MlcpuError": "mlcpu.errors",
    "TaskError": "mlcpu.errors",
    "TaskFailedError": "mlcpu.errors",
    "TaskTimeoutError": "mlcpu.errors",
    "WorkerDiedError": "mlcpu.errors",
    "RunResults": "mlcpu.records.results",
    "StrategyResult": "mlcpu.records.results",
    "RunListener": "mlcpu.runner",
    "Runner": "mlcpu.runner",
    "run": "mlcpu.runner",
    "Strategy": "mlcpu.strategies",
    "create_strategy": "mlcpu.strategies:create",
    "strategy_names": "mlcpu.strategies:names",
    "TaskResult": "mlcpu.records.task",
    "Timed": "mlcpu.records.task",
    "timer": "mlcpu.records.task",
    "train_task": "mlcpu.training.fit",
    "TaskConfig": "mlcpu.records.config",
    "Workload": "mlcpu.training.workload",
    "make_configs": "mlcpu.records.config",
    "make_grid": "mlcpu.records.config",
    "with_folds": "mlcpu.records.config",
    "Fold": "mlcpu.records.config",
}

__all__ = [
    "Dataset",
    "Fold",
    "InputError",
    "MissingExtraError",
    "MlcpuError",
    "RunListener",
    "RunResults",
    "Runner",
    "Strategy",
    "StrategyResult",
    "TaskConfig",
    "TaskError",
    "TaskFailedError",
    "TaskResult",
    "TaskTimeoutError",
    "Timed",
    "WorkerDiedError",
    "Workload",
    "__version__",
    "create_strategy",
    "load_dataset",
    "make_configs",
    "make_grid",
    "run",
    "strategy_names",
    "timer",
    "train_task",
    "with_folds",
]


def __getattr__(name: str) -> Any:
    try:
        module_name, _, attr = _EXPORTS[name].partition(":")
    except KeyError:
        raise AttributeError(f"module 'mlcpu' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from mlcpu.data.datasets import Dataset, load_dataset
    from mlcpu.errors import (
        InputError,
        MissingExtraError,
        MlcpuError,
        TaskError,
        TaskFailedError,
        TaskTimeoutError,
        WorkerDiedError,
    )
    from mlcpu.records.config import Fold, TaskConfig, make_configs, make_grid, with_folds
    from mlcpu.records.results import RunResults, StrategyResult
    from mlcpu.records.task import TaskResult, Timed, timer
    from mlcpu.runner import RunListener, Runner, run
    from mlcpu.strategies import Strategy
    from mlcpu.strategies import create as create_strategy
    from mlcpu.strategies import names as strategy_names
    from mlcpu.training.fit import train_task
    from mlcpu.training.workload import Workload
