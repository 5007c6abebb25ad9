"""Training one configuration: the unit of work every strategy shares.

Its result record (``TaskResult``) lives in ``mlcpu.records.task``, which reading a result
file imports alone.
"""

from __future__ import annotations

import time

import numpy as np
import psutil

from mlcpu.data.datasets import Dataset
from mlcpu.records.config import TaskConfig
from mlcpu.records.task import TaskResult
from mlcpu.training.folds import fit_rows, score_rows


def current_cpu() -> int | None:
    """The CPU core the calling *thread* is on right now.

    psutil's ``cpu_num()`` reports the process's main thread; a thread strategy needs the
    calling thread's, which Linux exposes in ``/proc/thread-self/stat`` (field 39).
    """
    try:
        with open("/proc/thread-self/stat", "rb") as fh:
            stat = fh.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[36])
    except (OSError, ValueError, IndexError):
        try:
            return int(psutil.Process().cpu_num())
        except (AttributeError, psutil.Error):
            return None


def train_task(
    index: int,
    config: TaskConfig,
    dataset: Dataset,
    seed: int,
    *,
    n_jobs: int = 1,
    keep_estimator: bool = False,
) -> TaskResult:
    """Fit one configuration on the training split and score it on the held-out split."""
    cpu = current_cpu()
    started = time.perf_counter()
    estimator = config.build(random_state=seed, n_jobs=n_jobs)
    estimator.fit(*fit_rows(dataset, config))
    X, y = score_rows(dataset, config)
    accuracy = float(np.mean(estimator.predict(X) == y))
    kept = estimator if keep_estimator else None
    return TaskResult.ended_here(index, config, started, cpu, accuracy=accuracy, estimator=kept)
