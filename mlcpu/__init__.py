"""mlcpu: which way of spreading model training over CPU cores is fastest, and how close to the
limit it gets.

Typical use::

    from mlcpu import load_dataset, make_configs, Workload, run
    results = run(Workload(load_dataset("iris"), make_configs([10, 50, 100, 200]), seed=0))
"""

from mlcpu._version import __version__
from mlcpu.data import Dataset, load_dataset
from mlcpu.errors import (
    InputError,
    MissingExtraError,
    MlcpuError,
    TaskError,
    TaskFailedError,
    TaskTimeoutError,
    WorkerDiedError,
)
from mlcpu.results import RunResults, StrategyResult
from mlcpu.runner import RunListener, Runner, run
from mlcpu.strategies import Strategy
from mlcpu.strategies import create as create_strategy
from mlcpu.strategies import names as strategy_names
from mlcpu.training import TaskResult, Timed, timer, train_task
from mlcpu.workload import TaskConfig, Workload, make_configs

__all__ = [
    "Dataset",
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
    "run",
    "strategy_names",
    "timer",
    "train_task",
]
