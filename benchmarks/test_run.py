"""Whole runs: every configuration (10, 50, 100, 200 trees) per strategy, with speedup."""

import pytest

from benchmarks import common


@pytest.mark.parametrize("dataset", common.DATASETS)
@pytest.mark.parametrize("strategy", common.STRATEGIES)  # sequential first: the reference
def test_run(benchmark, bench_suite, strategy, dataset):
    common.bench_run(benchmark, bench_suite, strategy, dataset)
