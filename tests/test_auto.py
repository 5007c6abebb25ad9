"""The auto strategy: what it chooses, why it says so, and that either choice is correct."""

from __future__ import annotations

import os

import pytest

import mlcpu.strategies as registry
from mlcpu.records.config import make_configs
from mlcpu.runner import Runner
from mlcpu.training.workload import Workload
from tests.conftest import FAULTY, worker_children


@pytest.fixture(scope="module")
def auto():
    with registry.create("auto", workers=2) as started:
        yield started
    assert worker_children() == []


@pytest.fixture(scope="module")
def sequential():
    with registry.create("sequential") as started:
        yield started


def test_same_accuracy_as_sequential_and_the_choice_is_explained(auto, sequential, iris_workload):
    results = auto.run(iris_workload)
    assert [r.accuracy for r in results] == [r.accuracy for r in sequential.run(iris_workload)]
    choice = auto.result_extra()["choice"]
    assert choice["strategy"] in {"sequential", "balanced", "incremental"}
    assert choice["reason"].startswith(f"chose {choice['strategy']}: ")
    assert set(choice["predicted_s"]) == {
        "sequential",
        "balanced",
        "incremental",
        "incremental_in_process",
    }
    assert choice["engine"] in {"in process", "pool"}
    assert choice["probe_s"] > 0


def test_a_warm_repeat_plans_from_the_first_runs_probe(auto, sequential, iris):
    """Whichever plan auto chose, a second run of the same workload trains no probe tree."""
    workload = Workload(iris, make_configs([10, 50, 100, 200]), seed=0)
    first = auto.run(workload)
    assert auto.result_extra()["choice"]["probe_s"] > 0
    again = auto.run(workload)
    extra = auto.result_extra()
    assert extra["choice"]["probe_s"] == 0
    assert extra["schedule"]["costs_from"] == "measured in the previous run"
    expected = [r.accuracy for r in sequential.run(workload)]
    assert [r.accuracy for r in first] == [r.accuracy for r in again] == expected


def test_work_the_probe_already_did_runs_sequential(auto, iris):
    results = auto.run(Workload(iris, make_configs([1]), seed=0))
    choice = auto.result_extra()["choice"]
    assert choice["strategy"] == "sequential"
    assert "the probe tree was all the work" in choice["reason"]
    assert results[0].accuracy is not None


def test_one_worker_runs_sequential(iris_workload, sequential):
    with registry.create("auto", workers=1) as one:
        results = one.run(iris_workload)
        choice = one.result_extra()["choice"]
    assert choice["strategy"] == "sequential"
    assert "one worker" in choice["reason"]
    assert [r.accuracy for r in results] == [r.accuracy for r in sequential.run(iris_workload)]


@pytest.mark.parametrize(
    ("sequential_s", "pool_s", "expected"),
    [(1.0, 0.6, "balanced"), (0.01, 0.02, "sequential"), (0.02, 0.017, "sequential")],
)
def test_the_pool_must_be_predicted_clearly_faster(
    auto, iris_workload, sequential_s, pool_s, expected
):
    parallel = auto._decide(iris_workload, sequential_s, pool_s, pieces=4)
    assert parallel == (expected == "balanced")
    assert auto._choice["strategy"] == expected
    assert f"vs {sequential_s:.3g} s sequential" in auto._choice["reason"]


def test_models_that_cannot_be_probed_spread_whole_configurations(auto, iris):
    workload = Workload(iris, make_configs([10, 20], model=FAULTY + "raise_error"), seed=0)
    results = auto.run(workload)
    choice = auto.result_extra()["choice"]
    assert choice["strategy"] == "balanced"
    assert "cannot be cut into trees" in choice["reason"]
    assert all(r.ok for r in results)


def test_the_choice_reaches_the_results_json(iris_workload):
    document = Runner(iris_workload, ["sequential", "auto"], workers=2).run().to_dict()
    record = document["strategies"][1]
    assert record["name"] == "auto"
    assert record["choice"]["strategy"] in {"sequential", "balanced", "incremental"}
    assert record["options"]["candidates"] == ["sequential", "balanced", "incremental"]


@pytest.mark.parametrize(
    ("balanced_s", "incremental_s", "expected"),
    [(0.5, 0.2, "incremental"), (0.3, 0.4, "balanced"), (0.9, 0.95, "sequential")],
)
def test_the_fastest_predicted_plan_is_chosen(
    auto, iris_workload, balanced_s, incremental_s, expected
):
    parallel = auto._decide(iris_workload, 1.0, balanced_s, pieces=4, prefixes_s=incremental_s)
    assert parallel == (expected != "sequential")
    choice = auto._choice
    assert choice["strategy"] == expected
    assert choice["predicted_s"] == {
        "sequential": 1.0,
        "balanced": balanced_s,
        "incremental": incremental_s,
        "incremental_in_process": None,
    }
    assert choice["engine"] == ("in process" if expected == "sequential" else "pool")
    assert "vs 1 s sequential" in choice["reason"]


