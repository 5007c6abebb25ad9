"""Per task: one configuration trained by each strategy on a warm pool (dispatch included)."""

import pytest

from benchmarks import common


@pytest.mark.parametrize("dataset", common.DATASETS)
@pytest.mark.parametrize("n_estimators", common.ESTIMATORS)
@pytest.mark.parametrize("strategy", common.STRATEGIES)
def test_train(benchmark, bench_suite, strategy, n_estimators, dataset):
    common.bench_train(benchmark, bench_suite, strategy, n_estimators, dataset)
