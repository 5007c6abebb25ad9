"""The measured ceiling: how it is measured, when it is skipped, and of_ceiling in the results."""

from __future__ import annotations

import json

import pytest

from mlcpu import ceiling, results
from mlcpu.runner import Runner
from mlcpu.workload import Workload, make_configs
from tests.conftest import FAULTY, run_cli, worker_children


def test_measures_the_same_unit_alone_and_on_every_worker(iris_workload):
    measured = ceiling.measure(iris_workload, workers=2, target_s=0.03)
    assert worker_children() == []
    assert measured.skipped is None
    assert len(measured.alone_s) == len(measured.together_s) == ceiling.ROUNDS
    assert measured.ratio == pytest.approx(2 * min(measured.alone_s) / min(measured.together_s))
    assert 2 <= measured.trees <= ceiling.MAX_TREES
    assert measured.unit == f"a {measured.trees}-tree random_forest on iris"
    assert measured.seconds >= sum(measured.alone_s)
    assert measured.for_workers(1) == 1.0
    assert measured.for_workers(2) == measured.ratio
    assert measured.for_workers(3) is None


def test_one_worker_needs_no_measurement(iris_workload):
    assert ceiling.measure(iris_workload, workers=1).ratio == 1.0


def test_a_custom_model_is_not_run_outside_its_tasks(iris):
    workload = Workload(iris, make_configs([5], model=FAULTY + "kill"), seed=0)
    measured = ceiling.measure(workload, workers=2)
    assert measured.ratio is None
    assert "custom model" in measured.skipped


@pytest.mark.parametrize(
    ("strategies", "options", "reason"),
    [
        (["sequential"], {}, "no parallel strategy in this run"),
        (["threads"], {}, "no sequential baseline"),
        (["sequential", "threads"], {"ceiling": False}, "not asked for"),
    ],
)
def test_skipped_when_it_could_not_be_related_to_a_speedup(
    iris_workload, strategies, options, reason
):
    produced = Runner(iris_workload, strategies, workers=2, **options).run()
    assert produced.ceiling.ratio is None
    assert reason in produced.ceiling.skipped
    assert all(s.of_ceiling is None or s.workers == 1 for s in produced.strategies)


def test_run_json_has_the_ceiling_and_each_strategy_of_ceiling(tmp_path):
    path = tmp_path / "run.json"
    done = run_cli(
        "run", "--strategies", "sequential,threads", "--estimators", "5,20", "--json", str(path)
    )
    assert done.returncode == 0, done.stderr
    assert "of ceiling" in done.stdout
    assert "ceiling: " in done.stdout
    document = json.loads(path.read_text())
    measured = document["ceiling"]
    assert measured["workers"] == 2
    assert measured["ratio"] > 0
    assert "alone" in measured["method"]
    for record in document["strategies"]:
        limit = 1.0 if record["workers"] == 1 else measured["ratio"]
        assert record["of_ceiling"] == pytest.approx(record["speedup"] / limit)
    loaded = results.load(str(path))
    assert loaded.ceiling.ratio == measured["ratio"]
    assert "ceiling" not in loaded.extra


def test_no_ceiling_option_skips_it(tmp_path):
    path = tmp_path / "run.json"
    done = run_cli(
        "run", "--strategies", "sequential,threads", "--estimators", "5", "--no-ceiling",
        "--json", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(path.read_text())
    assert document["ceiling"]["ratio"] is None
    assert document["strategies"][1]["of_ceiling"] is None
