"""Pool start-up: first result of a one-tree task with a new pool each round, or a warm one."""

import pytest

from benchmarks import common


@pytest.mark.parametrize("strategy", common.STRATEGIES)
@pytest.mark.parametrize("mode", common.STARTUP_MODES)
def test_startup(benchmark, bench_suite, mode, strategy):
    common.bench_startup(benchmark, bench_suite, mode, strategy)
