"""The incremental strategy: each configuration is exactly what a from-scratch fit gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mlcpu.strategies as registry
from mlcpu.data.datasets import load_dataset
from mlcpu.engines.failures import failure_result
from mlcpu.errors import InputError, TaskFailedError
from mlcpu.plans.prefixes import (
    PrefixChunkJob,
    _GroupScore,
    execute_prefix_chunk,
    plan_sweep,
)
from mlcpu.records.config import TaskConfig, make_configs
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, run_cli, worker_children

SIZES = [25, 3, 10, 40]


@pytest.fixture(scope="module")
def incremental():
    with registry.create("incremental", workers=2, chunks_per_worker=2) as started:
        yield started
    assert worker_children() == []


@pytest.fixture(scope="module")
def wine():
    return load_dataset("wine", seed=5)


def from_scratch(config, dataset, seed):
    return config.build(random_state=seed).fit(dataset.X_train, dataset.y_train)


def assert_same_as_from_scratch(results, workload):
    data = workload.dataset
    for result in results:
        scratch = from_scratch(result.config, data, workload.seed)
        assert result.estimator.n_estimators == result.config.n_estimators
        assert np.array_equal(
            result.estimator.predict_proba(data.X_test), scratch.predict_proba(data.X_test)
        ), result.config.label
        assert result.accuracy == float(np.mean(scratch.predict(data.X_test) == data.y_test))


@pytest.mark.parametrize("model", ["random_forest", "extra_trees"])
@pytest.mark.parametrize("seed", [0, 11, 2024])
@pytest.mark.parametrize("dataset", ["iris", "synthetic_small", "wine"])
@pytest.mark.parametrize("params", [{}, {"max_depth": 3, "min_samples_leaf": 4}])
def test_every_configuration_equals_a_from_scratch_fit(
    incremental, request, dataset, model, seed, params
):
    # Shallow trees with big leaves give fractional probabilities, where the order of the
    # running sum matters; full trees give mostly 0/1 votes.
    workload = Workload(
        request.getfixturevalue(dataset), make_configs(SIZES, model=model, params=params), seed
    )
    results = incremental.run(workload, keep_estimators=True)
    assert [r.n_estimators for r in results] == SIZES
    assert_same_as_from_scratch(results, workload)
    assert [r.extra.get("prefix_of") for r in results] == [40, 40, 40, None]
    assert incremental.result_extra() == {"trees_trained": 40, "trees_requested": 78}


def test_accuracy_without_estimators_matches_sequential(incremental, synthetic_small):
    workload = Workload(synthetic_small, make_configs([30, 7, 64]), seed=4)
    with registry.create("sequential") as sequential:
        reference = sequential.run(workload)
    results = incremental.run(workload)
    assert [r.accuracy for r in results] == [r.accuracy for r in reference]
    assert all(r.estimator is None for r in results)


def test_only_configurations_differing_in_size_alone_are_merged(incremental, iris):
    depth3 = (("max_depth", 3),)
    configs = (
        TaskConfig(10),
        TaskConfig(30),
        TaskConfig(20, params=depth3),
        TaskConfig(40, params=depth3),
        TaskConfig(15, model="extra_trees"),
        TaskConfig(12, model=FAULTY + "raise_error"),  # not a built-in forest: trained whole
    )
    workload = Workload(iris, configs, seed=1)
    results = incremental.run(workload, keep_estimators=True)
    assert [r.extra.get("prefix_of") for r in results] == [30, None, 40, None, None, None]
    assert incremental.result_extra() == {
        "trees_trained": 30 + 40 + 15 + 12,
        "trees_requested": 10 + 30 + 20 + 40 + 15 + 12,
    }
    assert_same_as_from_scratch(results, workload)


def test_results_come_in_workload_order_with_their_own_records(incremental, iris_workload):
    results = incremental.run(iris_workload)
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.config for r in results] == list(iris_workload.configs)
    for record in results:
        assert "trees" not in record.extra  # chunk bookkeeping stays inside the strategy
        assert record.seconds == pytest.approx(record.ended - record.started)


def test_a_failing_forest_names_its_trees_and_keeps_only_configurations(incremental, iris):
    # Bad parameters reach the workers because Strategy.run, unlike Runner, does not validate.
    workload = Workload(iris, make_configs([5, 20], params={"max_depth": -1}), 0)
    with pytest.raises(
        TaskFailedError, match=r"incremental: 20 estimators, max_depth=-1 \(trees"
    ) as info:
        incremental.run(workload)
    assert all(r.config in workload.configs for r in info.value.completed)
    incremental.keep_going = True
    try:
        results = incremental.run(workload)
    finally:
        incremental.keep_going = False
    assert [r.n_estimators for r in results] == [5, 20]
    for record in results:
        assert record.accuracy is None
        assert "of the 20-tree forest failed: " in record.error
        assert "max_depth" in record.error


def test_a_failed_chunk_fails_only_the_sizes_that_need_its_trees(iris):
    configs = make_configs([5, 10, 20, 30])
    plan = plan_sweep(configs, workers=3, chunks_per_worker=1)
    (group,) = plan.groups
    assert group.chunks == [(0, 10), (10, 20), (20, 30)]

    def chunk(number):
        start, stop = group.chunks[number]
        return PrefixChunkJob(number, group.largest, iris, 0, start, stop, keep_trees=True)

    outcomes = {n: execute_prefix_chunk(chunk(n)) for n in (0, 2)}
    failed = failure_result(
        chunk(1), execute_prefix_chunk(PrefixChunkJob(1, group.largest, iris, 0, 5, 99)).failure
    )
    score = _GroupScore(group, iris)
    # Chunks arrive out of order: nothing is ready until the first trees are in.
    assert score.take(2, outcomes[2].result) == []
    assert score.take(1, failed) == []
    ready = score.take(0, outcomes[0].result)
    assert [(r.n_estimators, r.accuracy is not None) for r in ready] == [
        (5, True),
        (10, True),
        (20, False),
        (30, False),
    ]
    scratch = from_scratch(TaskConfig(10), iris, 0)
    assert np.array_equal(
        ready[1].estimator.predict_proba(iris.X_test), scratch.predict_proba(iris.X_test)
    )
    assert ready[2].error.startswith("trees 10-19 of the 30-tree forest failed: ValueError")


def test_chunks_follow_the_workers_and_cover_every_tree():
    plan = plan_sweep(make_configs([10, 50, 100, 200]), workers=2, chunks_per_worker=1)
    assert plan.groups[0].chunks == [(0, 100), (100, 200)]
    plan = plan_sweep(make_configs([3]), workers=4, chunks_per_worker=2)
    assert plan.groups[0].chunks == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("value", [0, -2, 1.5, True])
def test_chunks_per_worker_must_be_a_positive_integer(value):
    with pytest.raises(InputError, match=r"chunks_per_worker must be a positive integer, got"):
        registry.create("incremental", chunks_per_worker=value)


def test_cli_reports_trees_trained_and_requested(tmp_path):
    path = tmp_path / "r.json"
    done = run_cli(
        "run",
        "--dataset",
        "synthetic",
        "--n-samples",
        "600",
        "--n-features",
        "6",
        "--model",
        "extra_trees",
        "--estimators",
        "5,20,10",
        "--strategies",
        "sequential,incremental",
        "--json",
        str(path),
    )
    assert done.returncode == 0, done.stderr
    assert "incremental trained 20 trees where training every configuration from scratch " in (
        done.stdout
    )
    assert "trains 35 (43% less work)" in done.stdout
    sequential, incremental = json.loads(path.read_text())["strategies"]
    assert "trees_trained" not in sequential
    assert (incremental["trees_trained"], incremental["trees_requested"]) == (20, 35)
    assert [t.get("prefix_of") for t in incremental["tasks"]] == [20, None, 20]
    assert [t["accuracy"] for t in incremental["tasks"]] == [
        t["accuracy"] for t in sequential["tasks"]
    ]