@pytest.mark.parametrize(("here_s", "engine"), [(0.3, "in process"), (0.5, "pool")])
def test_prefixes_here_compete_with_the_pools_plans(auto, iris_workload, here_s, engine):
    """Fewer trees pay without a pool: prefixes trained here win where predicted fastest."""
    parallel = auto._decide(iris_workload, 1.0, 0.6, pieces=4, prefixes_s=0.4, here_s=here_s)
    choice = auto._choice
    assert parallel
    assert (choice["strategy"], choice["engine"]) == ("incremental", engine)
    assert ("incremental in this process" in choice["reason"].split(" vs ")[0]) == (
        engine == "in process"
    )


def test_one_run_leaves_the_pool_to_the_workload_and_repeats_start_it_first():
    with registry.create("auto", workers=2) as once:
        assert not once.engine.started  # one run: the workload decides whether it pays
        assert once.planner.per_piece_s is not None  # planned with an assumed round trip
    others = {p.pid for p in worker_children()}  # the module's warm auto, say
    twice = registry.create("auto", workers=2)
    twice.expected_runs = 2
    with twice:
        assert twice.engine.started
        started = {p.pid for p in worker_children()} - others
        assert len(started) == 2
    assert started.isdisjoint(p.pid for p in worker_children())


def test_the_runner_tells_strategies_how_many_runs_it_will_make(iris_workload):
    runner = Runner(iris_workload, ["sequential", "auto"], workers=2, repeat=2)
    runner.run()
    assert [s.expected_runs for s in runner.strategies] == [2, 2]


def test_prefixes_chosen_here_need_no_pool(iris_workload, sequential, monkeypatch):
    """Whatever the probe measures, the plan auto says it chose is the one that runs."""
    with registry.create("auto", workers=2) as cold:
        decide = cold._decide

        def prefer_here(workload, sequential_s, pool_s, pieces, *, prefixes_s, here_s):
            assert here_s is not None  # sizes of one model share a forest
            return decide(workload, 10.0, 9.0, pieces, prefixes_s=9.0, here_s=1.0)

        monkeypatch.setattr(cold, "_decide", prefer_here)
        results = cold.run(iris_workload)
        extra = cold.result_extra()
        assert extra["choice"]["engine"] == "in process"
        assert extra["choice"]["pool_start_s"] > 0  # the cold pool's cost was counted
        assert not cold.engine.started
    assert extra["trees_trained"] == 30 < extra["trees_requested"] == 65
    assert {r.pid for r in results} == {os.getpid()}
    assert [r.accuracy for r in results] == [r.accuracy for r in sequential.run(iris_workload)]


def test_a_caller_that_runs_again_is_not_charged_the_pools_start_up_again(iris_workload):
    """A loop or a benchmark runs auto many times: from its second run the pool is warm-worthy."""
    with registry.create("auto", workers=2) as looped:
        looped.run(iris_workload)
        first = looped.result_extra()["choice"]
        looped.run(iris_workload)
        second = looped.result_extra()["choice"]
    assert first["pool_start_s"] == pytest.approx(0.12)  # counted, whichever plan won
    assert second["pool_start_s"] == 0.0


def test_sizes_that_share_a_forest_run_as_prefixes_when_predicted_fastest(auto, sequential):
    """The tutorial sweep on digits: prefixes train 200 trees instead of 360; whatever auto
    picks, it says so, and the forests are the sequential ones."""
    from mlcpu.data.datasets import load_dataset
    from mlcpu.records.config import make_configs
    from mlcpu.training.workload import Workload

    workload = Workload(load_dataset("digits", seed=0), make_configs([10, 50, 100, 200]), 0)
    results = auto.run(workload)
    choice = auto.result_extra()["choice"]
    predicted = choice["predicted_s"]
    assert predicted["incremental"] is not None
    fastest = min(("balanced", "incremental"), key=lambda name: predicted[name])
    assert choice["strategy"] in {"sequential", fastest}, choice
    if choice["strategy"] == "incremental":
        assert auto.result_extra()["trees_trained"] == 200
    assert [r.accuracy for r in results] == [r.accuracy for r in sequential.run(workload)]
