"""Result records, ratios, the JSON schema round trip, atomic files and the timer."""

from __future__ import annotations

import json
import os

import pytest

from mlcpu.errors import InputError
from mlcpu.records import atomic, results
from mlcpu.records.config import TaskConfig
from mlcpu.records.results import RunResults, StrategyResult
from mlcpu.records.task import timer
from mlcpu.runner import Runner
from mlcpu.training.fit import current_cpu, train_task


def test_timer_returns_value_and_wall_seconds():
    @timer
    def work(n):
        return sum(range(n))

    timed = work(100_000)
    assert timed.value == sum(range(100_000))
    assert timed.seconds > 0


def test_train_task_record(iris):
    record = train_task(3, TaskConfig(20), iris, seed=0)
    assert record.index == 3
    assert record.n_estimators == 20
    assert 0.8 < record.accuracy <= 1.0
    assert record.pid == os.getpid()
    assert record.ended - record.started == pytest.approx(record.seconds)
    assert record.cpu in range(os.cpu_count() or 1)


def test_current_cpu_is_a_valid_core():
    assert current_cpu() in range(os.cpu_count() or 1)


def test_ratios_are_against_sequential_of_the_same_run():
    run = RunResults(machine={}, workload={})
    run.strategies = [
        StrategyResult("sequential", "sequential", 1, runs_s=[4.0, 2.0, 3.0]),
        StrategyResult("joblib", "joblib", 2, startup_s=1.0, runs_s=[2.0]),
    ]
    run.compute_ratios()
    seq, job = run.strategies
    assert seq.elapsed_s == 3.0  # median
    assert job.speedup == 1.5
    assert job.efficiency == 0.75
    assert job.speedup_with_startup == 1.0


def test_no_sequential_means_no_speedup():
    run = RunResults(machine={}, workload={})
    run.strategies = [StrategyResult("joblib", "joblib", 2, runs_s=[2.0])]
    assert run.to_dict()["strategies"][0]["speedup"] is None


def test_json_round_trip(iris_workload, tmp_path):
    produced = Runner(iris_workload, ["sequential", "threads"], repeat=2).run()
    path = atomic.write_json(tmp_path / "r.json", produced.to_dict())
    loaded = results.load(str(path))
    assert [s.name for s in loaded.strategies] == ["sequential", "threads"]
    assert loaded.strategies[1].runs_s == produced.strategies[1].runs_s
    assert [t.accuracy for t in loaded.strategies[1].tasks] == [
        t.accuracy for t in produced.strategies[1].tasks
    ]
    assert loaded.to_dict()["strategies"] == json.loads(path.read_text())["strategies"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"does not exist"),
        ('{"schema": "mlcpu.run/1", "strat', r"is not valid JSON \(truncated or corrupt\?\)"),
        ('{"benchmarks": []}', r"is not an mlcpu run results file"),
    ],
)
def test_loading_a_bad_results_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        results.load(str(path))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "r.json"
    atomic.write_json(path, {"good": True})

    class Unserializable:
        pass

    with pytest.raises(TypeError):
        atomic.write_json(path, {"bad": Unserializable()})
    assert json.loads(path.read_text()) == {"good": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind


def test_atomic_write_replaces_in_one_step(tmp_path):
    path = tmp_path / "r.json"
    atomic.write_text(path, "old")
    before = path.stat().st_ino
    atomic.write_text(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_ino != before  # a rename, not an in-place rewrite
