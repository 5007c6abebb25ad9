"""The balanced strategy: joined forests predict exactly what one fit predicts; the planner."""

from __future__ import annotations

import numpy as np
import pytest

import mlcpu.strategies as registry
from mlcpu.errors import InputError
from mlcpu.plans import piece_costs
from mlcpu.plans.schedule import Costs, cut, finish_time, plan
from mlcpu.records.config import TaskConfig, make_configs
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, worker_children


@pytest.fixture(scope="module")
def balanced():
    with registry.create("balanced", workers=2) as started:
        yield started
    assert worker_children() == []


def normal_fit(config, dataset, seed):
    return config.build(random_state=seed).fit(dataset.X_train, dataset.y_train)


@pytest.mark.parametrize("model", ["random_forest", "extra_trees"])
@pytest.mark.parametrize("piece_size", [None, 4])
def test_joined_forests_predict_exactly_what_one_fit_predicts(synthetic_small, model, piece_size):
    configs = make_configs([7, 23, 1], model=model, params={"max_depth": 8})
    workload = Workload(synthetic_small, configs, seed=5)
    with registry.create("balanced", workers=2, piece_size=piece_size) as strategy:
        results = strategy.run(workload, keep_estimators=True)
        schedule = strategy.result_extra()["schedule"]
    X = synthetic_small.X_test
    for config, result in zip(configs, results, strict=True):
        forest, whole = result.estimator, normal_fit(config, synthetic_small, 5)
        assert type(forest) is type(whole)
        assert forest.n_estimators == len(forest.estimators_) == config.n_estimators
        assert np.array_equal(forest.predict_proba(X), whole.predict_proba(X))
        assert np.array_equal(forest.predict(X), whole.predict(X))
        assert result.accuracy == whole.score(X, synthetic_small.y_test)
    if piece_size == 4:
        assert [r.extra["pieces"] for r in results] == [2, 6, 1]
        assert schedule["pieces"] == 9


def test_each_configuration_reports_its_pieces_cores_and_processes(balanced, iris):
    workload = Workload(iris, make_configs([40, 10, 25]), seed=2)
    for run in ("probe", "measured in the previous run"):
        results = balanced.run(workload)
        for result in results:
            assert result.extra["pieces"] >= 1
            assert result.pid in result.extra["pids"]
            assert result.cpu in result.extra["cpus"]
            assert result.end_s - result.start_s == pytest.approx(result.seconds)
        schedule = balanced.result_extra()["schedule"]
        assert schedule["costs_from"] == run
        assert schedule["per_tree_s"] > 0
        assert schedule["score_per_tree_s"] > 0
        probed = run == "probe"
        assert (schedule["probe_s"] > 0) is probed
        # The probe's tree, trained in this process, is the largest forest's first piece.
        assert sum(r.extra["pieces"] for r in results) == schedule["pieces"] + probed


def test_on_tiny_data_the_probe_times_a_second_tree_and_keeps_both(balanced, iris, monkeypatch):
    """Iris's first fit is mostly the process's first-touch costs (3.7-20 ms where a tree of a
    large forest takes 0.7 ms), so the probe times the second tree alone; both trees are the
    largest forest's first piece, and the joined forest is still exactly one fit's. The
    threshold is raised so that a busy machine's slow first fit cannot decide the branch."""
    monkeypatch.setattr(piece_costs, "FIRST_TOUCH_S", 60.0)
    configs = make_configs([30, 12])
    workload = Workload(iris, configs, seed=4)
    planner = balanced.planner
    firsts, schedule, costs = planner.prepare(workload)
    assert list(firsts) == [0]  # the largest forest
    assert firsts[0].extra["trees"] == [0, 2]
    assert len(firsts[0].estimator.estimators_) == 2
    assert schedule is not None
    assert costs is not None
    assert sum(p.trees for p in schedule.pieces if p.config == 0) == 28
    assert min(p.start for p in schedule.pieces if p.config == 0) == 2
    # a piece's fixed cost is a round trip plus a fit's own fixed cost, measured here
    assert planner.per_piece_s > planner.fit_overhead_s > 0
    results = balanced.run(workload, keep_estimators=True)
    for config, result in zip(configs, results, strict=True):
        whole = normal_fit(config, iris, 4)
        assert np.array_equal(
            result.estimator.predict_proba(iris.X_test), whole.predict_proba(iris.X_test)
        )


