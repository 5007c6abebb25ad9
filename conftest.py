"""Options, session fixtures and pytest-benchmark hooks for the benchmark suite (``benchmarks/``).

pytest loads this file for every run from the project root, the README's test command
included, so it only registers things: datasets and pools are built when a benchmark first
asks for them, and nothing heavy is imported until then.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from benchmarks.common import Datasets, Pools, Profile, References, Suite

PROFILE_NAMES = ("quick", "full")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-benchmark loads the baseline to compare with: stop if it is unreadable."""
    if config.pluginmanager.hasplugin("benchmark"):
        from mlcpu.comparing import baselines

        baselines.check_comparison(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    """pytest-benchmark's session exists now: its saves become atomic (on it alone)."""
    if session.config.pluginmanager.hasplugin("benchmark"):
        from mlcpu.comparing import baselines

        baselines.protect(session.config)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlcpu", "mlcpu benchmark suite")
    group.addoption(
        "--mlcpu-profile",
        choices=PROFILE_NAMES,
        default="quick",
        help="benchmark sizes and rounds: quick (default, about 2 minutes on 2 cores) or full "
        "(the tutorial's synthetic size, more rounds)",
    )


@pytest.fixture(scope="session")
def bench_profile(pytestconfig: pytest.Config) -> Profile:
    from benchmarks.common import PROFILES

    return PROFILES[pytestconfig.getoption("mlcpu_profile")]


@pytest.fixture(scope="session")
def bench_datasets(bench_profile: Profile) -> Iterator[Datasets]:
    """Seeded datasets, loaded once and memory-mapped for worker processes once."""
    from benchmarks.common import Datasets

    datasets = Datasets(bench_profile)
    try:
        yield datasets
    finally:
        datasets.close()


@pytest.fixture(scope="session")
def bench_pools() -> Iterator[Pools]:
    """Started strategies (warm pools), one per name, closed when the session ends."""
    from benchmarks.common import Pools

    pools = Pools()
    try:
        yield pools
    finally:
        pools.close()


@pytest.fixture(scope="session")
def bench_references() -> References:
    """Sequential times and accuracies measured in this session."""
    from benchmarks.common import References

    return References()


@pytest.fixture(scope="session")
def bench_suite(
    bench_profile: Profile,
    bench_datasets: Datasets,
    bench_pools: Pools,
    bench_references: References,
) -> Suite:
    """The four above in one object, so each benchmark takes a single fixture."""
    from benchmarks.common import Suite

    return Suite(bench_profile, bench_datasets, bench_pools, bench_references)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    from mlcpu.host.machine import benchmark_facts

    machine_info.update(benchmark_facts())


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    try:
        from benchmarks.common import PROFILES, suite_facts
    except ModuleNotFoundError:  # a suite of the user's own in benchmarks/ (or none)
        return
    output_json["mlcpu"] = suite_facts(PROFILES[config.getoption("mlcpu_profile")])


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_benchmark_group_stats(config: pytest.Config, benchmarks: Any, group_by: str) -> Any:
    """pytest-benchmark's grouping, in natural order (``10 trees`` before ``100 trees``).

    A plain function, not a hook wrapper: ``pytest-benchmark compare`` calls it directly.
    """
    from pytest_benchmark.plugin import pytest_benchmark_group_stats as grouped

    from mlcpu.comparing.compare import natural_key

    return sorted(grouped(config, benchmarks, group_by), key=lambda pair: natural_key(pair[0]))
