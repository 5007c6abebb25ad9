"""Two small benchmarks that ``tests/test_compare.py`` saves with pytest-benchmark.

Not collected by the README's test command (the file name does not start with ``test_``); the
tests run it by path. ``MLCPU_GATE_TREES`` substitutes a heavier configuration and
``MLCPU_GATE_MAX_DEPTH`` a less accurate one under the same benchmark names, as a code change
would.
"""

import os

import pytest

from benchmarks import common
from mlcpu.records.config import make_configs
from mlcpu.training.workload import Workload

TREES = int(os.environ.get("MLCPU_GATE_TREES", "10"))
DEPTH = os.environ.get("MLCPU_GATE_MAX_DEPTH")
PARAMS = {"max_depth": int(DEPTH)} if DEPTH else {}
# 15 rounds: a one-sided Mann-Whitney test can then reach p ~ 1e-6, so a real slowdown is
# clearly significant while each run stays well under a second.
ROUNDS = 15


@pytest.mark.parametrize("dataset", ["iris"])
@pytest.mark.parametrize("strategy", ["sequential", "threads"])
def test_gate(benchmark, bench_suite, strategy, dataset):
    data = bench_suite.datasets.get(dataset)
    pool = bench_suite.pools.get(strategy)
    work = Workload(data, make_configs([TREES], params=PARAMS), seed=common.SEED)
    recorder = common.Recorder(work)
    benchmark.group = f"gate: {dataset}"
    results = benchmark.pedantic(recorder, args=(pool,), rounds=ROUNDS, warmup_rounds=1)
    benchmark.extra_info.update(
        accuracy=results[0].accuracy, **common.task_facts(pool, data, recorder.tasks)
    )