def test_models_that_cannot_be_cut_are_trained_whole_on_the_pool(balanced, iris):
    configs = make_configs([10, 20], model=FAULTY + "raise_error")  # fails only at 100 trees
    workload = Workload(iris, configs, seed=0)
    with registry.create("sequential") as sequential:
        expected = [r.accuracy for r in sequential.run(workload)]
    results = balanced.run(workload)
    assert [r.accuracy for r in results] == expected
    assert [r.extra["pieces"] for r in results] == [1, 1]  # trained whole, not cut


def test_a_mix_of_cut_and_whole_configurations_keeps_workload_order(balanced, iris):
    configs = (TaskConfig(30), TaskConfig(40, params=(("oob_score", True),)), TaskConfig(12))
    workload = Workload(iris, configs, seed=1)
    results = balanced.run(workload)
    assert [r.n_estimators for r in results] == [30, 40, 12]
    for config, result in zip(configs, results, strict=True):
        whole = normal_fit(config, iris, 1)
        assert result.accuracy == whole.score(iris.X_test, iris.y_test)


@pytest.mark.parametrize("size", [0, -2, 1.5, True])
def test_piece_size_must_be_a_positive_integer(size):
    with pytest.raises(InputError, match=r"piece size must be a positive integer or None, got"):
        registry.create("balanced", piece_size=size)


# -- the planner ------------------------------------------------------------------------------
TUTORIAL = [200, 100, 50, 10]


def covered(pieces, ranges):
    trees = {i: [] for i in range(len(ranges))}
    for piece in pieces:
        trees[piece.config].extend(range(piece.start, piece.stop))
    return all(sorted(trees[i]) == list(range(a, b)) for i, (a, b) in enumerate(ranges))


def test_cheap_trees_stay_whole_forests_largest_first():
    # iris-like: the fixed cost of a piece is many trees' worth of work.
    costs = Costs(per_tree_s=0.001, per_piece_s=0.05)
    ranges = [(0, n) for n in [10, 50, 100, 200]]
    chosen = plan(ranges, [10, 50, 100, 200], 2, costs)
    assert [(p.config, p.start, p.stop) for p in chosen.pieces] == [
        (3, 0, 200),
        (2, 0, 100),
        (1, 0, 50),
        (0, 0, 10),
    ]


def test_expensive_trees_are_cut_until_workers_finish_together():
    costs = Costs(per_tree_s=0.025, per_piece_s=0.003)  # synthetic-like
    ranges = [(0, n) for n in TUTORIAL]
    chosen = plan(ranges, TUTORIAL, 2, costs)
    assert covered(chosen.pieces, ranges)
    ideal = (sum(TUTORIAL) * costs.per_tree_s) / 2
    whole = finish_time(plan(ranges, TUTORIAL, 1, costs).pieces, 2, costs)
    assert chosen.predicted_s < whole
    assert chosen.predicted_s <= ideal * 1.02
    sizes = [p.trees for p in chosen.pieces]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_every_tree_is_planned_exactly_once(workers):
    ranges = [(1, 200), (0, 37), (0, 1), (0, 0)]
    chosen = plan(ranges, [200, 37, 1, 5], workers, Costs(0.01, 0.004))
    assert covered(chosen.pieces, ranges)


def test_cut_styles():
    assert cut(0, 10, 4, "fixed") == [(0, 4), (4, 8), (8, 10)]
    assert cut(0, 10, 4, "even") == [(0, 3), (3, 6), (6, 10)]
    assert cut(3, 5, 4, "even") == [(3, 5)]
