"""Cross-validated grids: n_estimators 10/50 x max_depth none/8 on 3 folds, per strategy.

``gridsearchcv`` (scikit-learn's GridSearchCV with n_jobs=workers) is the reference users pick;
each benchmark records its speedup against sequential and against it, measured in this session.
"""

import pytest

from benchmarks import common


@pytest.mark.parametrize("dataset", common.DATASETS)
@pytest.mark.parametrize("strategy", common.SEARCH_STRATEGIES)  # the references first
def test_search(benchmark, bench_suite, strategy, dataset):
    common.bench_search(benchmark, bench_suite, strategy, dataset)
