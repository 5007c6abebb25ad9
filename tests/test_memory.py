"""The dataset sits in memory once, whichever strategy runs: peak PSS of the process tree.

A real ``mlcpu run`` trains on a 200 MB dataset (50 000 x 1000 float32) with 2 workers; the
proportional set size (PSS: shared pages split between the processes that map them) of the
whole process tree is sampled while it trains. Pickling the data into each task, or a private
copy per worker, would add a dataset per worker; one shared copy adds one.

A fresh Python that imports scikit-learn holds about 140 MB of private memory by itself, so
strategies whose workers are new interpreters (joblib's loky, spawn, forkserver) pay that per
worker whatever the data. The bound below is therefore on what the *data* adds: the peak minus
the peak of the same run on a tiny dataset. The absolute ratio is reported beside it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil
import pytest

from tests.conftest import ROOT, cli_env

BIG = ("--n-samples", "50000", "--n-features", "1000")
TINY = ("--n-samples", "200", "--n-features", "1000")
STRATEGIES = [
    "sequential",
    "joblib",
    "multiprocessing",
    "threads",
    "sklearn",
    "incremental",
    "balanced",
    "dask",
]
REPORT: dict[str, dict[str, float]] = {}
# What the data may add to the peak, in datasets: one copy plus slack; a second copy anywhere
# would add a whole 1.0 more.
ADDED_BOUND = 1.3


def peak_training_pss(strategy: str, size: tuple[str, ...], *extra: str) -> tuple[float, float]:
    """Peak PSS (MiB) of the process tree while training, and the dataset's size (MiB)."""
    with subprocess.Popen(
        [sys.executable, "-m", "mlcpu", "run", "--dataset", "synthetic", *size,
         "--estimators", "4,6", "--max-depth", "4", "--workers", "2", "--strategies", strategy,
         *extra],
        cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        loaded = threading.Event()

        def watch_output() -> None:
            assert process.stdout is not None
            for line in process.stdout:  # the header is printed once the data are loaded
                if line.startswith("mlcpu | "):
                    loaded.set()

        reader = threading.Thread(target=watch_output, daemon=True)
        reader.start()
        root = psutil.Process(process.pid)
        assert loaded.wait(180), "mlcpu never finished loading the data"
        peak, previous, backwards = 0, 0, False
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            total = tree_pss(tree[::-1] if backwards else tree)
            # PSS is read one process at a time: while workers are mapping the shared data, a
            # page read in the parent before a worker mapped it and in the worker after is
            # counted more than once (up to +30% of the data on a loaded machine). A peak must
            # therefore hold across two consecutive samples, read in opposite orders.
            peak = max(peak, min(previous, total))
            previous, backwards = total, not backwards
            time.sleep(0.02)
        reader.join(timeout=10)
        assert process.wait(timeout=300) == 0, process.stderr.read() if process.stderr else ""
    rows, features = int(size[1]), int(size[3])
    return peak / 2**20, rows * features * 4 / 2**20


def tree_pss(processes: list[psutil.Process]) -> int:
    total = 0
    for member in processes:
        try:
            total += member.memory_full_info().pss
        except psutil.Error:
            continue
    return total


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_data_are_in_memory_once(strategy):
    peak, dataset_mib = peak_training_pss(strategy, BIG)
    baseline, _ = peak_training_pss(strategy, TINY)
    added = peak - baseline
    REPORT[strategy] = {
        "dataset_MiB": dataset_mib, "peak_PSS_MiB": peak, "baseline_PSS_MiB": baseline,
        "data_added_MiB": added, "peak_over_dataset": peak / dataset_mib,
    }  # fmt: skip
    print(
        f"\n{strategy}: peak PSS {peak:.0f} MiB for a {dataset_mib:.0f} MiB dataset "
        f"({peak / dataset_mib:.2f}x); same run on tiny data {baseline:.0f} MiB; "
        f"the data added {added:.0f} MiB ({added / dataset_mib:.2f}x)"
    )
    # One copy of the data (plus slack), never one per worker or per task.
    assert added < ADDED_BOUND * dataset_mib


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["multiprocessing", "incremental"])
def test_a_cross_validated_run_keeps_the_data_once_and_gathers_one_fold_per_worker(strategy):
    """Folds are index arrays into the one shared training split. A fit gathers its fold's
    rows (``X[train]``, as GridSearchCV does; a forest cannot fit on a view of scattered rows),
    and that copy lives for the fit: at most one gathered fold per busy worker, never a copy
    of the data per task or per fold. With 2 folds a fold is half the training split (80% of
    the data), so 2 workers may add 2 x 0.4 datasets above the one shared copy."""
    folds = ("--cv", "2")
    peak, dataset_mib = peak_training_pss(strategy, BIG, *folds)
    baseline, _ = peak_training_pss(strategy, TINY, *folds)
    added = peak - baseline
    gathered = 2 * 0.8 / 2  # workers x training fraction / folds
    print(
        f"\n{strategy} --cv 2: peak PSS {peak:.0f} MiB for a {dataset_mib:.0f} MiB dataset; "
        f"the data added {added:.0f} MiB ({added / dataset_mib:.2f}x; bound "
        f"{ADDED_BOUND + gathered:.2f}x)"
    )
    assert added < (ADDED_BOUND + gathered) * dataset_mib
